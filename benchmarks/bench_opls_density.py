"""OPLS-AA check: density of 3:7 EC:EMC (16 EC + 32 EMC) at 298 K, 1 atm vs experiment.

Experiment: ~1.11 g/cm3 at 298 K for EC:EMC 3:7 by mass. The issue's target is agreement
within 5%. Runs a real NPT simulation through ``xfer.md.run_md`` and averages the density
after discarding the first half. Writes benchmarks/results/opls_density.json.

    .venv/bin/python benchmarks/bench_opls_density.py [--time-ps 60] [--timestep-fs 1.0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from xfer.atomic import write_json
from xfer.md import MDSettings, run_md

EXPERIMENT_G_CM3 = 1.11
RESULTS = Path(__file__).resolve().parent / "results"


def block_error(series: np.ndarray, n_blocks: int = 5) -> float:
    """Standard error of the mean from ``n_blocks`` contiguous blocks."""
    blocks = np.array_split(series, n_blocks)
    means = np.array([b.mean() for b in blocks])
    return float(means.std(ddof=1) / np.sqrt(n_blocks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-ps", type=float, default=60.0)
    parser.add_argument("--timestep-fs", type=float, default=1.0)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/bench-opls-density"))
    args = parser.parse_args()
    settings = MDSettings(
        potential="opls", mix={"EC": 16, "EMC": 32}, density=1.1, ensemble="npt",
        temperature=298.0, pressure=1.0, time_ps=args.time_ps, timestep_fs=args.timestep_fs,
        thermo_every=20, dump_every=1000, seed=1,
    )
    result = run_md(settings, args.run_dir)
    thermo = np.genfromtxt(args.run_dir / "thermo.csv", delimiter=",", names=True)
    keep = thermo["time_ps"] >= args.time_ps / 2
    rho = thermo["density"][keep]
    mean, err = float(rho.mean()), block_error(rho)
    out = {
        "system": "16 EC + 32 EMC (3:7 by mass), OPLS-AA (Jorgensen 2024)",
        "temperature_K": 298.0, "pressure_atm": 1.0, "time_ps": args.time_ps,
        "timestep_fs": args.timestep_fs, "averaged_from_ps": args.time_ps / 2,
        "density_mean_g_cm3": mean, "density_stderr_g_cm3": err,
        "experiment_g_cm3": EXPERIMENT_G_CM3,
        "relative_deviation": (mean - EXPERIMENT_G_CM3) / EXPERIMENT_G_CM3,
        "within_5_percent": abs(mean - EXPERIMENT_G_CM3) / EXPERIMENT_G_CM3 < 0.05,
        "halted": result["halted"], "wall_s": result["wall_s"],
        "lammps_version": result["lammps_version"],
    }
    write_json(RESULTS / "opls_density.json", out)
    print(f"density {mean:.4f} +- {err:.4f} g/cm3 (experiment {EXPERIMENT_G_CM3}); "
          f"deviation {100 * out['relative_deviation']:+.1f}%")


if __name__ == "__main__":
    main()
