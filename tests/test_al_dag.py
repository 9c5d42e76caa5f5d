"""The active-learning DAG of a campaign: generations chained through their label tasks,
content-addressed keys, tasks shared with the main study kept once, and the dry run."""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path

from xfer.cli import main
from xfer.workflow.al_dag import Loop
from xfer.workflow.campaign import load_campaign, parse_campaign
from xfer.workflow.dag import build_plan, counts

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
AL_PAPER = EXAMPLES / "al-paper.toml"


def test_al_paper_plan_has_the_paper_scale_per_generation():
    plan = build_plan(load_campaign(AL_PAPER))
    table = {kind: sum(c.values()) for kind, c in counts(plan).items()}
    loops = 3 * 4  # architectures x starting recipes
    assert len(plan.al.loops) == loops
    assert table["al_starts"] == 5
    assert table["al_explore"] == loops * 12 * 25
    assert table["al_select"] == table["al_label"] == loops * 12
    # generation 0 is the main study's committees; 12 more generations of 5 seeds per loop
    assert table["train"] == 3 * 4 * 5 + loops * 12 * 5
    assert table["recipe"] == 4 + loops * 12
    assert len({t.key for t in plan.tasks}) == len(plan.tasks)
    assert plan.al.counts[0]["al_explore"] == loops * 25 and plan.al.counts[0]["train"] == 0
    assert plan.al.counts[12]["al_explore"] == 0 and plan.al.counts[12]["train"] == loops * 5


def test_generations_chain_through_labels_and_explore_with_the_committee():
    plan = build_plan(load_campaign(AL_PAPER))
    chain = plan.al.loops[Loop("deepmd", "OPLS+VS")]
    assert [g.number for g in chain] == list(range(13))
    assert chain[0].recipe.key == next(
        t.key for t in plan.tasks if t.kind == "recipe" and t.label == "recipe OPLS+VS"
    )
    for prev, gen in zip(chain, chain[1:], strict=False):
        assert gen.recipe.deps == {"dataset": f"al_label/{prev.label.key}"}
        assert prev.label.deps["select"] == f"al_select/{prev.select.key}"
        assert set(prev.select.deps.values()) == {f"al_explore/{t.key}" for t in prev.explore}
        tags = [s["tags"] for s in gen.recipe.spec["recipe"]["select"]]
        assert tags == [["opls"], ["vs"], ["al"]]
    assert chain[1].label.deps["dataset"] == f"al_label/{chain[0].label.key}"
    assert chain[0].label.deps["dataset"] == f"dataset/{plan.dataset.key}"
    explore = chain[3].explore[0]
    members = [plan.train[m] for m in chain[3].members]
    assert [explore.deps[f"member{k}"] for k in range(5)] == [f"train/{t.key}" for t in members]
    settings = explore.spec["settings"]
    assert settings["max_force_deviation"] == math.sqrt(0.5)
    assert (settings["bond_stretch_rel"], settings["density_range"]) == (1.0, [0.2, 1.2])
    assert (settings["time_ps"], settings["ensemble"]) == (500.0, "npt")
    assert chain[12].explore == [] and chain[12].label is None


def test_keys_are_stable_and_follow_al_settings():
    data = tomllib.loads(AL_PAPER.read_text())
    plan = build_plan(parse_campaign(copy.deepcopy(data), AL_PAPER))
    again = build_plan(parse_campaign(copy.deepcopy(data), AL_PAPER))
    assert [t.key for t in plan.tasks] == [t.key for t in again.tasks]
    data["active_learning"]["max_force_variance"] = 0.3
    other = build_plan(parse_campaign(data, AL_PAPER))
    same = {t.key for t in plan.tasks} & {t.key for t in other.tasks}
    kinds = {t.kind for t in plan.tasks if t.key in same}
    # generation 0 (main study, start boxes) is unchanged; every explore task changes
    assert "al_explore" not in kinds and {"al_starts", "train", "dataset"} <= kinds
    first = plan.al.loops[Loop("gap", "OPLS")][1].recipe.key
    assert first not in {t.key for t in other.tasks}


def test_dry_run_lists_generation_zero_and_counts_every_generation(capsys, tmp_path):
    code = main(["campaign", "run", str(AL_PAPER), "--dry-run", "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 0 and not (tmp_path / "o").exists()
    assert "al explore deepmd/OPLS+VS g0 EC2EMC10 s0" in out
    assert "al label gap/Full g0" in out and "al starts EC10EMC2" in out
    assert " g1 " not in out and "@al1" not in out  # later generations only counted
    assert "new tasks per generation" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("0 ", "12 "))]
    assert ["0", "0", "0", "0", "0", "5", "300", "12", "12", "0", "329"] in rows  # no gate
    assert ["12", "12", "60", "120", "120", "0", "0", "0", "0", "0", "312"] in rows


def test_al_mini_example_is_two_generations_of_five_trajectories():
    campaign = load_campaign(EXAMPLES / "al-mini.toml")
    plan = build_plan(campaign)
    assert campaign.al_architectures == ["deepmd", "gap"]
    assert len(plan.al.loops) == 4 and campaign.active_learning.trajectories_per_generation == 5
    chain = plan.al.loops[Loop("gap", "OPLS+VS")]
    assert len(chain) == 3 and [len(g.explore) for g in chain] == [5, 5, 0]
    assert {m.seed for m in chain[2].members} == {0, 1}
