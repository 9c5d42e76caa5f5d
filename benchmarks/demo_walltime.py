"""The demo's wall time and where it goes: per campaign run, the wall time and the task
time summed per kind (dataset, training per architecture, MD per potential, analysis).

Reads each run's ``tasks/<kind>/<key>/done.json`` (label, wall_s, started, finished) and
the campaign's own total from its log (the ``... in N s`` line of ``xfer campaign run``).
Writes ``demo_walltime.json``, ``demo_walltime.csv`` (one row per run and kind) and
``demo_walltime.png`` (task time per kind, stacked, next to the wall time on 2 cores).

    .venv/bin/python benchmarks/demo_walltime.py --run before=RUN_DIR,LOG \\
        --run after=RUN_DIR,LOG [--note TEXT]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from xfer.atomic import write_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TOTAL_LINE = re.compile(r"(\d+) tasks run, (\d+) reused, (\d+) failed, \d+ skipped in (\d+) s")


def task_kind(label: str) -> str:
    """'train mace/Full/seed0' -> 'train mace'; 'md npt gap/OPLS/seed1' -> 'md gap'."""
    words = label.split()
    if words[0] == "train":
        return f"train {words[1].split('/')[0]}"
    if words[0] == "md":
        return f"md {words[2].split('/')[0]}"
    return words[0]


def summarise_run(run_dir: Path, log: Path) -> dict[str, Any]:
    """Wall time (campaign log), task span and task seconds per kind of one campaign run."""
    kinds: dict[str, dict[str, float]] = defaultdict(lambda: {"tasks": 0, "task_s": 0.0})
    starts, ends = [], []
    for done in sorted(run_dir.glob("tasks/*/*/done.json")):
        record = json.loads(done.read_text())
        entry = kinds[task_kind(record["label"])]
        entry["tasks"] += 1
        entry["task_s"] += record["wall_s"]
        starts.append(datetime.fromisoformat(record["started"]))
        ends.append(datetime.fromisoformat(record["finished"]))
    match = TOTAL_LINE.search(log.read_text())
    if match is None:
        raise SystemExit(f"error: {log} has no '... tasks run ... in N s' line")
    run, reused, failed, wall = (int(g) for g in match.groups())
    return {
        "run_dir": str(run_dir),
        "wall_s": wall,
        "tasks_run": run,
        "tasks_reused": reused,
        "tasks_failed": failed,
        "task_span_s": round((max(ends) - min(starts)).total_seconds(), 1),
        "task_s": round(sum(k["task_s"] for k in kinds.values()), 1),
        "kinds": {
            k: {"tasks": v["tasks"], "task_s": round(v["task_s"], 1)}
            for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]["task_s"])
        },
    }


def write_outputs(runs: dict[str, dict[str, Any]], note: str, out: Path) -> None:
    """demo_walltime.json, .csv and .png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(
        out / "demo_walltime.json", {"benchmark": "make demo wall time", "note": note, "runs": runs}
    )
    with open(out / "demo_walltime.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["run", "kind", "tasks", "task_s", "run_wall_s"])
        for name, run in runs.items():
            for kind, entry in run["kinds"].items():
                writer.writerow([name, kind, entry["tasks"], entry["task_s"], run["wall_s"]])
    kinds = sorted(
        {k for run in runs.values() for k in run["kinds"]},
        key=lambda k: -max(r["kinds"].get(k, {"task_s": 0})["task_s"] for r in runs.values()),
    )
    fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    names = list(runs)
    for i, name in enumerate(names):
        bottom = 0.0
        for j, kind in enumerate(kinds):
            minutes = runs[name]["kinds"].get(kind, {"task_s": 0.0})["task_s"] / 60
            ax.bar(
                i - 0.2,
                minutes,
                0.38,
                bottom=bottom,
                color=plt.cm.tab20(j % 20),
                label=kind if i == 0 else None,
            )
            bottom += minutes
        ax.bar(
            i + 0.2,
            runs[name]["wall_s"] / 60,
            0.38,
            color="0.3",
            label="wall time" if i == 0 else None,
        )
        ax.text(
            i + 0.2,
            runs[name]["wall_s"] / 60 - 0.5,
            f"{runs[name]['wall_s'] / 60:.1f}",
            ha="center",
            va="top",
            fontsize=8,
            color="white",
        )
    ax.axhline(25, color="0.5", ls="--", lw=1, label="25 min target", zorder=0)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("minutes")
    ax.set_title("task time per kind (left bar) and campaign wall time (right bar)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(out / "demo_walltime.png", dpi=150)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="NAME=RUN_DIR,LOG")
    parser.add_argument("--note", default="", help="conditions of the runs (load, commit)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs = {}
    for spec in args.run:
        name, _, paths = spec.partition("=")
        run_dir, _, log = paths.partition(",")
        runs[name] = summarise_run(Path(run_dir), Path(log))
    write_outputs(runs, args.note, args.out)
    for name, run in runs.items():
        print(f"{name}: {run['wall_s']} s wall, {run['task_s']:.0f} s of tasks")


if __name__ == "__main__":
    main()
