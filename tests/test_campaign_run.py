"""A tiny real campaign through Parsl (local-threads): GFN2-xTB-labelled frames, two tiny GAP
models, short LAMMPS runs with pair_style quip, analysis and report; then a campaign killed
with SIGKILL mid-way and restarted must redo only unfinished tasks and give the same report."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from fixtures.campaign import (
    campaign_command,
    done_markers,
    kill_when,
    write_campaign,
    write_dataset_dir,
)

from xfer.cli import main
from xfer.workflow.campaign import load_campaign
from xfer.workflow.dag import build_plan
from xfer.workflow.store import TaskStore


@pytest.fixture(scope="module")
def campaign_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny labelled dataset and its campaign (committee of 2, local-threads)."""
    root = tmp_path_factory.mktemp("campaign")
    return write_campaign(root, write_dataset_dir(root))


@pytest.fixture(scope="module")
def uninterrupted(campaign_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole campaign in one go, its output (not a terminal) in ``run.log`` beside it,
    with a progress heartbeat every 2 s."""
    out = tmp_path_factory.mktemp("uninterrupted") / "out"
    with open(out.parent / "run.log", "w") as log:
        command = campaign_command(campaign_file, out, "--heartbeat", "2")
        run = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=600)
    assert run.returncode == 0, (out.parent / "run.log").read_text()
    return out


def test_tiny_campaign_runs_resumes_and_reports(campaign_file, uninterrupted, capsys):
    out = uninterrupted
    plan = build_plan(load_campaign(campaign_file))
    store = TaskStore(out)
    assert all(store.state(t)[0] == "done" for t in plan.tasks)
    markers = done_markers(out)
    assert len(markers) == len(plan.tasks) == 12
    for member in plan.members:  # one model per seed, exported for LAMMPS, a run per ensemble
        train = store.outputs("train", plan.train[member].key)
        assert train["pair"]["pair_style"].startswith("quip") and Path(train["model"]).is_file()
        for ensemble in ("npt", "nvt"):
            md = store.outputs("md", plan.md[member, ensemble].key)
            result = json.loads((Path(md["run"]) / "result.json").read_text())
            assert result["ensemble"] == ensemble and result["n_atoms"] == 50
            assert md["t_stab_ps"] == result["t_stab_ps"] > 0
    report = (out / "report" / "report.md").read_text()
    assert "| gap | " in report and "no result" not in report
    for name in ("gap/OPLS/seed0", "gap/OPLS/seed1"):
        assert f"| {name} | " in report
    assert "pair_style quip" in report and "hardware cpu" in report
    assert (out / "report" / "report.html").read_text().count("<table>") >= 5
    assert (out / "report" / "q_matrix.png").stat().st_size > 0
    capsys.readouterr()
    # a second run finds everything done: nothing is submitted, no marker changes
    assert main(["campaign", "run", str(campaign_file), "--out", str(out)]) == 0
    assert "0 tasks run, 12 reused" in capsys.readouterr().out
    assert done_markers(out) == markers
    assert main(["campaign", "status", str(campaign_file), "--out", str(out)]) == 0
    status = capsys.readouterr().out
    assert "│ all     │    12 │   12 │" in status


def test_log_shows_task_starts_and_heartbeats_while_tasks_run(uninterrupted):
    lines = (uninterrupted.parent / "run.log").read_text().splitlines()
    ends = {m.group(1): i for i, ln in enumerate(lines) if (m := END.match(ln))}
    starts = {m.group(1): i for i, ln in enumerate(lines) if (m := START.match(ln))}
    assert len(ends) == 12 and set(starts) == set(ends)
    assert all(starts[label] < ends[label] for label in ends)
    beats = [i for i, ln in enumerate(lines) if HEARTBEAT.match(ln)]
    assert len(beats) >= 3
    # a heartbeat lists running tasks with their progress, before those tasks end
    seen: dict[str, list[str]] = {}
    for i in beats:
        for line in lines[i + 1 :]:
            if not (m := RUNNING.match(line)):
                break
            label, facts = m.groups()
            assert starts[label] < i < ends[label], line
            seen.setdefault(label.split()[0], []).append(facts)
    md = [f for f in seen.get("md", []) if (m := MD_STEPS.match(f)) and 0 < int(m[1]) < int(m[2])]
    assert md, seen  # an MD run caught mid-way: step n of N and its simulated time
    assert any(f.startswith("train") for f in seen.get("train", [])), seen


START = re.compile(r"^started (.+) on \S+ \(try 1\)$")
END = re.compile(r"^\[\d+/12\] ✓ (.+) \(\d+ s\)")
HEARTBEAT = re.compile(r"^heartbeat \S+: \d+/12 done, [1-9]\d* running, \d+ waiting$")
RUNNING = re.compile(r"^  (.+?): (.+); running \S+$")
MD_STEPS = re.compile(r"^md (\d+)/(\d+) steps \([\d.e-]+/[\d.e-]+ ps\)")


@pytest.mark.slow
@pytest.mark.ci
def test_sigkill_mid_campaign_then_restart_redoes_only_unfinished(
    campaign_file, uninterrupted, tmp_path
):
    out = tmp_path / "out"
    command = campaign_command(campaign_file, out)
    with open(tmp_path / "first.log", "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        # some MD done, the rest still running or waiting
        kill_when(proc, lambda: any((out / "tasks" / "md").glob("*/done.json")), 600)
    before = done_markers(out)
    assert 0 < len(before) < 12
    time.sleep(1.0)  # workers die with their parent (PR_SET_PDEATHSIG)
    assert done_markers(out) == before, "a worker outlived the killed campaign"
    plan = build_plan(load_campaign(campaign_file))
    states = [TaskStore(out).state(t)[0] for t in plan.tasks]
    assert "running" not in states
    restart = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert f"{len(before)} reused" in restart.stdout
    after = done_markers(out)
    assert len(after) == 12
    for task, marker in before.items():  # finished tasks were not rerun: same try, same times
        assert after[task] == marker
        assert len(list((out / task).glob("attempt-*"))) == 1
    redone = [t for t in after if t not in before and after[t]["attempt"] > 1]
    assert all((out / t / "attempt-1").is_dir() for t in redone)  # the killed try stays apart
    expected = (uninterrupted / "report" / "report.md").read_text()
    assert (out / "report" / "report.md").read_text() == expected


def test_failed_task_is_reported_with_its_reason_and_blocks_only_its_branch(
    campaign_file, tmp_path, capsys
):
    bad = tmp_path / "bad.toml"
    text = campaign_file.read_text().replace(
        'gap = { preset = "tiny" }', 'gap = { preset = "tiny", hyper = { bogus = 1 } }'
    )
    bad.write_text(text)
    out = tmp_path / "out"
    assert main(["campaign", "run", str(bad), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    run_output = captured.out
    assert "2 task(s) failed (first: train gap/OPLS/seed" in captured.err
    assert "x train gap/OPLS/seed0: unknown gap hyperparameter(s) bogus" in run_output
    assert "skipped (upstream failed)" in run_output
    assert main(["campaign", "status", str(bad), "--out", str(out)]) == 0
    status = capsys.readouterr().out
    assert "failed train gap/OPLS/seed1: unknown gap hyperparameter(s) bogus" in status
    assert "│ train   │     2 │    0 │       0 │      2 │" in status
    assert "│ recipe  │     1 │    1 │" in status  # upstream work is kept
    report = (out / "report" / "report.md").read_text()
    assert "no result: train failed: unknown gap hyperparameter(s) bogus" in report
