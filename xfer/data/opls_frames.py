"""Classical OPLS-AA frames (tag ``opls``) from LAMMPS runs of the xfer MD engine.

Each configured run (NPT at elevated T and P, or NVT at a fixed density) is one
:func:`xfer.md.run_md` call; frames are read from its dump every ``stride_ps`` after
``equilibration_ps`` and the last ``frames`` of them are kept: molecules whole (as the
engine's reader gives them) and shifted so their centres lie in the cell. Finished runs are
reused (``run_md`` recognises an identical finished run), so a restarted build redoes no MD.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ase import Atoms

from xfer.chem.molecules import composition_label
from xfer.data.frames import tag_frame
from xfer.data.molgraph import centre_molecules
from xfer.data.volume_scan import density
from xfer.errors import EnvironmentProblem, InputError


@dataclass(frozen=True)
class OplsRun:
    """One classical run: ensemble, temperature (K), pressure (atm, NPT), start density (g/cm3)."""

    ensemble: str
    temperature: float
    frames: int
    pressure: float = 1.0
    density: float = 1.0


def _engine():
    """The MD engine's API, or a clear error when this installation lacks it."""
    try:
        from xfer.lammps.dump import read_frames
        from xfer.md import MDSettings, run_md
    except ImportError as exc:
        raise EnvironmentProblem(
            f"OPLS frames need the OPLS-AA LAMMPS engine (xfer.md, xfer.lammps.dump): {exc}"
        ) from exc
    return MDSettings, run_md, read_frames


def opls_frames(
    mix: dict[str, int],
    runs: list[OplsRun],
    work_dir: Path,
    timestep_fs: float = 0.5,
    equilibration_ps: float = 5.0,
    stride_ps: float = 0.5,
    seed: int = 1,
) -> list[Atoms]:
    """Frames of every run in ``runs`` (run directories under ``work_dir``)."""
    MDSettings, run_md, read_frames = _engine()
    dump_every = int(round(stride_ps * 1000.0 / timestep_fs))
    if dump_every < 1:
        raise InputError(f"opls stride {stride_ps} ps is shorter than one {timestep_fs} fs step")
    composition = composition_label(mix)
    frames: list[Atoms] = []
    for k, run in enumerate(runs):
        settings = MDSettings(
            potential="opls",
            mix=mix,
            density=run.density,
            ensemble=run.ensemble,
            temperature=run.temperature,
            pressure=run.pressure,
            time_ps=equilibration_ps + run.frames * stride_ps,
            timestep_fs=timestep_fs,
            seed=seed + k,
            dump_every=dump_every,
        )
        name = f"run-{k:02d}-{run.ensemble}"
        result = run_md(settings, work_dir / name)
        if result.get("halted"):
            raise InputError(
                f"opls run {name} halted ({result.get('halt_reason')}): change its conditions"
            )
        dumped = read_frames(work_dir / name / "traj.dump")
        kept = dumped[len(dumped) - run.frames :] if run.frames else []
        if len(kept) < run.frames:
            raise InputError(f"opls run {name} dumped {len(dumped)} frames, {run.frames} wanted")
        for j, atoms in enumerate(kept):
            atoms.calc = None
            atoms.positions = centre_molecules(
                atoms.positions, atoms.cell.array, atoms.arrays["mol_id"]
            )
            frames.append(
                tag_frame(
                    atoms,
                    "opls",
                    composition,
                    f"opls-{composition}-{name}-s{seed}-{j:04d}",
                    ensemble=run.ensemble,
                    temperature_K=run.temperature,
                    pressure_atm=run.pressure if run.ensemble == "npt" else None,
                    density_gcm3=density(atoms),
                    time_ps=int(atoms.info["step"]) * timestep_fs / 1000.0,
                    seed=seed + k,
                    source_run=name,
                )
            )
    return frames
