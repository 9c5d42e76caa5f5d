"""Benchmark: energy drift and speed of a short NVE run with ``pair_style deepmd``.

Trains a tiny float64 se_e2_a model (``tiny`` preset) on a small GFN2-xTB set of rattled
EC/EMC molecules and packed EC+EMC boxes (or takes ``--model model.pth``), packs a
4 EC + 8 EMC box (160 atoms) with packmol, relaxes it briefly, gives it velocities and runs
NVE in LAMMPS on ``--nprocs`` ranks. Reports the total-energy drift (slope of a linear fit,
meV/atom/ps), its largest excursion, the temperature range, steps/s, ns/day and
atom-steps/s. The ``tiny`` model is a plumbing model (force errors of ~1-2 eV/A on this
set), so the box is first minimised to the model's own local minimum; a model that heats
the box far above the start temperature measures its own breakdown, not the pair style.
Result: benchmarks/results/nve_deepmd[_npN].json.

    .venv/bin/python benchmarks/bench_nve_deepmd.py [--model M] [--steps 400] [--nprocs 1]
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
from xfer.backends.deepmd import DeepmdBackend, load_model
from xfer.chem.molecules import get_molecule
from xfer.chem.packing import pack
from xfer.data.e0 import isolated_atoms
from xfer.runtime import lmp_environment

RESULTS = Path(__file__).resolve().parent / "results"
MIX = {"EC": 4, "EMC": 8}  # 160 atoms
DENSITY = 1.0  # g/cm3
TEMPERATURE = 300.0  # K, initial velocities
ENERGY_EVERY = 5  # steps between recorded total energies
MIN_STEPS = 1000  # a poorly trained tiny model must first reach its own local minimum


def _labelled(atoms: Atoms) -> Atoms:
    """A copy with GFN2-xTB REF_energy, REF_forces (and REF_virial when periodic)."""
    from tblite.ase import TBLite

    work = atoms.copy()
    work.calc = TBLite(method="GFN2-xTB", verbosity=0, electronic_temperature=1000.0)
    out = atoms.copy()
    out.info["REF_energy"] = work.get_potential_energy()
    out.arrays["REF_forces"] = work.get_forces()
    if atoms.pbc.all():
        out.info["REF_virial"] = (-work.get_stress(voigt=False) * work.get_volume()).ravel()
    return out


def training_set(path: Path, seed: int = 0) -> Path:
    """Isolated atoms (e0), rattled EC/EMC molecules (0.03-0.12 A) and rattled EC + 2 EMC
    boxes at 0.7-1.3 g/cm3."""
    rng = np.random.default_rng(seed)
    frames = [_labelled(atoms) for atoms in isolated_atoms(["H", "C", "O"])]
    for name in MIX:
        mol = get_molecule(name)
        for amplitude in np.repeat([0.03, 0.06, 0.09, 0.12], 3):
            noise = rng.normal(0.0, amplitude, mol.positions.shape)
            frames.append(_labelled(Atoms(mol.symbols, positions=mol.positions + noise)))
    for k, density in enumerate(np.linspace(0.7, 1.3, 8)):
        box = pack({"EC": 1, "EMC": 2}, float(density), seed=seed + k).to_atoms()
        box.positions += rng.normal(0.0, 0.05, box.positions.shape)
        frames.append(_labelled(box))
    write(path, frames, format="extxyz")
    return path


def md(workdir: Path, steps: int, timestep_fs: float) -> None:
    """MD worker (one MPI rank): minimise, NVE, write energies and timing."""
    from lammps import lammps

    pair = json.loads((workdir / "pair.json").read_text())
    lmp = lammps(cmdargs=["-screen", "none", "-log", str(workdir / "log.lammps"), "-nocite"])
    lmp.commands_string(
        f"""units metal
        atom_style atomic
        boundary p p p
        read_data {workdir}/box.data
        pair_style {pair["pair_style"]}
        pair_coeff {pair["pair_coeff"]}
        neighbor 1.0 bin
        thermo_modify lost error
        min_style cg
        minimize 1.0e-8 1.0e-3 {MIN_STEPS} {10 * MIN_STEPS}
        reset_timestep 0
        timestep {timestep_fs / 1000}
        velocity all create {TEMPERATURE} 7251 mom yes rot yes dist gaussian
        fix nve all nve
        variable t equal time
        variable pe equal pe
        variable et equal etotal
        variable temp equal temp
        fix record all ave/time {ENERGY_EVERY} 1 {ENERGY_EVERY} v_t v_pe v_et v_temp &
            format " %.12g" file {workdir}/energies.txt
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


def run(workdir: Path, model_file: Path | None, steps: int, timestep_fs: float, nprocs: int):
    backend = DeepmdBackend()
    t0 = time.perf_counter()
    if model_file is None:
        train_file = training_set(workdir / "train.extxyz")
        model = backend.train(train_file, train_file, workdir / "model", 0, {"preset": "tiny"})
    else:
        model = load_model(model_file)
    spec = backend.pair_spec(model)
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
    time_ps, potential, total, temperature = data[:, 1], data[:, 2], data[:, 3], data[:, 4]
    n_atoms = len(box)
    steps_per_s = steps / timing["seconds"]
    return {
        "benchmark": "NVE energy drift and speed, pair_style deepmd (tiny float64 se_e2_a)",
        "model": str(model.path),
        "model_validation_errors": model.meta.get("validation_errors"),
        "n_atoms": n_atoms,
        "density_g_cm3": DENSITY,
        "steps": steps,
        "timestep_fs": timestep_fs,
        "simulated_ps": float(time_ps[-1] - time_ps[0]),
        "drift_meV_per_atom_per_ps": float(1e3 * np.polyfit(time_ps, total, 1)[0] / n_atoms),
        "max_excursion_meV_per_atom": float(1e3 * np.abs(total - total[0]).max() / n_atoms),
        "potential_energy_span_meV_per_atom": float(1e3 * np.ptp(potential) / n_atoms),
        # a model far from its training data heats up (T >> start): drift then measures the
        # model's breakdown, not the pair style
        "temperature_range_K": [float(temperature.min()), float(temperature.max())],
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
    parser.add_argument("--model", type=Path, help="frozen deepmd model.pth (default: train)")
    parser.add_argument("--steps", type=int, default=400)
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
    name = "nve_deepmd.json" if args.nprocs == 1 else f"nve_deepmd_np{args.nprocs}.json"
    write_json(RESULTS / name, record)
    for key in ("n_atoms", "steps", "drift_meV_per_atom_per_ps", "max_excursion_meV_per_atom",
                "steps_per_s", "ns_per_day"):  # fmt: skip
        print(f"{key:30s} {record[key]}")
    print(f"written {RESULTS / name}")


if __name__ == "__main__":
    main()
