"""benchmarks/demo_walltime.py: the demo's breakdown from a campaign run directory."""

import csv
import json
from pathlib import Path

from fixtures.scripts import benchmark_module


def _module():
    return benchmark_module("demo_walltime")


def _done(run: Path, kind: str, key: str, label: str, start: str, end: str, wall: float):
    task = run / "tasks" / kind / key
    task.mkdir(parents=True)
    record = {"label": label, "wall_s": wall, "started": start, "finished": end}
    (task / "done.json").write_text(json.dumps(record))


def test_task_kinds_group_by_architecture_and_potential():
    kind = _module().task_kind
    assert kind("train mace/Full/seed0") == "train mace"
    assert kind("md npt gap/OPLS/seed1") == "md gap"
    assert kind("md nvt opls/reference/seed0") == "md opls"
    assert kind("analyze npt deepmd/Full/seed0") == "analyze"
    assert kind("dataset build dataset-small.toml") == "dataset"


def test_breakdown_sums_task_time_per_kind_and_takes_the_logged_wall_time(tmp_path):
    mod = _module()
    run = tmp_path / "run"
    t0, t1, t2 = (f"2026-12-02T01:{m:02d}:00+00:00" for m in (0, 5, 9))
    _done(run, "train", "a", "train mace/Full/seed0", t0, t1, 300.0)
    _done(run, "train", "b", "train mace/OPLS/seed0", t0, t1, 280.0)
    _done(run, "md", "c", "md npt mace/Full/seed0", t1, t2, 240.0)
    log = tmp_path / "run.log"
    log.write_text("[3/3] ✓ md npt ...\n3 tasks run, 0 reused, 0 failed, 0 skipped in 555 s\n")
    summary = mod.summarise_run(run, log)
    assert summary["wall_s"] == 555 and summary["tasks_run"] == 3
    assert summary["task_span_s"] == 540.0
    assert summary["kinds"] == {"train mace": {"tasks": 2, "task_s": 580.0},
                                "md mace": {"tasks": 1, "task_s": 240.0}}  # fmt: skip
    assert list(summary["kinds"]) == ["train mace", "md mace"]  # largest first
    out = tmp_path / "out"
    mod.write_outputs({"after": summary}, "test", out)
    rows = list(csv.DictReader(open(out / "demo_walltime.csv")))
    assert [(r["kind"], float(r["task_s"])) for r in rows] == [("train mace", 580.0),
                                                               ("md mace", 240.0)]  # fmt: skip
    assert json.loads((out / "demo_walltime.json").read_text())["runs"]["after"] == summary
    assert (out / "demo_walltime.png").read_bytes()[:4] == b"\x89PNG"
