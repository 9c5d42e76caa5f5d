"""Early stop and warm start of active-learning loops, for MACE, DeePMD and GAP loops.

The DAG: with ``[active_learning.stop]`` a gate per generation scores the validation and
every exploration of that generation waits for it; ``init = "previous"`` chains each seed's
training to the same seed's model of the generation before (MACE, DeePMD; GAP refits, so
its tasks are the fresh ones). The gate on synthetic analysed runs with known Q, and a
task downstream of a stopped gate finishing as not needed without running."""

from __future__ import annotations

import copy
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from xfer.analysis.pipeline import analyze_run, write_run_outputs
from xfer.analysis.settings import AnalysisSettings
from xfer.atomic import write_json
from xfer.testing.synthetic import SyntheticRun, write_synthetic_model
from xfer.workflow.al_dag import Loop
from xfer.workflow.al_tasks import work_al_gate
from xfer.workflow.campaign import parse_campaign
from xfer.workflow.dag import build_plan
from xfer.workflow.store import DONE, Task, TaskStore
from xfer.workflow.tasks import execute

AL_PAPER = Path(__file__).resolve().parents[1] / "examples" / "al-paper.toml"
ARCHS = ("mace", "deepmd", "gap")


def _plan(**al):
    data = tomllib.loads(AL_PAPER.read_text())
    data["active_learning"].update(copy.deepcopy(al))
    return build_plan(parse_campaign(data, AL_PAPER))


@pytest.mark.parametrize("arch", ARCHS)
def test_stop_gates_every_generation_s_exploration(arch):
    plan = _plan(stop={"q_min": 2.5, "all_stable": True})
    chain = plan.al.loops[Loop(arch, "OPLS")]
    n_ref = len(plan.reference)
    for gen in chain[:-1]:
        gate = gen.gate
        assert gate.spec["stop"] == {"q_min": 2.5, "all_stable": True}
        members = [plan.analyze[m, e] for e in ("npt", "nvt") for m in gen.members]
        refs = [plan.analyze[m, e] for e in ("npt", "nvt") for m in plan.reference]
        assert sorted(gate.deps.values()) == sorted(f"analyze/{t.key}" for t in members + refs)
        assert len(gate.deps) == 2 * (len(gen.members) + n_ref)
        assert all(t.deps["gate"] == f"al_gate/{gate.key}" for t in gen.explore)
    assert chain[-1].gate is None  # the last generation explores nothing
    # generation 0's study tasks are the same with or without a stop; explorations are not
    fresh = _plan()
    keys = {t.key for t in fresh.tasks}
    assert all(plan.train[m].key in keys for m in chain[0].members)
    assert not any(t.key in keys for t in chain[0].explore)


@pytest.mark.parametrize("arch", ARCHS)
def test_warm_start_chains_seeds_where_the_architecture_has_weights(arch):
    warm, fresh = _plan(init="previous"), _plan()
    chain = warm.al.loops[Loop(arch, "OPLS+VS")]
    fresh_keys = {t.key for t in fresh.tasks}
    for prev, gen in zip(chain, chain[1:], strict=False):
        for seed, member in enumerate(gen.members):
            task = warm.train[member]
            if arch == "gap":  # no weights: a refit, the very tasks of a fresh loop
                assert "init" not in task.deps and task.key in fresh_keys
            else:
                assert task.deps["init"] == f"train/{warm.train[prev.members[seed]].key}"
                assert task.spec["init"] == "previous" and task.key not in fresh_keys
    assert all("init" not in warm.train[m].deps for m in chain[0].members)


SETTINGS = AnalysisSettings(full_length_ps=10.0, equilibration_ps=2.0, block_ps=4.0,
                            block_spacing_ps=1.0, ballistic_ps=1.0)  # fmt: skip


def _analysed(root: Path, seed: int, halted_at: int | None = None) -> dict[str, dict]:
    """Synthetic NPT + NVT runs of one model, analysed as an analyze task does."""
    model = write_synthetic_model(
        root,
        SyntheticRun(ensemble="npt", seed=seed, density_tau_ps=0.3, halted_at_frame=halted_at),
        SyntheticRun(ensemble="nvt", seed=seed + 100, halted_at_frame=halted_at,
                     diffusivity={"EC": 0.5, "EMC": 0.5}),
    )  # fmt: skip
    out = {}
    for ensemble in ("npt", "nvt"):
        write_run_outputs(model / ensemble, analyze_run(model / ensemble, SETTINGS))
        out[ensemble] = {"analysis": str(model / ensemble / "analysis.json")}
    return out


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> dict[str, dict[str, dict]]:
    root = tmp_path_factory.mktemp("gate")
    runs = {"ref0": _analysed(root / "ref0", 1), "ref1": _analysed(root / "ref1", 2)}
    shutil.copytree(root / "ref0", root / "same")  # the reference's own runs: Q close to 3
    runs["same"] = {e: {"analysis": str(root / "same" / e / "analysis.json")}
                    for e in ("npt", "nvt")}  # fmt: skip
    runs["halted"] = _analysed(root / "halted", 5, halted_at=40)
    return runs


def _gate(analysed, members: list[str], stop: dict) -> dict:
    deps = {}
    for e in ("npt", "nvt"):
        deps |= {f"{e}{k}": analysed[name][e] for k, name in enumerate(members)}
        deps |= {f"ref_{e}{k}": analysed[f"ref{k}"][e] for k in range(2)}
    spec = {"stop": stop, "generation": 3, "analysis": SETTINGS.model_dump(mode="json")}
    return work_al_gate(spec, deps, Path("."), Path("."))


def test_gate_stops_a_committee_that_meets_every_target(analysed):
    result = _gate(analysed, ["same", "ref1"], {"q_min": 2.5, "all_stable": True})
    assert result["target_met"] and result["n_stable"] == result["n_models"] == 2
    assert result["Q"] >= 2.5
    assert result["stopped"]["generation"] == 3 and "2/2 stable" in result["stopped"]["reason"]


def test_gate_goes_on_below_a_target(analysed):
    both = {"q_min": 2.5, "all_stable": True}
    unstable = _gate(analysed, ["same", "halted"], both)
    assert not unstable["target_met"] and "stopped" not in unstable
    assert unstable["n_stable"] == 1 and unstable["Q"] < 2.5
    assert not _gate(analysed, ["same", "halted"], {"all_stable": True})["target_met"]
    low = _gate(analysed, ["same", "halted"], {"q_min": 1.0})  # Q mean ~1.7 passes 1.0
    assert low["target_met"] and low["Q"] > 1.0


def test_task_downstream_of_a_stopped_loop_is_done_without_running(tmp_path):
    store = TaskStore(tmp_path)
    gate = Task("al_gate", "al gate gap/OPLS g2", {"generation": 2})
    directory = store.dir_of(gate)
    (directory / "attempt-1").mkdir(parents=True)
    stopped = {"generation": 2, "reason": "Q 2.7, 5/5 stable"}
    write_json(directory / DONE, {"output": "attempt-1", "note": "", "result": {
        "target_met": True, "stopped": stopped}})  # fmt: skip
    # an explore task whose own work could not run here (no models, no start boxes)
    explore = Task("al_explore", "al explore gap/OPLS g2", {"settings": {}, "start": 0},
                   {"gate": f"al_gate/{gate.key}"})  # fmt: skip
    done = execute(str(tmp_path), explore.as_dict())
    assert done["result"] == {"stopped": stopped}
    assert "not needed" in done["note"] and "generation 2" in done["note"]
    assert json.loads((store.dir_of(explore) / DONE).read_text())["result"]["stopped"] == stopped
