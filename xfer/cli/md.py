"""``xfer md``: one LAMMPS simulation from the templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
)

from xfer.chem.molecules import parse_mix
from xfer.cli.options import D3FunctionalOption, DispersionOption
from xfer.errors import InputError, validation_message
from xfer.lammps.checkpoint import DEFAULT_EVERY
from xfer.lammps.dispersion import D3, parse_dispersion


def _settings(**kwargs):
    from xfer.md import MDSettings

    try:
        return MDSettings(**kwargs)
    except ValidationError as exc:
        raise InputError(validation_message(exc, "settings")) from None


def _mixture(
    mix: str | None, mix_vv: str | None, molecules: int, density: float | None
) -> tuple[dict[str, int] | None, float]:
    """Molecule counts and packing density from ``--mix`` or ``--mix-vv``/``--molecules``."""
    if mix and mix_vv:
        raise InputError("give --mix (molecule counts) or --mix-vv (volume ratio), not both")
    if mix_vv:
        from xfer.chem.volume_mix import mix_by_volume, parse_fractions

        counts, ideal = mix_by_volume(parse_fractions(mix_vv), molecules)
        return counts, ideal if density is None else density
    return (parse_mix(mix) if mix else None), 1.0 if density is None else density


def md(
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")],
    potential: Annotated[str, typer.Option(help="opls, or ml with --model")] = "opls",
    model: Annotated[
        Path | None,
        typer.Option(help="Model for --potential ml: seed dir or a model file of any backend"),
    ] = None,
    mix: Annotated[str | None, typer.Option(help="Molecules, e.g. EC:16,EMC:32")] = None,
    mix_vv: Annotated[
        str | None,
        typer.Option("--mix-vv", help="Liquids by volume ratio, e.g. EC:1,DEC:1 (see --molecules)"),
    ] = None,
    molecules: Annotated[int, typer.Option(help="Molecules in a --mix-vv box")] = 48,
    density: Annotated[
        float | None,
        typer.Option(help="Packing density, g/cm3 (default 1.0; --mix-vv: the ideal mixture's)"),
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Start from this LAMMPS data file")] = None,
    ensemble: Annotated[str, typer.Option(help="npt, nvt or nve")] = "npt",
    temperature: Annotated[float, typer.Option(help="K")] = 500.0,
    pressure: Annotated[float, typer.Option(help="atm (NPT)")] = 1.0,
    time_ps: Annotated[float, typer.Option("--time-ps", help="Length, ps")] = 2.0,
    timestep_fs: Annotated[float, typer.Option("--timestep-fs")] = 0.5,
    seed: Annotated[int, typer.Option()] = 1,
    bond_stretch_max: Annotated[float, typer.Option("--bond-stretch-max", help="A")] = 0.5,
    bond_stretch_rel: Annotated[
        float | None, typer.Option("--bond-stretch-rel", help="fraction of r0, e.g. 1.0")
    ] = None,
    density_range: Annotated[
        tuple[float, float], typer.Option("--density-range", help="g/cm3 (NPT halt)")
    ] = (0.2, 2.0),
    check_every: Annotated[int, typer.Option("--check-every", help="steps")] = 10,
    thermo_every: Annotated[int, typer.Option("--thermo-every", help="steps")] = 10,
    dump_every: Annotated[int, typer.Option("--dump-every", help="steps")] = 100,
    checkpoint_every: Annotated[
        int,
        typer.Option("--checkpoint-every",
                     help="steps between restart files; a rerun continues from the last (0: off)"),
    ] = DEFAULT_EVERY,
    committee: Annotated[
        list[Path] | None,
        typer.Option(help="Committee member (model or seed dir; repeatable) or committee root"),
    ] = None,
    max_force_deviation: Annotated[
        float | None,
        typer.Option("--max-force-deviation", help="eV/A: halt above it (default: record only)"),
    ] = None,
    deviation_every: Annotated[
        int | None, typer.Option("--deviation-every", help="steps (default: --check-every)")
    ] = None,
    device: Annotated[
        str,
        typer.Option(help="cpu, cuda or auto: where pair mace runs its model (deepmd picks "
                          "a visible GPU itself; OPLS and GAP run on the CPU)"),
    ] = "auto",
    dispersion: DispersionOption = None,
    d3_functional: D3FunctionalOption = None,
    force: Annotated[
        bool,
        typer.Option(help="Rerun or replace a finished run; lift the size and length limits"),
    ] = False,
    nprocs: Annotated[
        int,
        typer.Option("--nprocs", min=1,
                     help="MPI ranks: xfer starts LAMMPS under mpiexec (or run xfer itself "
                          "under mpiexec/srun without it)"),
    ] = 1,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=1,
                     help="torch/OpenMP threads per rank (default: the cores shared by the "
                          "ranks on this node)"),
    ] = None,
) -> None:
    """Run one NPT/NVT simulation with in-engine stability halts; write RUN_DIR/result.json."""
    from xfer.lammps.ranks import is_leader, on_leader
    from xfer.md import run_md
    from xfer.runtime import default_threads, launched_ranks, ranks_per_node

    if potential not in ("opls", "ml"):
        raise InputError(f"unknown potential {potential!r}: use opls (or ml with --model)")
    if committee:
        potential = "ml"  # a committee is an ML run; --model (or the lowest seed) drives it
    elif (potential == "ml") != (model is not None):
        raise InputError("--model goes with --potential ml (and ml needs a --model)")
    counts, density = _mixture(mix, mix_vv, molecules, density)
    d3 = parse_dispersion(dispersion, d3_functional)
    if d3 is not None and (committee or model is None):
        raise InputError("--dispersion goes with --model (not with --committee or opls)")
    pair, spec = on_leader(lambda: _export(model, committee, d3))  # files: written by one rank
    ranks_here = nprocs if launched_ranks() <= 1 else ranks_per_node()
    settings = _settings(
        committee=spec, max_force_deviation=max_force_deviation, deviation_every=deviation_every,
        potential=potential, pair=pair, mix=counts, density=density,
        data=data,
        ensemble=ensemble, temperature=temperature, pressure=pressure, time_ps=time_ps,
        timestep_fs=timestep_fs, seed=seed, bond_stretch_max=bond_stretch_max,
        bond_stretch_rel=bond_stretch_rel, density_range=density_range,
        check_every=check_every, thermo_every=thermo_every, dump_every=dump_every,
        checkpoint_every=checkpoint_every, device=device, nprocs=nprocs,
        threads=threads or default_threads(ranks_here),
    )
    if not is_leader():  # another rank of an MPI launch: rank 0 reports
        run_md(settings, out, force=force)
        return
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("steps"), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("checking", total=settings.n_steps)
        result = run_md(settings, out, force=force,
                        progress=lambda step: bar.update(task, completed=step),
                        stage=lambda text: bar.update(task, description=text))
    state = f"HALTED ({result['halt_reason']})" if result["halted"] else "completed"
    if len(result.get("parts", [])) > 1:
        state += f" (resumed at step {result['parts'][-1]['start_step']})"
    Console().print(
        f"{out}: {state} after {result['t_stab_ps']:.3f} ps of {result['time_ps_requested']} ps "
        f"({result['n_atoms']} atoms, {result['wall_s']:.1f} s)"
    )



def _export(model: Path | None, committee: list[Path] | None, d3: D3 | None) -> tuple:
    """(driving model's PairSpec, CommitteeSpec) of the run, exported for LAMMPS."""
    if committee:
        from xfer.backends.committee_pair import committee_spec
        from xfer.training import export_model, resolve_committee

        driving, members = resolve_committee(model, committee)
        with Console().status(f"exporting the {len(members)} committee models for LAMMPS"):
            spec = committee_spec(members)
            _, pair = export_model(driving.path)
        return pair, spec
    if model is not None:
        from xfer.training import export_model

        with Console().status(f"exporting {model} for LAMMPS"):
            return export_model(model, d3)[1], None
    return None, None
