"""Committee training, model store and CLI through the Backend interface only.

A minimal real backend (Lennard-Jones whose parameters depend on the seed) makes these
checks instant; the deepmd committee is exercised in test_committee_deepmd.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.calculator import Calculator
from ase.calculators.lj import LennardJones
from ase.io import write
from fixtures.deepmd import cubic_box, isolated

from xfer.backends.base import Backend, TrainedModel, register_backend
from xfer.backends.committee import CommitteeCalculator, committee_calculator, train_committee
from xfer.backends.common import write_model_meta
from xfer.cli import main
from xfer.errors import InputError
from xfer.lammps.pair import PairSpec
from xfer.provenance import file_sha256
from xfer.training import find_models, load_committee, load_model, parse_seeds


class SeededLJ(Backend):
    """'Training' picks LJ parameters from the seed; counts calls to detect reuse."""

    name = "seeded-lj"
    calls: list[int] = []

    def train(self, train_file, valid_file, out_dir, seed, hyper) -> TrainedModel:
        SeededLJ.calls.append(seed)
        path = Path(out_dir) / "lj.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        params = {"sigma": 2.0 + 0.05 * seed, "epsilon": 0.01 * (1 + seed), "rc": 5.0}
        path.write_text(json.dumps(params))
        meta = {"arch": self.name, "seed": seed, "train_sha256": file_sha256(train_file)}
        meta["validation_errors"] = {"energy_rmse_meV_per_atom": 1.5 + seed}
        write_model_meta(path, meta)
        return TrainedModel(self.name, path, meta)

    def export(self, model: TrainedModel) -> Path:
        return model.path

    def pair_spec(self, model: TrainedModel) -> PairSpec:
        p = json.loads(model.path.read_text())
        return PairSpec("lj/cut 5.0", f"* * {p['epsilon']} {p['sigma']}", ("H", "C", "O"))

    def calculator(self, model: TrainedModel) -> Calculator:
        return LennardJones(**json.loads(model.path.read_text()), smooth=True)


register_backend(SeededLJ.name, SeededLJ)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "set.xyz"
    write(path, [isolated("EC"), isolated("EMC")], format="extxyz")
    return path


def test_seed_lists():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0-1,5") == [0, 1, 5]
    for bad in ("", "3-1", "a", "1,1", "0-2,2"):
        with pytest.raises(InputError):
            parse_seeds(bad)


def test_committee_trains_each_seed_and_reuses(tmp_path, data_file):
    SeededLJ.calls.clear()
    out = tmp_path / "c"
    models = train_committee(
        "seeded-lj",
        data_file,
        data_file,
        out,
        [0, 3],
        {"preset": "tiny"},
        extra_meta={"recipe": "R"},
    )
    assert SeededLJ.calls == [0, 3]
    assert [m.path.parent.name for m in models] == ["seed0", "seed3"]
    assert all(m.meta["recipe"] == "R" and "versions" in m.meta for m in models)
    assert [m.meta["seed"] for m in models] == [0, 3]
    train_committee(
        "seeded-lj",
        data_file,
        data_file,
        out,
        [0, 3],
        {"preset": "tiny"},
        extra_meta={"recipe": "R"},
    )
    assert SeededLJ.calls == [0, 3]  # nothing retrained
    train_committee(
        "seeded-lj", data_file, data_file, out, [0], {"preset": "paper"}, extra_meta={"recipe": "R"}
    )
    assert SeededLJ.calls == [0, 3, 0]  # other hyperparameters: retrained
    with pytest.raises(InputError, match="distinct"):
        train_committee("seeded-lj", data_file, data_file, out, [1, 1], {})


def test_committee_calculator_statistics(tmp_path, data_file):
    models = train_committee("seeded-lj", data_file, data_file, tmp_path, [0, 1, 2], {})
    atoms = cubic_box()
    atoms.calc = committee_calculator(models)
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    members = []
    for model in models:
        single = atoms.copy()
        single.calc = SeededLJ().calculator(model)
        members.append((single.get_potential_energy(), single.get_forces(), single.get_stress()))
    e = np.array([m[0] for m in members])
    f = np.array([m[1] for m in members])
    assert energy == pytest.approx(e.mean(), abs=1e-12)
    np.testing.assert_allclose(forces, f.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(atoms.get_stress(), np.mean([m[2] for m in members], 0), atol=1e-12)
    variance = atoms.calc.get_property("force_variance", atoms)
    by_hand = np.array(
        [np.mean([np.sum((fm[i] - f.mean(0)[i]) ** 2) for fm in f]) for i in range(len(atoms))]
    )
    np.testing.assert_allclose(variance, by_hand, rtol=1e-12)
    assert variance.max() > 0
    assert atoms.calc.results["max_force_deviation"] == pytest.approx(np.sqrt(by_hand.max()))
    np.testing.assert_allclose(atoms.calc.results["energies"], e)
    with pytest.raises(InputError, match="at least two"):
        CommitteeCalculator([LennardJones()])


def test_cli_train_list_export(tmp_path, data_file, capsys):
    root = tmp_path / "models"
    argv = ["train", "--arch", "seeded-lj", "--recipe", "OPLS+SM", "--train", str(data_file)]
    assert main([*argv, "--seeds", "0-2", "--out", str(root)]) == 0
    assert sorted(p.name for p in (root / "seeded-lj" / "OPLS+SM").iterdir()) == [
        "seed0",
        "seed1",
        "seed2",
    ]
    models = find_models(root)
    assert [m.meta["seed"] for m in models] == [0, 1, 2]
    assert models[0].meta["validation_set"] == "train"  # no --valid given
    assert len(load_committee(root / "seeded-lj" / "OPLS+SM")) == 3
    capsys.readouterr()
    assert main(["models", "list", str(root)]) == 0
    table = capsys.readouterr().out
    assert "OPLS+SM" in table and "3.5" in table and str(models[2].path) in table
    assert main(["export", str(models[1].path.parent)]) == 0
    assert "pair_coeff * * 0.02" in capsys.readouterr().out
    assert load_model(models[1].path).meta["seed"] == 1


def test_cli_errors_are_one_line(tmp_path, data_file, capsys):
    assert main(["models", "list", str(tmp_path / "none")]) == 2
    assert main(["train", "--arch", "nope", "--recipe", "R", "--train", str(data_file)]) == 2
    assert (
        main(
            [
                "train",
                "--arch",
                "seeded-lj",
                "--recipe",
                "bad/name",
                "--train",
                str(data_file),
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert main(["export", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown architecture 'nope'" in err and "Traceback" not in err


def test_hyper_from_toml_and_overrides(tmp_path):
    from xfer.cli.train import _hyper

    toml = tmp_path / "h.toml"
    toml.write_text("[deepmd]\nnumb_steps = 50\nrcut = 4.5\n[mace]\nr_max = 4.0\n")
    hyper = _hyper("tiny", toml, "deepmd", ["numb_steps=20", "neuron=[4, 8]", "precision=float32"])
    assert hyper == {
        "preset": "tiny",
        "numb_steps": 20,
        "rcut": 4.5,
        "neuron": [4, 8],
        "precision": "float32",
    }
    assert _hyper("paper", toml, "gap", []) == {"preset": "paper"}
    with pytest.raises(InputError, match="key=value"):
        _hyper("tiny", None, "deepmd", ["numb_steps"])
