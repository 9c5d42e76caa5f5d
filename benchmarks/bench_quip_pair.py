"""Benchmark: ``pair_style quip`` (one LAMMPS MD step) vs quippy's own evaluation of the
same frame (energy, forces, stress in one call), same GAP model, same process, 1 thread.

The model is the tiny GAP preset from the tiny-model cache (xfer.workflow.tiny_models,
trained if missing) unless ``--model`` names one. Sizes are the 4 EC + 8 EMC box and its
replicas (160 and 640 atoms by default). Timings are process CPU seconds (robust to other
jobs on a shared machine), the two paths alternate rep by rep and swap order every rep;
the cost is the minimum over the reps, and the median of the per-rep ratios shows the
spread. Also recorded: the ghost atoms LAMMPS hands to QUIP and the neighbour pairs listed
vs inside the model's cutoff (the plugin passes only the latter) and the load average.

Where the time goes (perf, 160 atoms, tiny preset; both paths alike): ~70-80% in QUIP's
turbo-SOAP descriptor (``get_soap`` ~40% self, its radial expansion ~15-20% of which is
gfortran string comparisons inside QUIP), 3-10% in libAtoms' argument-string parsing, a few
% in the GP prediction. Ghost atoms cost next to nothing: QUIP's LAMMPS wrapper marks
only ``ilist`` atoms in its ``local`` atom mask and every GAP descriptor skips unmarked
centres, so ghosts enter only as neighbours, exactly like the periodic images in quippy's
own connectivity. Both paths therefore do the same descriptor and GP work; the plugin
saves quippy's Atoms conversion and ``calc_connect`` (LAMMPS' list is reused).

Measured (tiny GAP, 8 reps, idle machine, 2026-12-02; ``quip_pair.json``): 160 atoms
pair/quippy 1.06 (min) / 1.08 (median of per-rep ratios), i.e. 15 ms a call slower; 640
atoms 0.99 / 0.96, no slower. perf of both paths at 160 atoms (40 calls each; min 0.255 s
against 0.236 s a call): xfer's own code (``PairQuip::evaluate`` outside
``quip_lammps_wrapper``) is <0.1% of the samples; the difference is QUIP re-parsing its
argument strings on every call: ``lower_case`` under ``param_read_line``
(``potential_simple_calc`` and each descriptor's calc) takes 10.5% of the pair path against
4.4% of quippy's, ~16 ms a call more. A fixed cost per call inside QUIP, so it vanishes at
640 atoms.

    .venv/bin/python benchmarks/bench_quip_pair.py [--model gap.xml] [--sizes 160 640]
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
from xfer.backends.gap_files import GapModelInfo, inspect_model  # noqa: E402
from xfer.chem.molecules import parse_mix  # noqa: E402
from xfer.chem.packing import pack  # noqa: E402
from xfer.chem.system import replicate, replication_factors  # noqa: E402
from xfer.lammps.singlepoint import write_atomic_data  # noqa: E402

RESULT = Path(__file__).resolve().parent / "results" / "quip_pair.json"
SKIN_A = 1.0


def _cpu(call) -> float:
    start = time.process_time()
    call()
    return time.process_time() - start


def _lammps(info: GapModelInfo, atoms: Atoms, work: Path):
    from xfer.lammps.instance import new_lammps  # as xfer md: torch's BLAS ahead of liblammps

    spec = gap_pair_spec(info)
    write_atomic_data(atoms, spec.elements, work / "system.data")
    cmdargs = ["-log", str(work / "log.lammps"), "-screen", "none", "-nocite"]
    lmp = new_lammps(cmdargs, deepmd=False)
    lmp.commands_list([
        "units metal", "atom_style atomic", "boundary p p p", "atom_modify map array",
        "newton on", f"read_data {work / 'system.data'}", f"pair_style {spec.pair_style}",
        f"pair_coeff {spec.pair_coeff}", f"neighbor {SKIN_A} bin",
        "neigh_modify every 1 delay 0 check yes", "velocity all create 300 1", "fix 1 all nve",
        "timestep 0.0005", "thermo 1000", "run 2",
    ])  # fmt: skip
    import quippy.system_module

    quippy.system_module.verbosity_push(0)  # see shared note: quippy and the plugin together
    return lmp


def _pairs(atoms: Atoms, cutoff: float) -> int:
    from ase.neighborlist import neighbor_list

    return len(neighbor_list("i", atoms, cutoff))


def _default_model() -> Path:
    from xfer.workflow.tiny_models import tiny_models

    return tiny_models("gap", [0])[0].path


def measure_size(pot, info: GapModelInfo, atoms: Atoms, reps: int) -> dict:
    """Alternating CPU timings of both paths on ``atoms``; their minima and ratios."""
    with tempfile.TemporaryDirectory(prefix="xfer-quip-bench-") as tmp:
        lmp = _lammps(info, atoms, Path(tmp))
        quippy_s, pair_s = [], []
        for k in range(reps):
            frame = atoms.copy()
            frame.positions += 1e-4 * (k + 1)  # a new frame: no cached result

            def quippy_call(f=frame) -> None:
                pot.calculate(f, ["energy", "forces", "stress"], ["positions"])

            def pair_call() -> None:
                lmp.command("run 1 pre no post no")  # no set-up force call

            first, second = (quippy_call, pair_call) if k % 2 == 0 else (pair_call, quippy_call)
            t_first, t_second = _cpu(first), _cpu(second)
            quippy_s.append(t_first if k % 2 == 0 else t_second)
            pair_s.append(t_second if k % 2 == 0 else t_first)
        nghost = int(lmp.extract_global("nghost"))
        lmp.close()
    return {
        "n_atoms": len(atoms), "n_ghost_atoms_given_to_quip": nghost,
        "pairs_within_cutoff": _pairs(atoms, info.cutoff),
        "pairs_within_cutoff_plus_skin": _pairs(atoms, info.cutoff + SKIN_A),
        "quippy_cpu_s": {"min": min(quippy_s), "median": statistics.median(quippy_s)},
        "pair_quip_cpu_s_per_step": {"min": min(pair_s), "median": statistics.median(pair_s)},
        "ratio_pair_over_quippy_min": min(pair_s) / min(quippy_s),
        "ratio_pair_over_quippy_median_of_reps": statistics.median(
            p / q for p, q in zip(pair_s, quippy_s, strict=True)
        ),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="gap.xml or its seed dir (default: tiny)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[160, 640])
    parser.add_argument("--mix", default="EC:4,EMC:8")
    parser.add_argument("--density", type=float, default=1.2)
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    model = args.model or _default_model()
    info = inspect_model(model / "gap.xml" if model.is_dir() else model)
    base = pack(parse_mix(args.mix), args.density, seed=1)
    from quippy.potential import Potential

    pot = Potential(param_filename=str(info.xml))
    load_start = os.getloadavg()[0]
    sizes = []
    for n_atoms in args.sizes:
        system = replicate(base, replication_factors(max(1, n_atoms // base.n_atoms)))
        atoms = Atoms(system.symbols, positions=system.positions, cell=system.cell, pbc=True)
        sizes.append(measure_size(pot, info, atoms, args.reps))
        print({k: v for k, v in sizes[-1].items() if "pairs" not in k}, flush=True)
    result = {
        "benchmark": "pair_style quip MD step vs quippy evaluation of the same frame",
        "model": str(info.xml), "default_tiny_model": args.model is None,
        "cutoff_A": info.cutoff, "neighbour_skin_A": SKIN_A, "reps": args.reps,
        "threads": os.environ["OMP_NUM_THREADS"], "sizes": sizes,
        "pair_no_slower_at_every_size": all(s["ratio_pair_over_quippy_min"] <= 1.0
                                            for s in sizes),
        "loadavg_1min": {"start": load_start, "end": os.getloadavg()[0]},
        "cpus": os.cpu_count(), "plugin_path": os.environ.get("LAMMPS_PLUGIN_PATH"),
    }  # fmt: skip
    write_json(args.out, result)


if __name__ == "__main__":
    main()
