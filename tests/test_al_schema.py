"""The [active_learning] campaign table: SPEC section 6 numbers as defaults, the variance to
deviation conversion, and one-line errors that name the field and the allowed values."""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path

import pytest

from xfer.errors import InputError
from xfer.workflow.campaign import parse_campaign

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _with_al(**table) -> dict:
    data = tomllib.loads((EXAMPLES / "paper.toml").read_text())
    data["active_learning"] = {"start_recipes": ["OPLS", "OPLS+VS"], **table}
    return data


def _error(data: dict) -> str:
    with pytest.raises(InputError) as info:
        parse_campaign(data, EXAMPLES / "paper.toml")
    assert "\n" not in str(info.value)
    return str(info.value)


def test_defaults_are_the_numbers_of_spec_section_6():
    campaign = parse_campaign(_with_al(), EXAMPLES / "paper.toml")
    al = campaign.active_learning
    assert (al.generations, al.committee, al.init, al.select) == (12, 5, "fresh", "first_above")
    assert al.max_force_variance == 0.5
    assert al.max_force_deviation == pytest.approx(math.sqrt(0.5)) == pytest.approx(0.70710678)
    ex = al.explore
    assert [(c["EC"], c["EMC"]) for c in ex.compositions] == [(2, 10), (4, 8), (6, 6), (8, 4),
                                                               (10, 2)]  # fmt: skip
    assert all(sum(c.values()) == 12 for c in ex.compositions)
    assert (ex.starts_per_composition, ex.time_ps, al.trajectories_per_generation) == (5, 500, 25)
    assert (ex.bond_stretch_rel, ex.density_range) == (1.0, (0.2, 1.2))
    assert ex.temperature is None and ex.pressure == 1.0
    assert campaign.al_architectures == ["mace", "deepmd", "gap"]


def test_every_number_is_configurable():
    explore = {"compositions": [{"EC": 4, "EMC": 8}], "starts_per_composition": 2,
               "time_ps": 1.0, "deviation_every": 5, "dump_every": 10,
               "density_range": [0.3, 1.1], "bond_stretch_rel": 0.8}  # fmt: skip
    data = _with_al(architectures=["gap"], generations=2, committee=2, max_force_variance=0.09,
                    select="max_variance", explore=explore,
                    starts={"seed": 7, "sample_ps": 3.0})  # fmt: skip
    campaign = parse_campaign(data, EXAMPLES / "paper.toml")
    al = campaign.active_learning
    assert al.max_force_deviation == pytest.approx(0.3)
    assert al.trajectories_per_generation == 2 and campaign.al_architectures == ["gap"]
    assert al.starts.settings().seed == 7 and al.starts.settings().sample_ps == 3.0
    assert al.explore.density_range == (0.3, 1.1)


@pytest.mark.parametrize(
    ("table", "needles"),
    [
        ({"architectures": ["schnet"]},
         ["active_learning.architectures.0", "'schnet'", "allowed: mace, deepmd, gap"]),
        ({"start_recipes": ["OPLS", "Nope"]},
         ["active_learning.start_recipes.1", "'Nope'", "allowed: OPLS, OPLS+SM"]),
        ({"start_recipes": []}, ["active_learning.start_recipes", "at least 1"]),
        ({"committee": 1}, ["active_learning.committee", "greater than or equal to 2"]),
        ({"max_force_variance": 0}, ["active_learning.max_force_variance", "greater than 0"]),
        ({"select": "random"}, ["active_learning.select", "'first_above' or 'max_variance'"]),
        ({"init": "random"}, ["active_learning.init", "'fresh' or 'previous'"]),
        ({"threshold": 0.5},
         ["active_learning.threshold: unknown field", "allowed: architectures, start_recipes"]),
        ({"explore": {"compositions": [{"EC": 4, "XYZ": 8}]}},
         ["active_learning.explore", "compositions[0]", "XYZ", "allowed: DEC, DMC, EC, EMC"]),
        ({"explore": {"dump_every": 15}},
         ["dump_every (15) must be a multiple of deviation_every"]),
        ({"explore": {"density_range": [1.2, 0.2]}}, ["density_range must be [min, max]"]),
        ({"explore": {"compositions": [{"EC": 4, "EMC": 8}, {"EMC": 8, "EC": 4}]}},
         ["compositions must be distinct"]),
        ({"stop": {}}, ["active_learning.stop", "give a target: q_min and/or all_stable"]),
        ({"stop": {"q_min": 3.5}}, ["active_learning.stop.q_min", "less than or equal to 3"]),
        ({"stop": {"q": 2.5}}, ["active_learning.stop.q: unknown field"]),
    ],
)  # fmt: skip
def test_invalid_al_fields_are_named(table, needles):
    data = _with_al()
    data["active_learning"].update(copy.deepcopy(table))
    message = _error(data)
    for needle in needles:
        assert needle in message, message
