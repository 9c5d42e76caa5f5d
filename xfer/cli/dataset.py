"""``xfer dataset``: build (generate + label), recipe (training/validation files), info."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Training sets: build, recipes, info.", no_args_is_help=True)


@app.command()
def build(
    config: Annotated[Path, typer.Argument(help="Dataset build TOML")],
    out: Annotated[Path, typer.Option("--out", help="Dataset directory (resumed if present)")],
    workers: Annotated[
        str | None, typer.Option(help="Labelling processes: a number or 'auto'")
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Label frames that failed before again")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
) -> None:
    """Generate the configured frames, label them with the reference, write OUT/manifest.json."""
    from xfer.data.build import build_dataset
    from xfer.data.config import load_config

    cfg = load_config(config)
    dataset = build_dataset(
        cfg,
        out,
        workers=None if workers is None else (workers if workers == "auto" else _int(workers)),
        retry_failed=True if retry_failed else None,
        progress=progress,
    )
    manifest = dataset.manifest
    console = Console()
    console.print(f"dataset {out}: {manifest['total_frames']} frames", highlight=False)
    for tag, comps in manifest["counts"].items():
        console.print(f"  {tag}: " + ", ".join(f"{c} x{n}" for c, n in comps.items()))
    if manifest["failed"]:
        console.print(f"  [yellow]{len(manifest['failed'])} frames failed labelling[/] "
                      "(see manifest.json 'failed')")  # fmt: skip


def _int(text: str) -> int:
    from xfer.errors import InputError

    try:
        return int(text)
    except ValueError:
        raise InputError(f"--workers must be a number or 'auto', got {text!r}") from None


@app.command()
def recipe(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory")],
    name: Annotated[str, typer.Argument(help="OPLS, OPLS+SM, OPLS+VS, Full, OPLS+EC+EMC, ...")],
    out: Annotated[Path, typer.Option("--out", help="Training extxyz to write")],
    valid: Annotated[
        Path | None, typer.Option(help="Validation extxyz (default: <out stem>-valid<suffix>)")
    ] = None,
    valid_fraction: Annotated[float, typer.Option("--valid-fraction")] = 0.1,
    seed: Annotated[int, typer.Option(help="Split seed")] = 0,
    recipes: Annotated[
        Path | None, typer.Option(help="TOML with user recipes ([recipes.NAME])")
    ] = None,
) -> None:
    """Write the training and validation files of a recipe (+ <out>.json summary)."""
    from xfer.atomic import write_json
    from xfer.data.recipes import apply_recipe, get_recipe, load_recipes
    from xfer.data.store import Dataset, write_frames

    data = Dataset.open(dataset)
    chosen = get_recipe(name, load_recipes(recipes) if recipes else None)
    result = apply_recipe(data.frames(), chosen, valid_fraction, seed)
    valid = valid or out.with_name(f"{out.stem}-valid{out.suffix}")
    write_frames(out, result.train)
    write_frames(valid, result.valid)
    summary = result.summary | {
        "dataset": str(dataset),
        "train_file": str(out),
        "valid_file": str(valid),
        "recipe_definition": json.loads(chosen.model_dump_json()),
    }
    write_json(out.with_name(out.name + ".json"), summary)
    Console().print(
        f"{name}: {len(result.train)} training frames -> {out}, "
        f"{len(result.valid)} validation frames -> {valid}",
        highlight=False,
    )


@app.command()
def info(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory")],
    png: Annotated[
        Path | None, typer.Option(help="Histogram PNG (default: DATASET/histograms.png)")
    ] = None,
) -> None:
    """Counts and energy/force statistics per tag; PNG histograms of E/atom and |F|."""
    from xfer.data.stats import plot_histograms, tag_table
    from xfer.data.store import Dataset

    data = Dataset.open(dataset)
    frames = data.frames()
    rows, relative = tag_table(frames)
    table = Table(title=f"{dataset} ({data.manifest['total_frames']} frames)")
    table.add_column("tag", no_wrap=True)
    table.add_column("n", justify="right")
    table.add_column("atoms", justify="right")
    table.add_column("compositions", min_width=12)
    for col in ("E/N mean", "E/N std", "|F| rms", "|F| max"):
        table.add_column(col, justify="right")
    for r in rows:
        comps = " ".join(r["compositions"][:4]) + (" ..." if len(r["compositions"]) > 4 else "")
        table.add_row(
            r["tag"], str(r["frames"]), str(r["atoms"]), comps,
            *(f"{r[k]:.3f}" for k in ("e_mean", "e_std")),
            *(f"{r[k]:.2f}" for k in ("f_rms", "f_max")),
        )  # fmt: skip
    console = Console()
    console.print(table)
    console.print(
        "E/N: eV/atom" + (" relative to the isolated atoms (e0)" if relative else "")
        + ", forces in eV/A; reference: "
        + ", ".join(data.manifest.get("reference_methods", {})),
        highlight=False,
    )  # fmt: skip
    if data.manifest.get("failed"):
        console.print(f"{len(data.manifest['failed'])} frames failed labelling (manifest 'failed')")
    stale = data.verify()
    if stale:
        console.print(f"[red]files changed since the manifest was written:[/] {', '.join(stale)}")
    target = plot_histograms(frames, png or Path(dataset) / "histograms.png")
    console.print(f"histograms -> {target}", highlight=False)
