"""The progress-file contract (xfer.progress) and what the campaign driver makes of it
(xfer.workflow.live): tasks write ``progress.json`` in their try's directory, the driver
detects started tries and prints their progress in heartbeats."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from rich.console import Console

import xfer.progress as progress
from xfer.backends import get_backend
from xfer.backends.deepmd import last_step
from xfer.backends.mace import last_epoch
from xfer.lammps.progress import ThermoWatcher
from xfer.progress import tail_lines
from xfer.workflow.campaign import load_campaign
from xfer.workflow.dag import build_plan
from xfer.workflow.live import LiveView, LogView, TaskWatch, describe, duration
from xfer.workflow.status import print_status
from xfer.workflow.store import ATTEMPT, Task, TaskStore, locked


@pytest.fixture
def clock(monkeypatch, tmp_path):
    """A progress file for this process and a clock the test moves by hand."""
    now = [1000.0]
    monkeypatch.setattr(progress, "_clock", lambda: now[0])
    monkeypatch.setenv(progress.PROGRESS_ENV, str(tmp_path / progress.PROGRESS))
    return now


def test_report_writes_counts_and_a_time_estimate_at_most_once_a_second(clock, tmp_path):
    path = tmp_path / progress.PROGRESS
    progress.report("label opls", 2, 10, "frames")
    first = json.loads(path.read_text())
    assert first["phase"] == "label opls" and (first["done"], first["total"]) == (2, 10)
    assert first["eta_s"] is None  # no rate yet
    clock[0] += 4.0
    progress.report("label opls", 4, 10, "frames")
    assert json.loads(path.read_text())["eta_s"] == 12.0  # 6 frames left at 2 s per frame
    clock[0] += 0.5
    progress.report("label opls", 5, 10, "frames")  # within a second: not written
    assert json.loads(path.read_text())["done"] == 4
    progress.report("label opls", 10, 10, "frames")  # the end of a phase always is
    assert json.loads(path.read_text())["done"] == 10
    clock[0] += 0.1
    progress.report("md", detail="setting up")  # a new phase starts its own rate
    record = json.loads(path.read_text())
    assert record["phase"] == "md" and record["done"] is None and record["eta_s"] is None


def test_report_outside_a_task_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    progress.report("md", 1, 2, "steps")
    assert list(tmp_path.iterdir()) == []


def test_thermo_watcher_follows_a_growing_thermo_csv(tmp_path):
    path = tmp_path / "thermo.csv"
    path.write_text("step,temp\n")
    steps: list[int] = []
    with ThermoWatcher(path, steps.append, interval=0.02):
        for step in range(0, 50, 10):
            with open(path, "a") as fh:
                fh.write(f"{step},300.0\n")
            time.sleep(0.05)
    assert steps[-1] == 40 and steps == sorted(steps) and len(set(steps)) >= 3


def test_real_mace_training_reports_its_epochs(clock, gap_train_file, tmp_path):
    hyper = {"preset": "tiny", "max_num_epochs": 2, "num_channels": 8}
    get_backend("mace").train(gap_train_file, gap_train_file, tmp_path / "m", 0, hyper)
    record = json.loads((tmp_path / progress.PROGRESS).read_text())
    assert (record["phase"], record["done"], record["total"]) == ("train", 2, 2)
    assert record["unit"] == "epochs"


def test_trainer_log_tails_give_epochs_and_steps():
    mace = [
        "INFO: Initial: head: Default, loss=1.0, RMSE_E_per_atom=  9.00 meV",
        "INFO: Epoch 0: head: Default, loss=0.5, RMSE_E_per_atom=  5.00 meV",
        "INFO: Epoch 1: head: Default, loss=0.4, RMSE_E_per_atom=  4.00 meV",
        "INFO: Saving model to checkpoints/mace_run-0_epoch-1.pt",
    ]
    assert last_epoch(mace[:1]) is None and last_epoch(mace) == 2
    lcurve = [
        "#  step      rmse_val    rmse_trn    lr",
        "      0      1.0e+01     1.2e+01  1.0e-02",
        "    300      2.0e+00     2.1e+00  8.0e-03",
        "",
    ]
    assert last_step(lcurve[:1]) is None and last_step(lcurve) == 300


def test_describe_and_duration():
    assert duration(45) == "45s" and duration(185) == "3m05s" and duration(7620) == "2h07m"
    assert describe(None) == "starting"
    record = {"phase": "md", "done": 400, "total": 2000, "unit": "steps",
              "detail": "0.2/1 ps", "eta_s": 65}  # fmt: skip
    assert describe(record) == "md 400/2000 steps (0.2/1 ps), ~1m05s left"
    assert describe({"phase": "train", "detail": "gap_fit on 3 frames"}) == (
        "train (gap_fit on 3 frames)"
    )


def test_driver_sees_a_try_start_and_prints_its_progress_in_heartbeats(tmp_path):
    store = TaskStore(tmp_path)
    old, fresh = Task("md", "md npt a", {"x": 1}), Task("train", "train b", {"x": 2})
    (store.dir_of(old) / "attempt-1").mkdir(parents=True)
    (store.dir_of(old) / ATTEMPT).write_text(json.dumps({"attempt": 1, "host": "n1"}))
    watch = TaskWatch(store)
    watch.add(old)  # a try from before this run (e.g. killed): not a start
    watch.add(fresh)
    out = io.StringIO()
    view = LogView(Console(file=out, width=200), total=3, done=1, heartbeat_s=0)
    assert watch.poll() == []
    directory = store.dir_of(fresh)
    (directory / "attempt-1").mkdir(parents=True)
    (directory / ATTEMPT).write_text(json.dumps({"attempt": 1, "host": "node7"}))
    record = {"phase": "train", "done": 3, "total": 40, "unit": "epochs", "eta_s": 74}
    (directory / "attempt-1" / progress.PROGRESS).write_text(json.dumps(record))
    [run] = watch.poll()
    view.started(run)
    view.update(watch)
    lines = out.getvalue().splitlines()
    assert lines[0] == "started train b on node7 (try 1)"
    assert lines[1].startswith("heartbeat 0s: 1/3 done, 1 running, 1 waiting")
    assert lines[2] == "  train b: train 3/40 epochs, ~1m14s left; running 0s"
    watch.finish(fresh)
    view.finished("[2/3] ✓ train b (9 s)")
    view.update(watch)
    assert out.getvalue().splitlines()[-1] == "heartbeat 0s: 2/3 done, 0 running, 1 waiting"


def test_live_view_shows_each_running_task_with_its_progress(tmp_path):
    store = TaskStore(tmp_path)
    task = Task("md", "md npt a", {"x": 3})
    watch = TaskWatch(store)
    watch.add(task)
    directory = store.dir_of(task)
    (directory / "attempt-1").mkdir(parents=True)
    (directory / ATTEMPT).write_text(json.dumps({"attempt": 1, "host": "n1"}))
    record = {"phase": "md", "done": 400, "total": 2000, "unit": "steps", "eta_s": 30}
    (directory / "attempt-1" / progress.PROGRESS).write_text(json.dumps(record))
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True, color_system=None)
    with LiveView(console, total=2, done=0) as view:
        [run] = watch.poll()
        view.started(run)
        view.update(watch)
        view.progress.refresh()
        shown = out.getvalue()
        assert "started md npt a on n1 (try 1)" in shown
        assert "md npt a" in shown and "md 400/2000 steps, ~30s left" in shown
        assert "0/2 done, 1 running, 0 waiting" in shown
        watch.finish(task)
        view.finished("[1/2] ✓ md npt a (9 s)")
        view.update(watch)
        assert len(view.rows) == 0


def test_status_shows_the_progress_of_running_tasks(tmp_path):
    plan = build_plan(
        load_campaign(Path(__file__).resolve().parents[1] / "examples" / "paper.toml")
    )
    store = TaskStore(tmp_path)
    task = plan.tasks[0]
    directory = store.dir_of(task)
    out = io.StringIO()
    with locked(directory):  # held, as by a live try
        (directory / "attempt-1").mkdir()
        (directory / ATTEMPT).write_text(json.dumps({"attempt": 1, "host": "n1"}))
        record = {"phase": "label opls", "done": 12, "total": 40, "unit": "frames"}
        (directory / "attempt-1" / progress.PROGRESS).write_text(json.dumps(record))
        print_status(plan, store, Console(file=out, width=200))
    assert f"running {task.label}: label opls 12/40 frames" in out.getvalue()


def test_real_deepmd_learning_curve_gives_its_last_step(deepmd_models_root):
    curves = sorted(deepmd_models_root.rglob("lcurve.out"))
    assert curves, "deepmd wrote no lcurve.out"
    steps = json.loads((curves[0].parent / "input.json").read_text())["training"]["numb_steps"]
    assert last_step(tail_lines(curves[0])) == steps
