"""Benchmark: a 640-atom ``xfer md`` SIGKILLed half-way resumes from its checkpoint.

Runs the acceptance system (16 EC + 32 EMC, OPLS-AA, NPT 500 K, 2 ps = 4000 steps, the
default checkpoint every 1000 steps) twice through the CLI: once whole, once SIGKILLed
just after step 2000 and rerun into the same directory. Checks that the resumed run did
the requested steps with every thermo row and dump frame once, and reports the wall time
of each part (LAMMPS time from result.json ``parts``, process time including start-up)
against the whole run. Result: benchmarks/results/checkpoint_resume.json.

    .venv/bin/python benchmarks/bench_checkpoint.py [--kill-after 2000]
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

import xfer
from xfer.atomic import write_json
from xfer.testing.interrupt import kill_when

RESULTS = Path(__file__).resolve().parent / "results"
ARGS = ["--potential", "opls", "--mix", "EC:16,EMC:32", "--density", "1.0", "--ensemble",
        "npt", "--temperature", "500", "--pressure", "1", "--time-ps", "2", "--seed", "1"]


def command(out: Path) -> list[str]:
    return [sys.executable, "-m", "xfer.cli", "md", *ARGS, "--out", str(out)]


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def unique_steps(run: Path) -> tuple[list[int], list[int]]:
    thermo = [int(line.split(",")[0]) for line in
              (run / "thermo.csv").read_text().splitlines()[1:]]
    lines = (run / "traj.dump").read_text().splitlines()
    frames = [int(lines[k + 1]) for k, line in enumerate(lines) if line == "ITEM: TIMESTEP"]
    return thermo, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill-after", type=int, default=2000, help="step to pass, then kill")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        whole_dir, resumed_dir = Path(tmp) / "whole", Path(tmp) / "resumed"
        whole_process_s = timed(command(whole_dir))
        whole = json.loads((whole_dir / "result.json").read_text())
        start = time.perf_counter()
        kill_when(command(resumed_dir), resumed_dir / "thermo.csv", args.kill_after + 10)
        killed_process_s = time.perf_counter() - start
        resume_process_s = timed(command(resumed_dir))
        resumed = json.loads((resumed_dir / "result.json").read_text())
        thermo, frames = unique_steps(resumed_dir)
    n = resumed["n_steps_requested"]
    killed_part, resumed_part = resumed["parts"]
    checks = {
        "total_steps_equal_request": resumed["n_steps_done"] == n,
        "thermo_rows_once_each": thermo == list(range(0, n + 1, resumed["thermo_every"])),
        "dump_frames_once_each": frames == list(range(0, n + 1, resumed["dump_every"])),
    }
    record = {
        "system": "16 EC + 32 EMC, OPLS-AA, NPT 500 K, 2 ps at 0.5 fs (4000 steps)",
        "n_atoms": resumed["n_atoms"],
        "checkpoint_every": 1000,
        "killed_at_step": killed_part["end_step"],
        "resumed_from_step": resumed_part["start_step"],
        "whole_run_lammps_s": whole["wall_s"],
        "whole_run_process_s": round(whole_process_s, 1),
        "killed_part_lammps_s": killed_part["wall_s"],
        "killed_part_process_s": round(killed_process_s, 1),
        "resumed_part_lammps_s": resumed_part["wall_s"],
        "resumed_part_process_s": round(resume_process_s, 1),
        "resumed_over_whole_lammps": round(resumed_part["wall_s"] / whole["wall_s"], 3),
        "resumed_over_whole_process": round(resume_process_s / whole_process_s, 3),
        "steps_resumed_over_whole": (n - resumed_part["start_step"]) / n,
        "checks": checks,
        "lammps_version": resumed["lammps_version"],
        "xfer_version": xfer.__version__,
        "host": platform.node(),
    }
    write_json(RESULTS / "checkpoint_resume.json", record)
    print(json.dumps(record, indent=2))
    if not all(checks.values()):
        sys.exit("a check failed")


if __name__ == "__main__":
    main()
