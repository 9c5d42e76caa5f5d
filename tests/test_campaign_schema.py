"""Campaign files: schema errors name the field and the allowed values; the DAG and its counts;
content-addressed keys; done markers and task states."""

from __future__ import annotations

import copy
import fcntl
import os
import tomllib
from pathlib import Path

import pytest

from xfer.cli import main
from xfer.errors import InputError
from xfer.workflow.campaign import load_campaign, parse_campaign
from xfer.workflow.dag import build_plan, counts
from xfer.workflow.execution import load_profile, profile_names
from xfer.workflow.store import DONE, FAILED, LOCK, Task, TaskStore, read_done

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _paper() -> dict:
    return tomllib.loads((EXAMPLES / "paper.toml").read_text())


def _error(data: dict) -> str:
    with pytest.raises(InputError) as info:
        parse_campaign(data, EXAMPLES / "paper.toml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_paper_dry_run_counts_every_task():
    plan = build_plan(load_campaign(EXAMPLES / "paper.toml"))
    table = {kind: sum(c.values()) for kind, c in counts(plan).items()}
    # 5 recipes x 3 archs x 5 seeds models, an NPT and an NVT run each, one analysis per run;
    # the reference is the gap/Full committee of the campaign itself (no extra runs)
    assert table == {"dataset": 1, "recipe": 5, "train": 75, "md": 150, "analyze": 150}
    assert len({t.key for t in plan.tasks}) == len(plan.tasks) == 381
    assert "OPLS+AL12" not in plan.campaign.training.recipes  # needs al frames it does not make
    assert [m.name for m in plan.reference] == [f"gap/Full/seed{k}" for k in range(5)]
    npt = next(t for (m, e), t in plan.md.items() if e == "npt")
    assert npt.spec["settings"]["mix"] == {"EC": 16, "EMC": 32}
    assert npt.spec["settings"]["time_ps"] == 1000.0


def test_cli_dry_run_prints_dag_and_counts_and_runs_nothing(capsys, tmp_path):
    code = main(["campaign", "run", str(EXAMPLES / "paper.toml"), "--dry-run",
                 "--out", str(tmp_path / "paper")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "train mace/OPLS+EC+EMC/seed4" in out
    assert "md nvt gap/Full/seed0" in out
    assert "│ train   │    75 │" in out and "│ all     │   381 │" in out
    assert not (tmp_path / "paper").exists()


def test_mini_example_validates_and_stays_small():
    campaign = load_campaign(EXAMPLES / "mini.toml")
    plan = build_plan(campaign)
    assert set(campaign.training.architectures) == {"mace", "deepmd", "gap"}
    assert len(plan.train) == 3 * len(campaign.training.recipes) * 2
    assert campaign.analysis_settings.full_length_ps == campaign.md.time_ps
    assert sum(campaign.md.mix.values()) == 12


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        (lambda d: d["training"]["architectures"].update(schnet={}),
         ["training.architectures.schnet", "allowed: deepmd, gap, mace"]),
        (lambda d: d["training"].update(recipes=["OPLS", "Nope"]),
         ["training.recipes.1", "'Nope'", "allowed: OPLS, OPLS+SM"]),
        (lambda d: d["training"]["architectures"]["mace"].update(preset="huge"),
         ["training.architectures.mace.preset", "'tiny' or 'paper'"]),
        (lambda d: d["md"].update(temprature=500.0),
         ["md.temprature", "unknown field", "allowed: mix, temperature, time_ps"]),
        (lambda d: d["md"].update(mix={"EC": 4, "XYZ": 8}),
         ["md.mix", "XYZ", "allowed: DEC, DMC, EC, EMC, PC, VC"]),
        (lambda d: d["md"]["npt"].update(density=-1.0),
         ["md.npt.density", "greater than 0"]),
        (lambda d: d["training"]["architectures"]["gap"].update(recipes=["Full", "Nope"]),
         ["training.architectures.gap.recipes.1", "'Nope'", "allowed: OPLS, OPLS+SM"]),
        (lambda d: d["training"]["architectures"]["gap"].update(recipes=["OPLS"]),
         ["reference.recipe", "'Full' is not trained here for gap", "allowed: OPLS"]),
        (lambda d: d["md"]["npt"].update(pdamp_fs=0.0), ["md.npt.pdamp_fs", "greater than 0"]),
        (lambda d: d["reference"].update(arch="schnet"),
         ["reference.arch", "allowed: mace, deepmd, gap"]),
        (lambda d: d["analysis"].update(full_length_ps=5.0),
         ["analysis.full_length_ps", "md.time_ps"]),
        (lambda d: d["analysis"].update(block_ps="long"),
         ["analysis.block_ps"]),
        (lambda d: d.pop("dataset"), ["dataset: required field missing"]),
        (lambda d: d["dataset"].update(path="x"), ["dataset", "exactly one of build"]),
        (lambda d: d["training"].update(seeds=[0, 1]), ["training", "committee = N or seeds"]),
        (lambda d: d.update(extra={}), ["extra: unknown field", "allowed: campaign, dataset"]),
    ],
)  # fmt: skip
def test_invalid_fields_are_named_with_allowed_values(edit, needles):
    data = copy.deepcopy(_paper())
    edit(data)
    message = _error(data)
    for needle in needles:
        assert needle in message, message


def test_cli_reports_bad_file_and_profile_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[training\n")
    assert main(["campaign", "run", str(bad), "--dry-run"]) == 2
    assert "invalid TOML" in capsys.readouterr().err
    code = main(["campaign", "run", str(EXAMPLES / "paper.toml"), "--parsl", "nowhere"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "allowed: local, local-threads, pbs, slurm-cpu, slurm-gpu" in err


def test_bundled_profiles_make_parsl_configs(tmp_path):
    assert {"local", "local-threads", "slurm-cpu", "slurm-gpu", "pbs"} <= set(profile_names())
    threads = load_profile("local-threads", tmp_path / "a", workers=3)
    assert threads.executors[0].max_threads == 3
    local = load_profile("local", tmp_path / "b", workers=2)
    assert local.executors[0].max_workers_per_node == 2
    labels = {e.label for e in load_profile("slurm-gpu", tmp_path / "c").executors}
    assert labels == {"gpu", "cpu"}
    [cpu] = load_profile("slurm-cpu", tmp_path / "e").executors  # slurm-gpu's CPU executor
    assert cpu.label == "cpu" and not cpu.available_accelerators
    gpu = next(e for e in load_profile("pbs", tmp_path / "d").executors if e.label == "gpu")
    assert gpu.available_accelerators


def test_architecture_recipe_subset_barostat_damping_and_minimization_shape_the_plan():
    data = _paper()
    full = build_plan(parse_campaign(copy.deepcopy(data), EXAMPLES / "paper.toml"))
    data["training"]["architectures"]["gap"]["recipes"] = ["Full"]
    data["md"]["npt"]["pdamp_fs"] = 500.0
    data["md"]["minimize_steps"] = 200
    plan = build_plan(parse_campaign(data, EXAMPLES / "paper.toml"))
    assert {m.recipe for m in plan.members if m.arch == "gap"} == {"Full"}
    others = len(data["training"]["recipes"]) - 1
    assert len(plan.train) == len(full.train) - others * 5  # GAP's other recipes x 5 seeds
    assert [m.name for m in plan.reference] == [f"gap/Full/seed{k}" for k in range(5)]
    runs = {e: t.spec["settings"] for (m, e), t in plan.md.items() if m.name == "mace/OPLS/seed0"}
    assert runs["npt"]["pdamp_fs"] == 500.0 and "pdamp_fs" not in runs["nvt"]
    assert runs["npt"]["minimize_steps"] == runs["nvt"]["minimize_steps"] == 200
    # unset options add no key: plans of older campaign files keep their task keys
    for key in ("pdamp_fs", "minimize_steps"):
        assert all(key not in t.spec["settings"] for t in full.md.values())


def test_keys_follow_inputs_and_dependencies():
    data = _paper()
    plan = build_plan(parse_campaign(copy.deepcopy(data), EXAMPLES / "paper.toml"))
    again = build_plan(parse_campaign(copy.deepcopy(data), EXAMPLES / "paper.toml"))
    assert [t.key for t in plan.tasks] == [t.key for t in again.tasks]
    data["md"]["temperature"] = 450.0
    hotter = build_plan(parse_campaign(data, EXAMPLES / "paper.toml"))
    assert [t.key for t in hotter.train.values()] == [t.key for t in plan.train.values()]
    assert not {t.key for t in hotter.md.values()} & {t.key for t in plan.md.values()}
    assert not {t.key for t in hotter.analyze.values()} & {t.key for t in plan.analyze.values()}


def test_only_a_done_marker_with_its_outputs_counts(tmp_path):
    store = TaskStore(tmp_path)
    task = Task("md", "md npt x", {"a": 1})
    directory = store.dir_of(task)
    assert store.state(task) == ("pending", "")
    (directory / "attempt-1" / "run").mkdir(parents=True)
    (directory / "attempt-1" / "run" / "thermo.csv").write_text("partial")
    assert store.state(task)[0] == "interrupted" and store.done(task) is None
    (directory / DONE).write_text('{"output": "attempt-1", "res')  # torn write
    assert read_done(directory) is None
    (directory / DONE).write_text('{"output": "attempt-2", "result": {}}')  # outputs missing
    assert read_done(directory) is None
    (directory / FAILED).write_text('{"reason": "worker exited with code 1"}')
    assert store.state(task) == ("failed", "worker exited with code 1")
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert store.state(task)[0] == "running"
    finally:
        os.close(fd)
    (directory / DONE).write_text('{"output": "attempt-1", "result": {}, "note": "halted"}')
    assert store.state(task) == ("done", "halted")
