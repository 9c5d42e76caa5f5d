"""Recipes: documented counts at the paper's scale, weighting by duplication, a split that
is identical across calls, recipes and architectures, user recipes, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms

import xfer  # noqa: F401
from xfer.cli import main
from xfer.data.frames import tag_frame
from xfer.data.recipes import NAMED, apply_recipe, get_recipe, load_recipes, validation_ids
from xfer.data.store import Dataset, write_dataset
from xfer.errors import InputError

AL_COMPOSITIONS = ["EC2EMC10", "EC4EMC8", "EC6EMC6", "EC8EMC4", "EC10EMC2"]


def _frame(tag: str, comp: str, k: int, energy: float) -> Atoms:
    atoms = Atoms("H", positions=[[0.0, 0.0, 0.0]])
    atoms.info["REF_energy"] = energy
    atoms.arrays["REF_forces"] = np.zeros((1, 3))
    return tag_frame(atoms, tag, comp, f"{tag}-{comp}-{k:04d}")


def paper_scale() -> list[Atoms]:
    """Frame bookkeeping of the paper's sets (single-atom stand-ins; recipes only read tags)."""
    rng = np.random.default_rng(0)
    frames = [_frame("opls", "EC4EMC8", k, rng.normal()) for k in range(200)]
    frames += [_frame("sm", "EC1", k, rng.normal()) for k in range(200)]
    frames += [_frame("sm", "EMC1", k, rng.normal()) for k in range(400)]
    frames += [_frame("vs", "EC4EMC8", k, rng.normal()) for k in range(20)]
    frames += [_frame("al", c, k, rng.normal()) for c in AL_COMPOSITIONS for k in range(30)]
    frames += [_frame("e0", el, 0, -1.0) for el in ("H", "C", "O")]
    return frames


