"""One generation of active learning in a real campaign: tiny GAP committee (2 seeds),
OPLS-AA start boxes, 2 LAMMPS exploration runs with the in-engine committee deviation,
one frame selected per trajectory, labelled with GFN2-xTB, added as tag al, committee
retrained and validated, generation metrics written; then SIGKILL during exploration and
during labelling, and a restart that redoes no finished task and duplicates no al frame."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fixtures.campaign import (
    CAMPAIGN,
    campaign_command,
    done_markers,
    kill_when,
    write_dataset_dir,
)

from xfer.data.store import Dataset
from xfer.workflow.al_dag import Loop
from xfer.workflow.campaign import load_campaign
from xfer.workflow.dag import build_plan
from xfer.workflow.store import TaskStore

AL = """
[active_learning]
architectures = ["gap"]
start_recipes = ["OPLS"]
generations = 1
committee = 2
[active_learning.explore]
compositions = [{{ EC = 2, EMC = 2 }}]
starts_per_composition = 2
time_ps = {explore_ps}
deviation_every = 2
dump_every = 2
check_every = 2
[active_learning.starts]
equilibration_ps = 0.05
sample_ps = 0.05
dump_every = 10
"""
pytest.importorskip("xfer.backends.committee_pair", reason="needs the in-LAMMPS committee")
N_TASKS = 12 + 16  # the tiny study, plus starts, 2 explore, select, label and generation 1


def write_al_campaign(root: Path, dataset: Path, explore_ps: float = 0.02) -> Path:
    path = root / "al-tiny.toml"
    text = CAMPAIGN.format(dataset=dataset, parsl="local-threads", time_ps=0.02)
    path.write_text(text + AL.format(explore_ps=explore_ps))
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset_dir(tmp_path_factory.mktemp("al-data"))


@pytest.mark.slow
@pytest.mark.ci
def test_one_gap_generation_selects_labels_adds_and_retrains(dataset, tmp_path):
    campaign = write_al_campaign(tmp_path, dataset)
    out = tmp_path / "out"
    run = subprocess.run(campaign_command(campaign, out), capture_output=True, text=True,
                         timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    plan = build_plan(load_campaign(campaign))
    store = TaskStore(out)
    assert len(plan.tasks) == N_TASKS and all(store.state(t)[0] == "done" for t in plan.tasks)
    g0, g1 = plan.al.loops[Loop("gap", "OPLS")]
    picks = store.outputs("al_select", g0.select.key)
    assert picks["n_trajectories"] == 2 and picks["n_selected"] >= 1
    label = store.outputs("al_label", g0.label.key)
    assert label["added"] == picks["n_selected"] and label["failed"] == []
    grown = Dataset.open(label["dataset"])
    al = grown.frames(["al"])
    assert len(al) == label["added"]
    base = Dataset.open(dataset).manifest["total_frames"]
    assert grown.manifest["total_frames"] == base + len(al)
    for frame in al:
        info = frame.info
        assert (info["al_generation"], info["al_arch"], info["al_recipe"]) == (1, "gap", "OPLS")
        assert info["composition"] == "EC2EMC2" and info["REF_method"] == "tblite:GFN2-xTB"
        run_dir = out / info["source_trajectory"]
        assert (run_dir / "model_devi.csv").is_file()
        steps = {int(line.split(",")[0]) for line in
                 (run_dir / "model_devi.csv").read_text().splitlines()[1:]}  # fmt: skip
        assert info["source_step"] in steps or info["source_file"] == "last_frame.dump"
    n0 = store.outputs("recipe", g0.recipe.key)["train_frames"]
    assert store.outputs("recipe", g1.recipe.key)["train_frames"] == n0 + len(al)
    for member in g1.members:  # generation 1 retrained on the grown set and validated
        assert store.done(plan.train[member]) is not None
    table = (out / "al" / "generations.csv").read_text().splitlines()
    assert table[0].startswith("generation,arch,start_recipe,n_train_frames,n_added")
    rows = [line.split(",") for line in table[1:]]
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("0", "gap", "OPLS", str(n0), "0"), ("1", "gap", "OPLS", str(n0 + len(al)), str(len(al)))
    ]
    assert (out / "al" / "generations.png").stat().st_size > 0
    assert "../al/generations.csv" in (out / "report" / "report.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["al_explore", "al_label"])
def test_sigkill_during_exploration_or_labelling_then_restart(dataset, tmp_path, kind):
    campaign = write_al_campaign(tmp_path, dataset, explore_ps=0.5)
    out = tmp_path / "out"
    command = campaign_command(campaign, out)
    running = out / "tasks" / kind
    with open(tmp_path / "first.log", "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:  # killed while a task of ``kind`` has started (a try directory exists)
            kill_when(proc, lambda: any(running.glob("*/attempt-1")), timeout=900)
        finally:
            if proc.poll() is None:
                proc.kill()
    before = done_markers(out)
    assert 0 < len(before) < N_TASKS
    cut = [p.parent for p in running.glob("*/attempt-1") if not (p.parent / "done.json").exists()]
    assert cut, f"no {kind} task was running when the campaign was killed"
    restart = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert restart.returncode == 0, restart.stdout + restart.stderr
    after = done_markers(out)
    assert len(after) == N_TASKS
    for task, marker in before.items():  # 0 redone
        assert after[task] == marker, task
    for task_dir in cut:  # the interrupted try was redone in a new one
        assert (task_dir / "done.json").is_file() and (task_dir / "attempt-2").is_dir()
    plan = build_plan(load_campaign(campaign))
    g0 = plan.al.loops[Loop("gap", "OPLS")][0]
    grown = Dataset.open(TaskStore(out).outputs("al_label", g0.label.key)["dataset"])
    ids = [f.info["frame_id"] for f in grown.frames()]
    assert len(ids) == len(set(ids))
    assert len(grown.frames(["al"])) == TaskStore(out).outputs("al_select", g0.select.key)[
        "n_selected"
    ]
