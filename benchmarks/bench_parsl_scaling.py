"""Benchmark: campaign throughput of N independent short OPLS-AA MD tasks on 1 vs 2 workers.

Each task is a real campaign ``md`` task (a worker process running LAMMPS on a 12-molecule,
160-atom 4 EC + 8 EMC box, NVT at 500 K, different seed per task) submitted through the
``local`` execution profile (Parsl HighThroughputExecutor). Throughput = tasks / wall time
from submission to the last done marker; the ratio of 2-worker to 1-worker throughput is
the speed-up (ideal 2.0 on two idle cores). The machine's load average is recorded with
the result, because other users' processes share the cores.
Result: benchmarks/results/parsl_scaling.json.

    .venv/bin/python benchmarks/bench_parsl_scaling.py [--tasks 6] [--time-ps 2.0]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import xfer
from xfer.atomic import write_json
from xfer.workflow.execution import load_profile
from xfer.workflow.store import DONE, Task, TaskStore
from xfer.workflow.tasks import app_for

RESULT = Path(__file__).resolve().parent / "results" / "parsl_scaling.json"


def md_tasks(n: int, time_ps: float, tag: str) -> list[Task]:
    """``n`` independent OPLS NVT runs (distinct seeds; ``tag`` keeps keys apart per round)."""
    settings = {
        "potential": "opls", "mix": {"EC": 4, "EMC": 8}, "ensemble": "nvt", "density": 1.1,
        "temperature": 500.0, "time_ps": time_ps, "timestep_fs": 0.5, "dump_every": 100,
        "thermo_every": 100, "density_range": None,
    }  # fmt: skip
    return [
        Task("md", f"md opls seed{k} ({tag})", {"settings": settings | {"seed": k + 1},
                                                  "bench": tag})
        for k in range(n)
    ]  # fmt: skip


def throughput(workers: int, n: int, time_ps: float, scratch: Path) -> dict:
    """Run the tasks on ``workers`` local HTEX workers; wall time and tasks per minute."""
    import parsl
    from parsl.data_provider.files import File

    out = scratch / f"workers{workers}"
    store = TaskStore(out)
    config = load_profile("local", out / "runinfo", workers=workers)
    app = app_for("md", [e.label for e in config.executors])
    dfk = parsl.load(config)
    try:
        time.sleep(5.0)  # let the worker pool connect before the clock starts
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        futures = [
            app(str(out), t.as_dict(), outputs=[File(str(store.dir_of(t) / DONE))])
            for t in md_tasks(n, time_ps, f"w{workers}")
        ]
        walls = [f.result()["wall_s"] for f in futures]
        wall = time.perf_counter() - start
    finally:
        dfk.cleanup()
        parsl.clear()
    return {
        "workers": workers,
        "tasks": n,
        "wall_s": round(wall, 2),
        "tasks_per_min": round(60.0 * n / wall, 3),
        "task_wall_s": [round(w, 2) for w in walls],
        "load_average_1min_before": round(load_before, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--time-ps", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xfer-parsl-bench-") as tmp:
        rounds = [throughput(w, args.tasks, args.time_ps, Path(tmp)) for w in (1, 2)]
    ratio = rounds[1]["tasks_per_min"] / rounds[0]["tasks_per_min"]
    record = {
        "benchmark": "parsl_scaling",
        "what": f"{args.tasks} independent OPLS-AA NVT md tasks, 160 atoms, {args.time_ps} ps, "
        "500 K, through the 'local' HighThroughputExecutor profile",
        "rounds": rounds,
        "throughput_ratio_2_vs_1": round(ratio, 3),
        "xfer_version": xfer.__version__,
        "cpus_usable": len(os.sched_getaffinity(0)),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    write_json(RESULT, record)
    print(
        f"1 worker: {rounds[0]['wall_s']:.1f} s, 2 workers: {rounds[1]['wall_s']:.1f} s for "
        f"{args.tasks} tasks; throughput ratio {ratio:.2f} -> {RESULT}"
    )


if __name__ == "__main__":
    main()
