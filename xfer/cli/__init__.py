"""The ``xfer`` command line: a thin typer layer over the library.

Each verb (group) lives in its own module and is registered here. :func:`main` is the one
error boundary: user errors (:class:`xfer.errors.XferError`), file-system errors and usage
errors print one ``error:`` line and exit 2; Ctrl-C exits 130 and SIGTERM 143, each with
one line saying what stopped and that the same command resumes. Anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
from functools import cache
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from xfer.errors import XferError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM

app = typer.Typer(
    name="xfer",
    help="Build, transfer and validate MLIP training sets with LAMMPS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _options(
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show third-party warnings (else: in the log)."),
    ] = False,
) -> None:
    """Build, transfer and validate MLIP training sets with LAMMPS."""
    from xfer.cli import logs

    logs.configure(verbose or bool(os.environ.get("XFER_VERBOSE")))


@cache
def _register() -> None:
    """Attach every verb module to the app, once (imported lazily to keep start-up fast)."""
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
    from xfer.cli import diagnose

    app.add_typer(diagnose.app, name="diagnose")
    from xfer.cli import bench

    app.command("bench")(bench.bench)
    from xfer.cli import lmp

    passthrough = {"allow_extra_args": True, "ignore_unknown_options": True}
    app.command("lmp", context_settings=passthrough)(lmp.lmp)
    app.command("env")(lmp.env)


class _Signals:
    """SIGTERM raises KeyboardInterrupt too (so every clean-up path runs), remembered here."""

    received: int | None = None

    @classmethod
    def install(cls) -> dict[int, object]:
        """Install the handlers; returns the previous ones (see :meth:`restore`)."""
        cls.received = None
        if threading.current_thread() is not threading.main_thread():
            return {}  # only the main thread may set handlers (main() called from a thread)
        return {sig: signal.signal(sig, cls._handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    @staticmethod
    def restore(previous: dict[int, object]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    @classmethod
    def _handler(cls, signum: int, frame: object) -> None:
        cls.received = signum
        raise KeyboardInterrupt


def _error(message: str) -> None:
    """Print ``error: message`` as one line (library messages may span several)."""
    message = "; ".join(line.strip() for line in message.splitlines() if line.strip())
    Console(stderr=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True
    )


def _os_error(exc: OSError) -> str:
    """``path: reason`` (and the second path of a rename or copy) of a file-system error."""
    reason = exc.strerror or str(exc)
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason


def _interrupted(argv: list[str]) -> int:
    """The one line after Ctrl-C or SIGTERM, and the exit code."""
    command = shlex.join(["xfer", *argv])
    if _Signals.received == signal.SIGTERM:
        what, code = "terminated (SIGTERM)", EXIT_TERMINATED
    else:
        what, code = "interrupted (Ctrl-C)", EXIT_INTERRUPTED
    Console(stderr=True).print(
        f"{what}: {command}; finished work is kept, run the same command again to resume",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI behind the error boundary; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    _register()
    previous = _Signals.install()
    try:
        return _run(argv)
    finally:
        _Signals.restore(previous)


def _run(argv: list[str]) -> int:
    """The boundary itself: every way a command can end, as an exit code."""
    try:
        code = app(args=argv, prog_name="xfer", standalone_mode=False)
    except KeyboardInterrupt:  # outside the command (typer turns it into exit code 130)
        return _interrupted(argv)
    except XferError as exc:
        _error(str(exc))
        return EXIT_USER_ERROR
    except OSError as exc:
        _error(_os_error(exc))
        return EXIT_USER_ERROR
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return _interrupted(argv)
    except Exception as exc:
        return _usage_error(exc)
    if code == EXIT_INTERRUPTED:
        return _interrupted(argv)
    return code if isinstance(code, int) else 0


def _usage_error(exc: Exception) -> int:
    """Usage errors of typer's (vendored) click as one line; anything else is a bug."""
    code = getattr(exc, "exit_code", None)
    if not (callable(getattr(exc, "format_message", None)) and isinstance(code, int)):
        raise exc
    if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: show its help
        exc.show()  # type: ignore[attr-defined]
        return code
    ctx = getattr(exc, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    _error(f"{exc.format_message()}{hint}")  # type: ignore[attr-defined]
    return code


def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
