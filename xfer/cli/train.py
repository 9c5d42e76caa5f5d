"""``xfer train``, ``xfer export`` and ``xfer models list``: committees in a models root."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from xfer.backends.base import available_backends, preset_names
from xfer.cli.options import D3FunctionalOption, DispersionOption
from xfer.errors import InputError

models_app = typer.Typer(help="Inspect trained models.", no_args_is_help=True)
ERROR_KEYS = ("energy_rmse_meV_per_atom", "force_rmse_meV_per_A")


def _hyper(preset: str, hyper_file: Path | None, arch: str, overrides: list[str]) -> dict[str, Any]:
    """Preset + ``[<arch>]`` table of a TOML file (or the whole file) + ``key=value`` overrides."""
    hyper: dict[str, Any] = {"preset": preset}
    if hyper_file is not None:
        try:
            table = tomllib.loads(Path(hyper_file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"cannot read hyperparameters from {hyper_file}: {exc}") from None
        per_arch = set(table) & set(available_backends())
        hyper.update(table.get(arch, {}) if per_arch else table)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set expects key=value, got {item!r}")
        try:
            hyper[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            hyper[key.strip()] = value.strip()  # a bare word is a string
    return hyper


def train(
    arch: Annotated[str, typer.Option("--arch", help=f"one of {', '.join(available_backends())}")],
    recipe: Annotated[str, typer.Option("--recipe", help="name of the training recipe")],
    train_file: Annotated[Path, typer.Option("--train", help="training extxyz (REF_* labels)")],
    valid_file: Annotated[
        Path | None, typer.Option("--valid", help="validation extxyz (default: training set)")
    ] = None,
    seeds: Annotated[str, typer.Option("--seeds", help="e.g. 0-4 or 0,2")] = "0-4",
    preset: Annotated[
        str,
        typer.Option(
            "--preset",
            help="a preset the architecture declares (built in: tiny for CPU, paper for GPU)",
        ),
    ] = "tiny",
    hyper_file: Annotated[
        Path | None, typer.Option("--hyper", help="TOML with hyperparameters ([<arch>] table)")
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="hyperparameter override key=value")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="models root")] = Path("models"),
    force: Annotated[bool, typer.Option("--force", help="retrain seeds already trained")] = False,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=1, help="torch/OpenMP threads (default: the cores)"),
    ] = None,
) -> None:
    """Train a committee (one model per seed) into <out>/<arch>/<recipe>/seed<k>/."""
    from xfer import training
    from xfer.runtime import default_threads, set_threads

    set_threads(threads or default_threads())
    presets = preset_names(arch)
    if presets and preset not in presets:  # a backend without presets takes its own keys
        raise InputError(f"unknown {arch} preset {preset!r}; available: {', '.join(presets)}")
    hyper = _hyper(preset, hyper_file, arch, overrides or [])
    models = training.train(
        arch,
        recipe,
        train_file,
        valid_file,
        training.parse_seeds(seeds),
        hyper,
        out,
        reuse=not force,
    )
    _print_table(models, f"{arch} committee {recipe}")


def export(
    model: Annotated[
        Path, typer.Argument(help="model file (any registered format) or its seed directory")
    ],
    dispersion: DispersionOption = None,
    d3_functional: D3FunctionalOption = None,
) -> None:
    """Export a model for LAMMPS and print its pair-style lines."""
    from xfer import training
    from xfer.lammps.dispersion import parse_dispersion

    d3 = parse_dispersion(dispersion, d3_functional)
    console = Console()
    with console.status(f"exporting {model} for LAMMPS"):
        path, spec = training.export_model(model, d3)
    console.print(f"exported: {path}", highlight=False, soft_wrap=True)
    console.print(f"pair_style {spec.pair_style}", highlight=False, soft_wrap=True)
    console.print(f"pair_coeff {spec.pair_coeff}", highlight=False, soft_wrap=True)
    for line in spec.extra_commands:
        console.print(line, highlight=False, soft_wrap=True)
    if spec.plugin:
        console.print(f"plugin: {spec.plugin}", highlight=False)


@models_app.command("list")
def list_models(
    root: Annotated[
        Path, typer.Argument(help="models root (xfer-trained and users' model files) or a file")
    ] = Path("models"),
) -> None:
    """Table of models: arch, recipe, seed, validation errors, path."""
    from xfer import training

    models = training.find_models(root)
    if not models:
        raise InputError(f"no trained models under {root}")
    _print_table(models, f"models under {root}")


def _print_table(models: list, title: str) -> None:
    table = Table(title=title)
    for column in ("arch", "recipe", "seed", "E RMSE meV/atom", "F RMSE meV/A", "path"):
        table.add_column(column, overflow="fold")
    for model in models:
        errors = model.meta.get("validation_errors") or {}
        values = [errors.get(key) for key in ERROR_KEYS]
        table.add_row(
            model.arch,
            str(model.meta.get("recipe", "user" if model.meta.get("source") == "user" else "-")),
            str(model.meta.get("seed", "-")),
            *("-" if v is None else f"{v:.1f}" for v in values),
            str(model.path),
        )
    Console(width=200).print(table)
