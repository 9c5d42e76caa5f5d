"""Benchmark: energy drift and speed of a short NVE run with ``pair_style mace``.

Trains a tiny float64 MACE on a small GFN2-xTB set (or takes ``--model mace.model``),
exports it to TorchScript, packs a 12-molecule 4 EC + 8 EMC box (160 atoms) with packmol,
relaxes it briefly (conjugate gradient), gives it 300 K velocities and runs NVE in LAMMPS
(one rank: periodic-image graph; ``--nprocs 2``: ghost-atom graph). Reports the drift of
the total energy (slope of a linear fit, meV/atom/ps), its largest excursion, steps/s,
ns/day and atom-steps/s. Result: benchmarks/results/nve_mace[_npN].json.

    .venv/bin/python benchmarks/bench_nve_mace.py [--model M] [--steps 300] [--nprocs 1]
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

import xfer
from xfer.atomic import write_json
from xfer.backends.mace import MaceBackend, load_model
from xfer.chem.molecules import get_molecule
from xfer.chem.packing import pack
from xfer.data.e0 import isolated_atoms
from xfer.runtime import lmp_environment

RESULTS = Path(__file__).resolve().parent / "results"
MIX = {"EC": 4, "EMC": 8}  # 160 atoms
DENSITY = 1.0  # g/cm3
THERMO_EVERY = 5
MIN_STEPS = 50  # relax the packing before NVE
HYPER = {"preset": "tiny"}


def _label(atoms: Atoms, config_type: str) -> Atoms:
    from tblite.ase import TBLite

    out = atoms.copy()
    work = atoms.copy()
    work.calc = TBLite(method="GFN2-xTB", verbosity=0)
    out.info["REF_energy"] = work.get_potential_energy()
    out.arrays["REF_forces"] = work.get_forces()
    if atoms.pbc.all():
        out.info["REF_virial"] = (-work.get_stress(voigt=False) * work.get_volume()).ravel()
    out.info["config_type"] = config_type
    return out


def training_set(path: Path, seed: int = 0) -> Path:
    """Rattled EC/EMC molecules, rattled 2-molecule boxes at 0.6-1.2 g/cm3 and e0 atoms,
    labelled with GFN2-xTB (under a minute on one core)."""
    rng = np.random.default_rng(seed)
    frames = [_label(a, "e0") for a in isolated_atoms(["H", "C", "O"])]
    for name in MIX:
        mol = get_molecule(name)
        for amplitude in (0.05, 0.1, 0.15) * 3:
            noise = rng.normal(0.0, amplitude, mol.positions.shape)
            frames.append(_label(Atoms(mol.symbols, positions=mol.positions + noise), "sm"))
    for k, density in enumerate(np.linspace(0.6, 1.2, 6)):
        box = pack({"EC": 1, "EMC": 1}, float(density), seed=seed + k).to_atoms()
        box.positions += rng.normal(0.0, 0.08, box.positions.shape)
        frames.append(_label(box, "box"))
    write(path, frames, format="extxyz")
    return path


def md(workdir: Path, steps: int, timestep_fs: float) -> None:
    """Minimise, then NVE (this process is one MPI rank); writes energies and timing."""
    from lammps import lammps

    spec = json.loads((workdir / "pair.json").read_text())
    lmp = lammps(cmdargs=["-screen", "none", "-log", str(workdir / "log.lammps"), "-nocite"])
    lmp.commands_string(
        f"""units metal
        atom_style atomic
        boundary p p p
        read_data {workdir}/box.data
        pair_style {spec["pair_style"]}
        pair_coeff {spec["pair_coeff"]}
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
        record = {"seconds": seconds, "nprocs": lmp.extract_setting("world_size"),
                  "lammps_version": lmp.version()}  # fmt: skip
        write_json(workdir / "md.json", record)
    lmp.close()


def run(workdir: Path, model_file: Path | None, steps: int, timestep_fs: float, nprocs: int):
    backend = MaceBackend()
    t0 = time.perf_counter()
    if model_file is None:
        train_file = training_set(workdir / "train.extxyz")
        model = backend.train(train_file, train_file, workdir / "model", 0, HYPER)
    else:
        model = load_model(model_file)
    spec = backend.pair_spec(model)  # exports the TorchScript file
    setup_s = time.perf_counter() - t0
    box = pack(MIX, DENSITY, seed=1).to_atoms()
    write(workdir / "box.data", box, format="lammps-data", specorder=list(spec.elements),
          masses=True)  # fmt: skip
    pair = {"pair_style": spec.pair_style, "pair_coeff": spec.pair_coeff}
    write_json(workdir / "pair.json", pair)

    command = [sys.executable, __file__, "--md", str(workdir), "--steps", str(steps),
               "--timestep-fs", str(timestep_fs)]  # fmt: skip
    if nprocs > 1:
        command = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(nprocs), *command]
    subprocess.run(command, check=True, env=lmp_environment())

    timing = json.loads((workdir / "md.json").read_text())
    data = np.loadtxt(workdir / "energies.txt", comments="#")
    time_ps, total = data[:, 1], data[:, 3]
    n_atoms = len(box)
    steps_per_s = steps / timing["seconds"]
    return {
        "benchmark": "NVE energy drift and speed, pair_style mace (tiny float64 MACE)",
        "model": str(model.path),
        "model_validation_errors": model.meta.get("validation_errors"),
        "n_atoms": n_atoms,
        "density_g_cm3": DENSITY,
        "steps": steps,
        "timestep_fs": timestep_fs,
        "simulated_ps": float(time_ps[-1] - time_ps[0]),
        "drift_meV_per_atom_per_ps": float(1e3 * np.polyfit(time_ps, total, 1)[0] / n_atoms),
        "max_excursion_meV_per_atom": float(1e3 * np.abs(total - total[0]).max() / n_atoms),
        "potential_energy_span_meV_per_atom": float(1e3 * np.ptp(data[:, 2]) / n_atoms),
        "steps_per_s": steps_per_s,
        "atom_steps_per_s": steps_per_s * n_atoms,
        "ns_per_day": steps_per_s * timestep_fs * 1e-6 * 86400,
        "setup_s": setup_s,
        "build": {
            "lammps_version": timing["lammps_version"],
            "nprocs": timing["nprocs"],
            "graph": "periodic images" if timing["nprocs"] == 1 else "ghost atoms",
            "threads": 1,
            "precision": "double",
            "device": "cpu",
            "machine": platform.processor() or platform.machine(),
            "xfer": xfer.__version__,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="MACE .model file (default: train a tiny one)")
    parser.add_argument("--steps", type=int, default=300)
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
    result = RESULTS / ("nve_mace.json" if args.nprocs == 1 else f"nve_mace_np{args.nprocs}.json")
    write_json(result, record)
    for key in ("n_atoms", "steps", "drift_meV_per_atom_per_ps", "max_excursion_meV_per_atom",
                "steps_per_s", "ns_per_day"):  # fmt: skip
        print(f"{key:30s} {record[key]}")
    print(f"written {result}")


if __name__ == "__main__":
    main()
