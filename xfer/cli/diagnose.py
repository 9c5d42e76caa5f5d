"""``xfer diagnose volume-scan|along``: the study's diagnostics over the Python API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from xfer.errors import InputError

app = typer.Typer(help="Diagnose models: volume scans, errors along a trajectory.",
                  no_args_is_help=True)

ModelOpt = Annotated[
    list[Path], typer.Option("--model", help="Model file or seed dir (repeatable)")
]
ArchOpt = Annotated[
    str | None, typer.Option("--arch", help="Architecture of bare model files (no xfer metadata)")
]
NameOpt = Annotated[
    list[str] | None, typer.Option("--name", help="Name per --model in tables and legends")
]
RefOpt = Annotated[
    str, typer.Option("--reference", help="Reference calculator (tblite, an ASE name, mod:Class)")
]
WorkersOpt = Annotated[int, typer.Option("--workers", help="Parallel labelling processes")]


def _spec(reference: str):
    from xfer.data.reference import ReferenceSpec, calculator_class

    calculator_class(reference)  # an unknown calculator fails before any work
    return ReferenceSpec(reference)


@app.command("volume-scan")
def volume_scan(
    model: ModelOpt,
    out: Annotated[Path, typer.Option("--out", help="Results directory (scans cached in it)")],
    arch: ArchOpt = None,
    name: NameOpt = None,
    mix: Annotated[
        list[str] | None,
        typer.Option("--mix", help="Composition to scan (repeatable; default EC:4,EMC:8 and "
                     "EC:8,EMC:4)"),
    ] = None,
    scans: Annotated[int, typer.Option(help="Scans (configurations) per composition")] = 5,
    points: Annotated[int, typer.Option(help="Volumes per scan")] = 7,
    plateau_density: Annotated[
        float, typer.Option("--plateau-density", help="g/cm3: frames this dilute form the plateau")
    ] = 0.3,
    shift_threshold: Annotated[
        float, typer.Option("--shift-threshold", help="meV/atom: flag larger baseline shifts")
    ] = 5.0,
    reference: RefOpt = "tblite",
    workers: WorkersOpt = 1,
) -> None:
    """Energy vs volume on held-out rigid scans; RMSE and baseline shift per composition."""
    from xfer.analysis.model_eval import resolve_models
    from xfer.analysis.volume_diag import volume_scan_validation
    from xfer.chem.molecules import parse_mix
    from xfer.data.diag_sets import DEFAULT_SCAN_MIXES, scan_config

    models = resolve_models(model, arch, name)
    mixes = [parse_mix(m) for m in mix] if mix else list(DEFAULT_SCAN_MIXES)
    if scans < 1 or points < 2:
        raise InputError("--scans must be >= 1 and --points >= 2")
    config = scan_config(mixes, scans, points, reference=_spec(reference), workers=workers)
    result = volume_scan_validation(models, config, out, plateau_density, shift_threshold)
    console = Console()
    for row in result.summary.itertuples():
        flag = "  BASELINE SHIFT" if row.flagged else ""
        console.print(f"{row.model} {row.composition}: RMSE {row.rmse_meV_atom:.2f} meV/atom, "
                      f"shift {row.shift_eV:+.3f} eV ({row.shift_meV_atom:+.2f} meV/atom){flag}",
                      highlight=False)  # fmt: skip
    console.print(f"wrote {', '.join(str(p) for p in result.files.values())}", highlight=False)


@app.command("along")
def along(
    run_dir: Annotated[Path, typer.Argument(help="An xfer md run directory (traj.dump)")],
    model: ModelOpt,
    arch: ArchOpt = None,
    name: NameOpt = None,
    every_ps: Annotated[
        float, typer.Option("--every-ps", help="Relabel a frame every ... ps")
    ] = 20.0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Results directory (default RUN_DIR/along)")
    ] = None,
    reference: RefOpt = "tblite",
    workers: WorkersOpt = 1,
) -> None:
    """Energy and force errors vs time along a run, relabelled with the reference."""
    from xfer.analysis.along import errors_along
    from xfer.analysis.model_eval import resolve_models

    if not (run_dir / "result.json").is_file():
        raise InputError(f"{run_dir} is not a finished xfer md run (no result.json)")
    if not every_ps > 0 or workers < 1:
        raise InputError("--every-ps must be > 0 and --workers >= 1")
    models = resolve_models(model, arch, name)
    result = errors_along(run_dir, models, out or run_dir / "along", every_ps, _spec(reference),
                          workers)  # fmt: skip
    console = Console()
    for row in result.summary.itertuples():
        console.print(f"{row.model}: {row.n_frames} frames, energy RMSE "
                      f"{row.e_rmse_meV_atom:.2f} meV/atom, force RMSE {row.f_rmse_meV_A:.1f} "
                      "meV/A", highlight=False)  # fmt: skip
    console.print(f"wrote {', '.join(str(p) for p in result.files.values())}", highlight=False)


@app.command("generalise")
def generalise(
    model: ModelOpt,
    out: Annotated[Path, typer.Option("--out", help="Results directory (runs reused from it)")],
    arch: ArchOpt = None,
    name: NameOpt = None,
    liquid: Annotated[
        list[str] | None,
        typer.Option("--liquid", help="Volume ratio (repeatable; default EC:1,DEC:1, VC:1,EMC:1 "
                     "and PC:1)"),
    ] = None,
    molecules: Annotated[int, typer.Option(help="Molecules per box")] = 48,
    ensemble: Annotated[str, typer.Option(help="npt or nvt")] = "npt",
    temperature: Annotated[float, typer.Option(help="K")] = 500.0,
    time_ps: Annotated[float, typer.Option("--time-ps", help="Length of each run, ps")] = 2.0,
    timestep_fs: Annotated[float, typer.Option("--timestep-fs")] = 0.5,
    dump_every: Annotated[int, typer.Option("--dump-every", help="steps")] = 100,
    every_ps: Annotated[
        float, typer.Option("--every-ps", help="Relabel a frame every ... ps")
    ] = 1.0,
    reference: RefOpt = "tblite",
    workers: WorkersOpt = 1,
) -> None:
    """t_stab and force RMSE (own frames, relabelled) of each model in unseen liquids."""
    from xfer.analysis.generalisation import DEFAULT_LIQUIDS
    from xfer.analysis.generalisation import generalise as run
    from xfer.analysis.model_eval import resolve_models
    from xfer.chem.volume_mix import parse_fractions

    if ensemble not in ("npt", "nvt"):
        raise InputError(f"unknown ensemble {ensemble!r}: use npt or nvt")
    liquids = {text: parse_fractions(text) for text in liquid} if liquid else DEFAULT_LIQUIDS
    models = resolve_models(model, arch, name)
    md = {"ensemble": ensemble, "temperature": temperature, "time_ps": time_ps,
          "timestep_fs": timestep_fs, "dump_every": dump_every}  # fmt: skip
    table = run(models, out, liquids, molecules, md, every_ps, _spec(reference), workers)
    console = Console()
    for row in table.itertuples():
        state = f"halted ({row.halt_reason})" if row.halted else "stable"
        console.print(f"{row.model} {row.liquid} ({row.composition}): t_stab {row.t_stab_ps:g} "
                      f"ps {state}, force RMSE {row.f_rmse_meV_A:.1f} meV/A over {row.n_frames} "
                      "frames", highlight=False)  # fmt: skip
    console.print(f"wrote {out / 'generalisation.csv'}, {out / 'generalisation.png'}",
                  highlight=False)
