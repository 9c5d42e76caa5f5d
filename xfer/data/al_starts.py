"""Starting boxes of active-learning exploration: 12-molecule EC:EMC mixtures from OPLS-AA.

For each composition (SPEC section 6: 2:10, 4:8, 6:6, 8:4, 10:2 EC:EMC) one classical
OPLS-AA NPT run equilibrates a packed box; ``count`` frames after the equilibration are
drawn with a seeded generator and written as LAMMPS data files (bond topology included, so
ML runs can watch bonds). ``starts.json`` lists them with their provenance; it is written
last, so a directory with it is complete, and a rerun with the same settings reuses it
(and the MD run, which :func:`xfer.md.run_md` recognises as finished).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from xfer.atomic import write_json
from xfer.chem.molecules import composition_label
from xfer.chem.system import System
from xfer.data.molgraph import centre_molecules
from xfer.errors import InputError
from xfer.jsonfiles import read_json
from xfer.lammps.datafile import write_opls_data
from xfer.lammps.dump import read_frames
from xfer.lammps.readdata import read_system
from xfer.md import MDSettings, run_md

EC_COUNTS = (2, 4, 6, 8, 10)
MOLECULES = 12
AL_COMPOSITIONS: tuple[dict[str, int], ...] = tuple(
    {"EC": ec, "EMC": MOLECULES - ec} for ec in EC_COUNTS
)
STARTS = "starts.json"


@dataclass(frozen=True)
class StartSettings:
    """The classical run that equilibrates each composition (K, atm, g/cm3, ps, fs).

    300 K, 1 atm: an OPLS-AA EC:EMC box settles near 1.09 g/cm3 (shared notes); at 500 K a
    12-molecule box expands towards the gas within a few ps.
    """

    temperature: float = 300.0
    pressure: float = 1.0
    density: float = 1.1
    equilibration_ps: float = 20.0
    sample_ps: float = 20.0
    timestep_fs: float = 0.5
    dump_every: int = 200
    seed: int = 1


@dataclass(frozen=True)
class StartFrame:
    """One starting box: its data file (relative to the composition directory) and origin."""

    data: str
    composition: str
    source_run: str
    step: int
    density_gcm3: float


def starting_frames(
    mix: dict[str, int], count: int, work_dir: Path, settings: StartSettings = StartSettings()
) -> list[StartFrame]:
    """``count`` seeded OPLS-AA frames of ``mix`` as data files under ``work_dir``."""
    if count < 1:
        raise InputError(f"starting frames per composition must be >= 1, got {count}")
    mix = {name: n for name, n in mix.items() if n > 0}
    work_dir = Path(work_dir)
    wanted = {"mix": mix, "count": count, "settings": asdict(settings)}
    index = work_dir / STARTS
    if index.is_file():
        stored = read_json(index, f"delete {work_dir} to make the start boxes again")
        if stored.get("request") == wanted:
            return [StartFrame(**s) for s in stored["frames"]]
    s = settings
    md = MDSettings(
        potential="opls", mix=mix, density=s.density, ensemble="npt", temperature=s.temperature,
        pressure=s.pressure, time_ps=s.equilibration_ps + s.sample_ps, timestep_fs=s.timestep_fs,
        seed=s.seed, dump_every=s.dump_every, density_range=None,
    )  # fmt: skip
    run = work_dir / "opls-npt"
    result = run_md(md, run)
    if result["halted"]:
        raise InputError(
            f"OPLS-AA equilibration of {composition_label(mix)} halted "
            f"({result['halt_reason']}); change the [active_learning.starts] conditions"
        )
    first = int(round(s.equilibration_ps * 1000.0 / s.timestep_fs))
    pool = [f for f in read_frames(run / "traj.dump") if int(f.info["step"]) > first]
    if len(pool) < count:
        raise InputError(
            f"{composition_label(mix)}: {len(pool)} frames after equilibration, {count} wanted; "
            "lengthen sample_ps or dump more often"
        )
    rng = np.random.default_rng(s.seed)
    picks = sorted(int(k) for k in rng.choice(len(pool), size=count, replace=False))
    template = read_system(run / "system.data")
    label = composition_label(mix)
    frames = []
    for k, pick in enumerate(picks):
        atoms = pool[pick]
        cell = atoms.cell.array
        positions = centre_molecules(atoms.positions, cell, atoms.arrays["mol_id"])
        system = System(list(template.symbols), positions, cell, template.mol_ids.copy(),
                        list(template.molecule_names), list(template.bonds))  # fmt: skip
        name = f"start-{k:02d}.data"
        write_opls_data(system, work_dir / name)
        frames.append(StartFrame(name, label, run.name, int(atoms.info["step"]), system.density))
    write_json(index, {"request": wanted, "frames": [asdict(f) for f in frames]})
    return frames
