"""``xfer bench``: MD throughput of each backend's pair style over box sizes and ranks,
side by side with xfer md, ASE MD and the raw model evaluation (see xfer.workflow.bench)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from xfer.errors import InputError, validation_message


def _ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{flag} expects comma-separated integers, got {text!r}") from None
    if not values:
        raise InputError(f"{flag} is empty")
    return values


def _models(items: list[str]) -> dict[str, Path]:
    models = {}
    for item in items:
        arch, sep, path = item.partition("=")
        if not sep or not path:
            raise InputError(
                f"--model expects ARCH=PATH (e.g. mace=models/mace/Full/seed0), got {item!r}"
            )
        models[arch.strip()] = Path(path)
    return models


def bench(
    arch: Annotated[
        list[str] | None, typer.Option("--arch", help="mace, deepmd or gap (repeatable; all)")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="ARCH=PATH model to use (default: the cached tiny preset)"),
    ] = None,
    sizes: Annotated[str, typer.Option(help="atoms, multiples of 160")] = "160,640,2560,10240",
    ranks: Annotated[str, typer.Option(help="MPI rank counts for the pair style")] = "1,2",
    steps: Annotated[int, typer.Option(help="MD steps per timed run")] = 100,
    python_steps: Annotated[
        int, typer.Option("--python-steps", help="ASE MD steps and raw evaluations per size")
    ] = 10,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto")] = "auto",
    out: Annotated[Path, typer.Option(help="results directory")] = Path("benchmarks/results"),
    cache: Annotated[
        Path | None, typer.Option(help="tiny-model cache (default ~/.cache/xfer)")
    ] = None,
    max_run_s: Annotated[
        float, typer.Option("--max-run-s", help="skip (estimated) or stop runs beyond this")
    ] = 300.0,
) -> None:
    """Throughput ladder: write OUT/throughput.json, throughput.csv and throughput.png."""
    from xfer.workflow.bench import BenchSettings, run_bench

    models = _models(model or [])
    archs = arch or sorted({"mace", "deepmd", "gap"} | set(models), key="mace deepmd gap".find)
    try:
        settings = BenchSettings(
            archs=archs, models=models, sizes=_ints(sizes, "--sizes"),
            ranks=_ints(ranks, "--ranks"), steps=steps, python_steps=python_steps,
            device=device, out=out, cache=cache, max_run_s=max_run_s,
        )  # fmt: skip
    except ValidationError as exc:
        raise InputError(validation_message(exc, "bench")) from None
    unknown = sorted(set(models) - set(settings.archs))
    if unknown:
        raise InputError(f"--model for {', '.join(unknown)}, which --arch does not include")
    result = run_bench(settings, say=lambda text: typer.echo(text, err=True))
    typer.echo(f"{out / 'throughput.json'}: {len(result['records'])} records")
