"""One molecular-dynamics run in LAMMPS from the templates: ``xfer md`` and its Python API.

A run directory holds ``system.data``, ``bonds.table``, ``in.lammps``, ``thermo.csv``,
``traj.dump``, ``log.lammps`` and, written last and atomically, ``result.json``; a
committee run adds ``model_devi.csv`` and a ``devi_f`` column in the dumps.
A directory whose ``result.json`` matches the requested settings is returned as is
(finished work is never redone). An unfinished run of the same settings continues from
its last checkpoint (``lammps/checkpoint.py``, a restart every ``checkpoint_every``
steps); anything else in it is redone from step 0.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xfer.atomic import write_json, write_text
from xfer.chem.molecules import composition_label
from xfer.chem.packing import pack
from xfer.chem.units import ATM_TO_BAR
from xfer.errors import InputError
from xfer.jsonfiles import read_json
from xfer.lammps import checkpoint
from xfer.lammps.bond_alarm import ALARM_ENERGY, TABLE_POINTS, BondCriterion, write_tables
from xfer.lammps.committee import DEVI_FILE, CommitteeRun, DeviationLog
from xfer.lammps.device import Device, check_device, devices_in_use, with_device
from xfer.lammps.pair import CLASSICAL, EnginePotential, PairSpec
from xfer.lammps.progress import ThermoWatcher
from xfer.lammps.ranks import finish_leading, follow, is_leader, launch, lead
from xfer.lammps.readdata import read_system
from xfer.lammps.runner import LammpsRun
from xfer.lammps.templates import render
from xfer.runtime import mpi_world, set_threads, threads_in_use

MAX_ATOMS = 20_000  # soft limit (--force lifts it): packing alone takes minutes beyond
MAX_STEPS = 20_000_000  # soft limit: 10 ns at 0.5 fs, days on a workstation
LAMMPS_MAX_STEPS = 2**31 - 1  # hard: LAMMPS' run command takes a 32-bit step count
RESULT_FIX = "delete it (the run is then redone) or rerun with --force"
RUN_RESOURCES = {"checkpoint_every", "device", "nprocs", "threads"}  # how, not what, is simulated


class CommitteeSpec(BaseModel):
    """A committee pair style (built by :func:`xfer.backends.committee_pair.committee_spec`):
    every member in one pair style, the first one driving the dynamics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pair: PairSpec  # without out_file/out_freq, which the run adds
    members: tuple[str, ...]  # model files, driving model first
    engine: bool  # deviation readable in-engine (xfer's plugins) or from its file (deepmd)


class MDSettings(BaseModel):
    """Everything that defines one validation/production MD run."""

    model_config = ConfigDict(extra="forbid")

    potential: Literal["opls", "ml"] = "opls"
    mix: dict[str, int] | None = None
    density: float = Field(1.0, gt=0, description="g/cm3, for packing a new box")
    data: Path | None = Field(None, description="start from this LAMMPS data file instead")
    ensemble: Literal["npt", "nvt", "nve"] = "npt"
    temperature: float = Field(500.0, gt=0)
    pressure: float = Field(1.0, description="atm (NPT)")
    time_ps: float = Field(2.0, gt=0)
    timestep_fs: float = Field(0.5, gt=0)
    seed: int = Field(1, ge=1)
    tdamp_fs: float = Field(100.0, gt=0)
    pdamp_fs: float = Field(1000.0, gt=0)
    thermo_every: int = Field(10, ge=1)
    dump_every: int = Field(100, ge=1)
    check_every: int = Field(10, ge=1)
    minimize_steps: int = Field(0, ge=0, description="conjugate-gradient steps before MD")
    bond_stretch_max: float | None = Field(0.5, gt=0, description="A beyond r0")
    bond_stretch_rel: float | None = Field(None, gt=0, description="fraction of r0 (0.5 = +50%)")
    density_range: tuple[float, float] | None = (0.2, 2.0)
    pair: PairSpec | None = None
    checkpoint_every: int = Field(
        checkpoint.DEFAULT_EVERY, ge=0, description="steps between restart files (0: none)"
    )
    committee: CommitteeSpec | None = None
    max_force_deviation: float | None = Field(None, gt=0, description="eV/A; None: record only")
    deviation_every: int | None = Field(None, ge=1, description="steps; None: check_every")
    device: Device = Field("auto", description="where pair mace runs its model (lammps/device.py)")
    nprocs: int = Field(1, ge=1, description="MPI ranks (domain decomposition) xfer launches")
    threads: int | None = Field(
        None, ge=1, description="torch/OpenMP threads per rank; None: as the process has them"
    )

    @model_validator(mode="after")
    def _consistent(self) -> MDSettings:
        if self.mix is None and self.data is None:
            raise ValueError("give a molecule mix (e.g. EC:16,EMC:32) or a data file")
        if self.potential == "ml" and self.pair is None:
            raise ValueError("an ML run needs a model (pair style)")
        if self.density_range and not self.density_range[0] < self.density_range[1]:
            raise ValueError("density range must be (min, max) with min < max")
        if self.committee is None and (self.max_force_deviation or self.deviation_every):
            raise ValueError("a force-deviation threshold or interval needs a committee")
        if self.committee is not None and (
            self.pair is None or self.committee.pair.elements != self.pair.elements
        ):
            raise ValueError("a committee run needs its driving model's pair (same elements)")
        return self

    def engine_potential(self) -> EnginePotential:
        """The provider of this run's data file and potential lines."""
        if self.potential == "ml":
            assert self.pair is not None  # checked by the validator
            pair = self.pair
            if self.committee is not None:  # every member; the pair style writes the deviation
                pair = self.committee.pair
                devi = f" out_file {DEVI_FILE} out_freq {self.deviation_interval}"
                pair = replace(pair, pair_style=pair.pair_style + devi)
            return replace(pair, pair_style=with_device(pair.pair_style, self.device))
        return CLASSICAL[self.potential]

    @property
    def deviation_interval(self) -> int:
        return self.deviation_every or self.check_every

    @property
    def n_steps(self) -> int:
        return int(round(self.time_ps * 1000.0 / self.timestep_fs))

    def fingerprint(self) -> dict[str, Any]:
        """JSON form used to recognise a finished run with the same settings.

        How often checkpoints are written, the device (float64 on CPU and GPU agree to
        round-off) and on how many ranks and threads the run goes do not change the
        trajectory (beyond round-off), so they are left out.
        """
        return json.loads(self.model_dump_json(exclude=RUN_RESOURCES))


