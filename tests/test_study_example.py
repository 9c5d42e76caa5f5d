"""examples/study.toml (issue 14): the section-4.1 study plans as documented."""

from pathlib import Path

from xfer.workflow.campaign import load_campaign
from xfer.workflow.dag import build_plan, counts

STUDY = Path(__file__).resolve().parents[1] / "examples" / "study.toml"


def test_study_plans_five_recipes_three_seeds_and_a_gap_full_reference():
    plan = build_plan(load_campaign(STUDY))
    table = {kind: sum(c.values()) for kind, c in counts(plan).items()}
    # 5 recipes x (mace, deepmd) x 3 seeds, plus gap on Full only (the reference) x 3 seeds
    assert table == {"dataset": 1, "recipe": 5, "train": 33, "md": 66, "analyze": 66}
    assert plan.campaign.training.recipes == ["OPLS", "OPLS+SM", "OPLS+VS", "Full", "OPLS+EC+EMC"]
    assert [m.name for m in plan.reference] == [f"gap/Full/seed{k}" for k in range(3)]
    npt = next(t for (m, e), t in plan.md.items() if e == "npt")
    settings = npt.spec["settings"]
    assert settings["mix"] == {"EC": 4, "EMC": 8} and settings["temperature"] == 500.0
    assert plan.campaign.md.time_ps >= 1.0
    # docs/study/conditions.md: a minimised start and a 0.5 ps barostat
    assert settings["minimize_steps"] > 0 and settings["pdamp_fs"] == 500.0
    nvt = next(t for (m, e), t in plan.md.items() if e == "nvt").spec["settings"]
    assert nvt["minimize_steps"] == settings["minimize_steps"] and "pdamp_fs" not in nvt