# (train, valid) with valid_fraction 0.1: e0 always trains, 10% of each (tag, composition)
EXPECTED = {
    "OPLS": (180 + 3, 20),
    "OPLS+SM": (180 + 180 + 360 + 3, 20 + 20 + 40),
    "OPLS+VS": (180 + 18 + 3, 20 + 2),
    "Full": (180 + 540 + 18 + 135 + 3, 20 + 60 + 2 + 15),
    "OPLS+EC+EMC": (180 + 3 + 10 + 10, 20),  # copies = round(0.05 * 183 / 0.9) = 10
    "OPLS+AL12": (180 + 27 + 3, 20 + 3),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_named_recipes_give_the_documented_counts(name):
    result = apply_recipe(paper_scale(), get_recipe(name), valid_fraction=0.1, seed=0)
    assert (len(result.train), len(result.valid)) == EXPECTED[name]
    assert result.summary["train_frames"] == EXPECTED[name][0]
    assert NAMED[name].include_e0


def test_ec_emc_weight_is_five_percent_of_training_samples_each():
    frames = paper_scale()
    result = apply_recipe(frames, get_recipe("OPLS+EC+EMC"), 0.1, 0)
    for comp in ("EC1", "EMC1"):
        copies = [f for f in result.train if f.info["composition"] == comp]
        assert len({f.info["frame_id"] for f in copies}) == 1  # one molecule, duplicated
        lowest = min(
            (f for f in frames if f.info["composition"] == comp),
            key=lambda f: f.info["REF_energy"],
        )
        assert copies[0].info["frame_id"] == lowest.info["frame_id"]
        assert len(copies) / len(result.train) == pytest.approx(0.05, abs=0.003)
    weighted = result.summary["weighted"]
    assert [w["copies"] for w in weighted] == [10, 10]


def test_split_is_deterministic_and_shared_by_recipes_and_architectures():
    frames = paper_scale()
    ids = [validation_ids(frames, 0.1, seed=0) for _ in range(2)]
    assert ids[0] == ids[1]
    assert validation_ids(list(reversed(frames)), 0.1, seed=0) == ids[0]  # order-free
    assert validation_ids(frames, 0.1, seed=1) != ids[0]
    opls = {f.info["frame_id"] for f in apply_recipe(frames, get_recipe("OPLS")).valid}
    opls_sm = apply_recipe(frames, get_recipe("OPLS+SM")).valid
    assert opls == {f.info["frame_id"] for f in opls_sm if f.info["config_type"] == "opls"}
    assert all(f.info["config_type"] != "e0" for f in opls_sm)


def test_user_recipe_from_toml(tmp_path):
    path = tmp_path / "recipes.toml"
    path.write_text(
        "[recipes.SmallMix]\ninclude_e0 = false\n"
        'select = [{tags = ["opls"], count = 50}, {tags = ["al"], '
        'compositions = ["EC2EMC10", "EC10EMC2"]}]\n'
    )
    recipe = load_recipes(path)["SmallMix"]
    result = apply_recipe(paper_scale(), recipe, 0.1, 0)
    comps = {f.info["composition"] for f in result.train + result.valid}
    assert comps == {"EC4EMC8", "EC2EMC10", "EC10EMC2"}
    assert len(result.train) + len(result.valid) == 50 + 60
    assert not any(f.info["config_type"] == "e0" for f in result.train)
    path.write_text('[recipes.Bad]\nselect = [{tagz = ["opls"]}]\n')
    with pytest.raises(InputError, match="Bad"):
        load_recipes(path)
    with pytest.raises(InputError, match="unknown recipe"):
        get_recipe("NoSuchRecipe")


def test_recipe_cli_writes_train_valid_and_summary(tmp_path, capsys):
    frames = paper_scale()
    by_tag: dict[str, list[Atoms]] = {}
    for f in frames:
        by_tag.setdefault(f.info["config_type"], []).append(f)
    write_dataset(tmp_path / "ds", by_tag)
    assert Dataset.open(tmp_path / "ds").manifest["counts"]["sm"] == {"EC1": 200, "EMC1": 400}
    out = tmp_path / "train.xyz"
    assert main(["dataset", "recipe", str(tmp_path / "ds"), "OPLS+VS", "--out", str(out)]) == 0
    summary = json.loads((tmp_path / "train.xyz.json").read_text())
    assert (summary["train_frames"], summary["valid_frames"]) == EXPECTED["OPLS+VS"]
    import ase.io

    assert len(ase.io.read(out, ":")) == EXPECTED["OPLS+VS"][0]
    assert len(ase.io.read(tmp_path / "train-valid.xyz", ":")) == EXPECTED["OPLS+VS"][1]
    assert main(["dataset", "recipe", str(tmp_path / "ds"), "Nope", "--out", str(out)]) == 2
    assert "unknown recipe" in capsys.readouterr().err


def test_add_frames_appends_a_tag_and_refuses_duplicates(tmp_path):
    from xfer.data.store import add_frames

    frames = paper_scale()[:10]
    write_dataset(tmp_path / "ds", {"opls": frames})
    al = [_frame("al", "EC4EMC8", k, 0.5) for k in range(3)]
    ds = add_frames(tmp_path / "ds", "al", al)
    assert ds.manifest["counts"] == {"opls": {"EC4EMC8": 10}, "al": {"EC4EMC8": 3}}
    assert ds.verify() == [] and len(Dataset.open(tmp_path / "ds").frames(["al"])) == 3
    with pytest.raises(InputError, match="already in the dataset"):
        add_frames(tmp_path / "ds", "al", al[:1])


def test_a_selection_matching_no_frame_names_the_recipe_and_the_missing_tag(tmp_path, capsys):
    no_al = [f for f in paper_scale() if f.info["config_type"] != "al"]
    with pytest.raises(InputError, match="recipe OPLS\\+AL12: no frame has tag 'al' at "
                                         "composition EC4EMC8 in the dataset"):  # fmt: skip
        apply_recipe(no_al, get_recipe("OPLS+AL12"))
    only_other = [f for f in paper_scale() if f.info["composition"] != "EC4EMC8"
                  or f.info["config_type"] != "al"]  # fmt: skip
    with pytest.raises(InputError, match="OPLS\\+AL12: no frame has tag 'al' at composition"):
        apply_recipe(only_other, get_recipe("OPLS+AL12"))
    with pytest.raises(InputError, match="recipe OPLS\\+SM: no frame has tag 'sm'"):
        apply_recipe([f for f in no_al if f.info["config_type"] != "sm"], get_recipe("OPLS+SM"))
    write_dataset(tmp_path / "ds", {"opls": paper_scale()[:10]})
    argv = ["dataset", "recipe", str(tmp_path / "ds"), "OPLS+AL12", "--out", str(tmp_path / "t")]
    assert main(argv) == 2
    assert "error: recipe OPLS+AL12: no frame has tag 'al'" in capsys.readouterr().err


def test_an_optional_part_may_match_nothing(tmp_path):
    path = tmp_path / "recipes.toml"
    path.write_text(
        '[recipes.MaybeAL]\nselect = [{tags = ["opls"]}, '
        '{tags = ["al"], compositions = ["EC4EMC8"], optional = true}]\n'
    )
    recipe = load_recipes(path)["MaybeAL"]
    no_al = [f for f in paper_scale() if f.info["config_type"] != "al"]
    assert len(apply_recipe(no_al, recipe).train) == EXPECTED["OPLS"][0]
    assert len(apply_recipe(paper_scale(), recipe).train) == EXPECTED["OPLS+AL12"][0]