@contextmanager
def _cwd(path: Path):
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def prepare_run(
    settings: MDSettings, out_dir: Path, resume: checkpoint.Resume | None = None
) -> dict[str, Any]:
    """Write system.data, bonds.table and in.lammps into ``out_dir``; return template vars.

    With ``resume`` the input continues from that checkpoint instead of ``system.data``.
    """
    source = out_dir / "system.data" if resume else settings.data  # resume: no repacking
    system = read_system(source) if source else pack(
        settings.mix or {}, settings.density, seed=settings.seed
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    potential = settings.engine_potential()
    info = potential.write_data(system, out_dir / "system.data")
    criterion = BondCriterion(
        absolute=None if settings.bond_stretch_rel else settings.bond_stretch_max,
        relative=settings.bond_stretch_rel,
    )
    rows = write_tables(info.bond_types, criterion, out_dir / "bonds.table")
    variables = {
        **potential.template_vars(),
        "data_file": "system.data",
        "bond_table": "bonds.table",
        "bond_types": rows,
        "table_points": TABLE_POINTS,
        "alarm_energy": ALARM_ENERGY,
        "elements": info.elements,
        "ensemble": settings.ensemble,
        "temperature": settings.temperature,
        "pressure_bar": settings.pressure * ATM_TO_BAR,
        "timestep_fs": settings.timestep_fs,
        "tdamp_fs": settings.tdamp_fs,
        "pdamp_fs": settings.pdamp_fs,
        "seed": settings.seed,
        "thermo_every": settings.thermo_every,
        "dump_every": settings.dump_every,
        "check_every": settings.check_every,
        "minimize_steps": settings.minimize_steps,
        "density_range": settings.density_range if settings.ensemble == "npt" else None,
        "lost_policy": "error",
        "n_steps": settings.n_steps,
        **checkpoint.template_vars(settings.checkpoint_every, resume),
    }
    committee = _committee_run(settings, out_dir, info.elements)
    if committee is not None:  # a resumed run keeps its deviation rows up to the checkpoint
        committee.start(resume.step if resume else None)
    variables["committee"] = committee.template_vars() if committee else None
    write_text(out_dir / "in.lammps", render("md.lmp.j2", **variables))
    return {"system": system, "bond_types": rows, "elements": info.elements,
            "committee": committee}  # fmt: skip


def _committee_run(settings: MDSettings, out_dir: Path, elements: list[str]) -> CommitteeRun | None:
    spec = settings.committee
    if spec is None:
        return None
    return CommitteeRun(
        style=spec.pair.pair_style.split()[0],
        engine=spec.engine,
        deviation_every=settings.deviation_interval,
        threshold=settings.max_force_deviation,
        dump_every=settings.dump_every,
        check_every=settings.check_every,
        elements=elements,
        log=DeviationLog(out_dir / DEVI_FILE),
    )


def n_atoms_requested(settings: MDSettings) -> int:
    """Atoms of the system the run would simulate, known before packing or reading it all."""
    if settings.data is not None:
        return read_system(settings.data).n_atoms
    from xfer.chem.molecules import get_molecule

    return sum(count * get_molecule(name).n_atoms for name, count in (settings.mix or {}).items())


def check_limits(settings: MDSettings, force: bool = False) -> None:
    """Refuse absurd sizes and lengths (typos such as 1e12 ps) before any work starts."""
    steps = settings.n_steps
    if steps > LAMMPS_MAX_STEPS:
        raise InputError(
            f"{settings.time_ps:g} ps at {settings.timestep_fs:g} fs is {steps:.3g} steps; "
            f"LAMMPS runs at most {LAMMPS_MAX_STEPS} steps in one run"
        )
    if force:
        return
    if steps > MAX_STEPS:
        raise InputError(
            f"{settings.time_ps:g} ps at {settings.timestep_fs:g} fs is {steps:.3g} steps, "
            f"more than the limit of {MAX_STEPS:.0e} (days of compute); check --time-ps, "
            "or add --force to run it anyway"
        )
    if settings.mix is not None and (atoms := n_atoms_requested(settings)) > MAX_ATOMS:
        mix = ",".join(f"{name}:{count}" for name, count in settings.mix.items())
        raise InputError(
            f"--mix {mix} is {atoms} atoms, more than the limit of "
            f"{MAX_ATOMS} (packing and MD would take hours); use fewer molecules, "
            "or add --force to run it anyway"
        )


def finished_result(
    settings: MDSettings, out_dir: Path, replace: bool = False
) -> dict[str, Any] | None:
    """The stored result of an identical finished run in ``out_dir``, if any.

    A finished run with other settings is never silently replaced: unless ``replace``, it
    is an error naming the settings that differ.
    """
    path = out_dir / "result.json"
    if not path.exists():
        return None
    result = read_json(path, RESULT_FIX)
    stored, wanted = result.get("settings"), settings.fingerprint()
    if stored == wanted:
        return result
    if not replace:
        raise InputError(
            f"{out_dir} holds a finished run with other settings ({_differences(stored, wanted)}); "
            "use another --out, or --force to replace it"
        )
    return None


def _differences(stored: Any, wanted: dict[str, Any], shown: int = 4) -> str:
    """``key: old -> new`` for the first few settings that differ."""
    if not isinstance(stored, dict):
        return "no settings recorded"
    keys = [k for k in wanted if stored.get(k) != wanted[k]]
    keys += [k for k in stored if k not in wanted]
    text = ", ".join(f"{k}: {stored.get(k)!r} -> {wanted.get(k)!r}" for k in keys[:shown])
    return text + (f", ... {len(keys) - shown} more" if len(keys) > shown else "")


def run_md(
    settings: MDSettings,
    out_dir: Path,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run (or reuse) one MD simulation in ``out_dir``; return the result.json content.

    ``force`` reruns a finished run, replaces one with other settings and lifts the size
    and length limits (:func:`check_limits`). ``progress(step)`` is called about twice a
    second while LAMMPS runs; ``stage(text)`` names each set-up step as it starts.
    ``settings.nprocs`` > 1 runs LAMMPS on that many MPI ranks under ``mpiexec``; a process
    started under ``mpiexec``/``srun`` runs it on every rank of that launch (rank 0 writes
    the files, the others return its result): see :mod:`xfer.lammps.ranks`.
    """
    if not is_leader():
        return follow(run_engine)
    try:
        result = _run_md(settings, out_dir, force, progress, stage)
    except BaseException as exc:
        finish_leading(None, exc)
        raise
    finish_leading(result)
    return result


def _run_md(
    settings: MDSettings,
    out_dir: Path,
    force: bool,
    progress: Callable[[int], None] | None,
    stage: Callable[[str], None] | None,
) -> dict[str, Any]:
    """:func:`run_md` in the one process that does the file work (the leader)."""
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is an existing file, not a run directory")
    if not force and (done := finished_result(settings, out_dir)) is not None:
        return done
    check_limits(settings, force)
    check_device(settings.device, settings.engine_potential().pair_style.split()[0])
    check_ranks(settings)
    stage = stage or (lambda text: None)
    fresh = not out_dir.exists()
    resumable = not (fresh or force)
    resume = checkpoint.plan_resume(out_dir, settings.fingerprint()) if resumable else None
    if not fresh and resume is None:  # an unfinished or different run: start again at step 0
        (out_dir / "result.json").unlink(missing_ok=True)
    stage(f"resuming at step {resume.step}" if resume else
          f"reading {settings.data.name}" if settings.data else
          f"packing {composition_label(settings.mix or {})}")  # fmt: skip
    try:
        prepared = prepare_run(settings, out_dir, resume)
    except Exception:
        if fresh:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    if resume is None:
        checkpoint.start_fresh(out_dir, settings.fingerprint())
    checkpoint.begin_part(out_dir, resume.step if resume else 0)
    stage(f"{settings.ensemble.upper()} {out_dir.name}")
    job = {"out_dir": str(out_dir), "settings": settings.model_dump(mode="json"),
           "bond_types": prepared["bond_types"], "elements": prepared["elements"],
           "resume_step": resume.step if resume else None}  # fmt: skip
    start = time.perf_counter()
    watcher = ThermoWatcher(out_dir / "thermo.csv", progress) if progress else nullcontext()
    with watcher:
        engine = _engine_on_ranks(settings, job, out_dir)
    wall = time.perf_counter() - start
    steps_done, halt_reason = engine["n_steps_done"], engine["halt_reason"]
    parts = checkpoint.finish(out_dir, wall, steps_done, "halted" if halt_reason else "completed")
    system = prepared["system"]
    result = {
        "ensemble": settings.ensemble,
        "potential": settings.potential,
        "pair_style": (settings.pair or settings.engine_potential()).pair_style,
        "temperature_K": settings.temperature,
        "pressure_atm": settings.pressure if settings.ensemble == "npt" else None,
        "timestep_fs": settings.timestep_fs,
        "time_ps_requested": settings.time_ps,
        "n_steps_requested": settings.n_steps,
        "n_steps_done": steps_done,
        "t_stab_ps": steps_done * settings.timestep_fs / 1000.0,
        "halted": halt_reason is not None,
        "halt_reason": halt_reason,
        "halt_detail": engine["halt_detail"],
        "dump_every": settings.dump_every,
        "thermo_every": settings.thermo_every,
        "mix": system.mix(),
        "composition": composition_label(system.mix()),
        "n_atoms": system.n_atoms,
        "lammps_version": engine["lammps_version"],
        "device": {"requested": settings.device, "used": engine["device"]},
        "nprocs": engine["nprocs"],
        "threads": engine["threads"],
        "wall_s": round(sum(part["wall_s"] for part in parts), 3),
        "parts": parts,
        "settings": settings.fingerprint(),
    }
    if settings.committee is not None:
        result["committee"] = {
            "members": list(settings.committee.members),
            "deviation_every": settings.deviation_interval,
            "max_force_deviation": settings.max_force_deviation,
            **engine["committee"],
        }
    if steps_done == 0 and halt_reason is None:
        raise InputError("LAMMPS did not run a single step")
    if not math.isfinite(result["t_stab_ps"]):
        raise InputError("non-finite stability time")
    write_json(out_dir / "result.json", result)
    checkpoint.clear(out_dir)
    return result


def check_ranks(settings: MDSettings) -> None:
    """Refuse ``nprocs`` > 1 inside an MPI launch (its ranks are the run's ranks)."""
    world = mpi_world()
    if world is not None and settings.nprocs not in (1, world.Get_size()):
        raise InputError(
            f"--nprocs {settings.nprocs} inside an MPI launch of {world.Get_size()} ranks: "
            "drop --nprocs (the launch's ranks run the simulation) or start xfer on one process"
        )


def _engine_on_ranks(settings: MDSettings, job: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """:func:`run_engine` here, on every rank of this MPI launch, or under mpiexec."""
    if mpi_world() is not None:
        return lead(run_engine, job)
    if settings.nprocs > 1:
        return launch(job, settings.nprocs, out_dir, settings.threads)
    return run_engine(job)


def run_engine(job: dict[str, Any]) -> dict[str, Any]:
    """The LAMMPS part of a prepared run, on each of its ranks: run ``in.lammps`` in the run
    directory; the leader also writes the committee's files. Returns what result.json
    takes from the engine (how the run ended, ranks, threads, committee deviation)."""
    settings = MDSettings.model_validate(job["settings"])
    out_dir = Path(job["out_dir"])
    if settings.threads:
        set_threads(settings.threads)
    committee = _committee_run(settings, out_dir, job["elements"])
    if committee is not None and job.get("resume_step") is not None:
        committee.resume(job["resume_step"])  # the rows prepare_run's CommitteeRun kept
    with _cwd(out_dir):
        lammps = LammpsRun(plugins_needed=_plugins(settings))
        outcome = lammps.execute("in.lammps", settings.n_steps, job["bond_types"],
                                 job["elements"], committee)  # fmt: skip
        engine = {**asdict(outcome), "nprocs": lammps.nprocs, "threads": threads_in_use(),
                  "device": devices_in_use()}  # while the pair style still holds its model
        del lammps
    if committee is not None:
        if is_leader():
            committee.finish(out_dir)
        rows = committee.log.rows
        engine["committee"] = {
            "n_deviation_steps": len(rows),
            "largest_max_devi_f": max((r[3] for r in rows.values()), default=None),
        }
    return engine


def _plugins(settings: MDSettings) -> list[str]:
    plugin = settings.engine_potential().plugin
    return [plugin] if plugin else []
