"""The ``xfer`` command line: a thin typer layer over the library.

Each verb (group) lives in its own module and is registered here. User errors
(:class:`xfer.errors.XferError`) are printed as one line and exit with code 2.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from xfer.errors import XferError

app = typer.Typer(
    name="xfer",
    help="Build, transfer and validate MLIP training sets with LAMMPS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    """Attach every verb module to the app (imported lazily to keep start-up fast)."""
    from xfer.cli import md

    app.command("md")(md.md)
    from xfer.cli import analyze

    app.command("analyze")(analyze.analyze)
    app.command("analyse", hidden=True)(analyze.analyze)  # the British spelling, as an alias
    app.command("score")(analyze.score)
    from xfer.cli import dataset

    app.add_typer(dataset.app, name="dataset")
    from xfer.cli import train

    app.command("train")(train.train)
    app.command("export")(train.export)
    app.add_typer(train.models_app, name="models")
    from xfer.cli import campaign

    app.add_typer(campaign.app, name="campaign")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning user errors into one-line messages."""
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except XferError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        Console(stderr=True).print("aborted")
        return 130
    except Exception as exc:
        # usage errors of typer's (vendored) click: show its one-line message
        code = getattr(exc, "exit_code", None)
        if callable(getattr(exc, "show", None)) and isinstance(code, int):
            exc.show()
            return code
        raise
    return 0


def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
