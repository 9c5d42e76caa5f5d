"""``xfer analyze`` and ``xfer score``: thin CLI over :mod:`xfer.analysis`."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from xfer.errors import InputError

SettingsFile = Annotated[
    Path | None,
    typer.Option("--settings", help="TOML/JSON with analysis settings (an [analysis] table)"),
]
FullLength = Annotated[
    float | None, typer.Option("--full-length-ps", help="full run length; shorter = unstable")
]
Equilibration = Annotated[
    float | None, typer.Option("--equilibration-ps", help="discarded at the start")
]
Block = Annotated[float | None, typer.Option("--block-ps", help="MSD block length")]
Spacing = Annotated[float | None, typer.Option("--block-spacing-ps", help="block start spacing")]
Ballistic = Annotated[
    float | None, typer.Option("--ballistic-ps", help="dropped at the start of each block")
]


def _settings(path, full, eq, block, spacing, ballistic):
    from xfer.analysis.settings import load_settings

    return load_settings(
        path,
        full_length_ps=full,
        equilibration_ps=eq,
        block_ps=block,
        block_spacing_ps=spacing,
        ballistic_ps=ballistic,
    )


def _fmt(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def analyze(
    run_dirs: Annotated[list[Path], typer.Argument(help="run directories written by xfer md")],
    settings: SettingsFile = None,
    full_length_ps: FullLength = None,
    equilibration_ps: Equilibration = None,
    block_ps: Block = None,
    block_spacing_ps: Spacing = None,
    ballistic_ps: Ballistic = None,
) -> None:
    """Analyze runs: stability, density distribution (NPT), COM diffusivity (NVT).

    Writes analysis.json, CSV numbers and PNG figures into each run directory, and for a
    halted run its triage into ``halt/`` (halt.json, halt_frames.extxyz, halt.png).
    """
    from xfer.analysis.pipeline import analyze_run, write_run_outputs

    cfg = _settings(
        settings, full_length_ps, equilibration_ps, block_ps, block_spacing_ps, ballistic_ps
    )
    console = Console()
    for run_dir in run_dirs:
        result = analyze_run(run_dir, cfg)
        write_run_outputs(run_dir, result)
        stab = result.stability
        line = f"{run_dir}: {result.ensemble.upper()} t_stab {stab.t_stab_ps:g} ps"
        line += " stable" if stab.stable else f" unstable ({stab.reason})"
        if result.density is not None:
            d = result.density
            line += (
                f"; density {_fmt(d.mean, '.4f')} ± {_fmt(d.sem, '.4f')} g/cm3"
                if d.reason is None
                else f"; density n/a ({d.reason})"
            )
        if result.diffusion is not None:
            d = result.diffusion
            line += (
                f"; D {_fmt(d.D_cm2_s, '.3e')} ± {_fmt(d.sem_cm2_s, '.1e')} cm2/s "
                f"({d.n_blocks} blocks)"
                if d.reason is None
                else f"; D n/a ({d.reason})"
            )
        if stab.halted:
            line += "; " + _triage(run_dir)
        console.print(line, highlight=False, soft_wrap=True)


def _triage(run_dir: Path) -> str:
    """Halt triage into ``run_dir/halt`` (halt.json, last frames, picture); what it found."""
    from xfer.analysis.triage_files import HALT_FILE, write_halt_triage

    try:
        halt = write_halt_triage(run_dir, run_dir / "halt")
    except InputError as exc:  # the analysis above stands without a triage
        return f"halt not triaged: {exc}"
    return f"halt: {halt.mode} (halt/{HALT_FILE})"


def _expand(patterns: list[str], what: str) -> list[Path]:
    """Directories from repeated options, comma-separated lists and (quoted) globs."""
    out: list[Path] = []
    for item in (p.strip() for pattern in patterns for p in pattern.split(",")):
        if not item:
            continue
        matches = [item]
        if glob.has_magic(item):  # a glob keeps only directories
            matches = sorted(m for m in glob.glob(item) if Path(m).is_dir())
        if not matches:
            raise InputError(f"{what} pattern {item!r} matches nothing")
        out += [Path(m) for m in matches]
    if not out:
        raise InputError(f"no {what} given")
    return out


def score(
    runs: Annotated[
        list[str],
        typer.Option(
            "--runs",
            help="model directories (each holding an NPT and an NVT run directory); "
            "repeat, comma-separate or quote a glob",
        ),
    ],
    reference: Annotated[
        list[str],
        typer.Option("--reference", help="model directories of the reference committee"),
    ],
    out: Annotated[Path, typer.Option("--out", help="directory for score.json/CSV/PNG")] = Path(
        "score"
    ),
    settings: SettingsFile = None,
    full_length_ps: FullLength = None,
    equilibration_ps: Equilibration = None,
    block_ps: Block = None,
    block_spacing_ps: Spacing = None,
    ballistic_ps: Ballistic = None,
) -> None:
    """Score models with Q against a reference committee (per model and per committee).

    A model's committee is its parent directory (relative to the common ancestor of all
    model directories). Runs are analyzed first unless a current analysis.json exists.
    """
    from xfer.analysis.pipeline import load_models, write_score_outputs
    from xfer.analysis.quality import build_reference, score_models

    cfg = _settings(
        settings, full_length_ps, equilibration_ps, block_ps, block_spacing_ps, ballistic_ps
    )
    ref = build_reference(load_models(_expand(reference, "reference"), cfg), cfg)
    models = load_models(_expand(runs, "runs"), cfg)
    report = score_models(models, ref, cfg)
    write_score_outputs(out, report, models)
    console = Console()
    for note in ref.reasons:
        console.print(f"reference: {note}", highlight=False)
    for group, c in report.committees.items():
        q = c.Q
        console.print(
            f"{group}: Q = {_fmt(q.mean, '.3f')} ± {_fmt(q.sem, '.3f')} over {q.n} model(s)"
            + (f"; excluded {', '.join(c.excluded_from_Q)}" if c.excluded_from_Q else ""),
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"wrote {out}/score.json", highlight=False)
