"""Benchmark: analysis of a 10,000-frame, 640-atom trajectory must take < 20 s.

A synthetic 16 EC + 32 EMC run pair (NPT thermo + NVT dump, 10,001 frames 0.1 ps apart,
i.e. 1 ns) is written to a scratch directory; then ``analyze_run`` is timed on both with
the paper's default settings (100 ps equilibration, 100 ps MSD blocks 10 ps apart, 10 ps
ballistic cut): density distribution + COM MSD blocks, including writing analysis.json,
CSV and PNG. Result: benchmarks/results/analysis.json.

    .venv/bin/python benchmarks/bench_analysis.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import xfer
from xfer.analysis import AnalysisSettings, analyze_run
from xfer.analysis.pipeline import write_run_outputs
from xfer.atomic import write_json
from xfer.testing.synthetic import SyntheticRun, write_synthetic_run

LIMIT_S = 20.0
MIX = {"EC": 16, "EMC": 32}  # 640 atoms
N_FRAMES = 10_001  # 0..1000 ps at 0.1 ps


def run(workdir: Path) -> dict:
    """Write the synthetic runs, time their analysis, return the record."""
    t0 = time.perf_counter()
    common = dict(mix=MIX, n_frames=N_FRAMES, dump_every=200, timestep_fs=0.5, seed=1)
    npt = write_synthetic_run(
        workdir / "npt", SyntheticRun(ensemble="npt", density_tau_ps=2.0, **common)
    )
    nvt = write_synthetic_run(
        workdir / "nvt", SyntheticRun(ensemble="nvt", diffusivity={"EC": 0.5, "EMC": 0.4}, **common)
    )
    generate_s = time.perf_counter() - t0
    settings = AnalysisSettings()  # the paper's defaults, 1 ns full length
    timings = {}
    results = {}
    for name, path in (("npt_density", npt), ("nvt_com_msd", nvt)):
        t = time.perf_counter()
        analysis = analyze_run(path, settings)
        write_run_outputs(path, analysis)
        timings[name] = time.perf_counter() - t
        results[name] = analysis
    total = sum(timings.values())
    diff = results["nvt_com_msd"].diffusion
    dens = results["npt_density"].density
    return {
        "benchmark": "analysis of a 10,000-frame 640-atom trajectory (density + COM MSD blocks)",
        "n_frames": N_FRAMES,
        "n_atoms": 640,
        "dump_bytes": (nvt / "traj.dump").stat().st_size,
        "settings": settings.model_dump(),
        "seconds": {k: round(v, 3) for k, v in timings.items()} | {"total": round(total, 3)},
        "limit_s": LIMIT_S,
        "passed": total < LIMIT_S,
        "generate_inputs_s": round(generate_s, 3),
        "n_msd_blocks": diff.n_blocks,
        "D_cm2_s": diff.D_cm2_s,
        "D_expected_cm2_s": (16 * 0.5 + 32 * 0.4) / 48 * 1e-4,
        "density_mean": dens.mean,
        "density_sem": dens.sem,
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1min": os.getloadavg()[0],
            "python": platform.python_version(),
            "xfer": xfer.__version__,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the synthetic runs here and keep them")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results/analysis.json")
    args = parser.parse_args()
    if args.keep:
        record = run(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="xfer-bench-") as tmp:
            record = run(Path(tmp))
    write_json(args.out, record)
    print(
        f"analysis of {N_FRAMES} frames x 640 atoms: {record['seconds']} s "
        f"(limit {LIMIT_S} s, {'passed' if record['passed'] else 'FAILED'}) -> {args.out}"
    )


if __name__ == "__main__":
    main()
