"""A deepmd committee trained by ``xfer train``: metadata, distinct seeds, and the committee
force deviation in Python equal to the one deepmd's multi-model pair style writes in LAMMPS."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.deepmd import RECIPE, TEST_STEPS, triclinic_box

from xfer.backends.committee import committee_calculator
from xfer.backends.deepmd import committee_pair_spec
from xfer.errors import InputError
from xfer.lammps.singlepoint import evaluate
from xfer.provenance import file_sha256


def test_committee_layout_and_metadata(deepmd_committee, deepmd_sets, deepmd_models_root):
    train, valid = deepmd_sets
    assert [m.path.parent.name for m in deepmd_committee] == ["seed0", "seed1"]
    for seed, model in enumerate(deepmd_committee):
        meta = model.meta
        assert model.path.parent.parent == deepmd_models_root / "deepmd" / RECIPE
        assert (meta["arch"], meta["recipe"], meta["seed"]) == ("deepmd", RECIPE, seed)
        assert meta["train_sha256"] == file_sha256(train)
        assert meta["valid_sha256"] == file_sha256(valid)
        assert meta["hyper"]["numb_steps"] == TEST_STEPS and meta["hyper"]["preset"] == "tiny"
        assert meta["versions"]["deepmd-kit"] == "3.2.0"
        errors = meta["validation_errors"]
        assert errors["n_frames"] == 5
        assert 0 < errors["energy_rmse_meV_per_atom"] < 1e5
        assert 0 < errors["force_rmse_meV_per_A"] < 1e5


def test_committee_deviation_matches_lammps(deepmd_committee, tmp_path):
    atoms = triclinic_box()
    atoms.calc = committee_calculator(deepmd_committee)
    mean_energy = atoms.get_potential_energy()
    results = atoms.calc.results
    variance = results["force_variance"]
    # the two seeds give different models (otherwise the deviation would be trivially zero)
    assert results["max_force_deviation"] > 1e-4 and results["energy_std"] > 1e-6
    assert mean_energy == pytest.approx(results["energies"].mean(), abs=1e-12)

    devi_file = tmp_path / "model_devi.out"
    spec = committee_pair_spec([m.path for m in deepmd_committee], devi_file, out_freq=1)
    lmp = evaluate(atoms, spec, nprocs=1)
    # LAMMPS propagates the first model; all models enter the deviation
    assert abs(lmp["energy"] - results["energies"][0]) < 1e-6
    assert np.abs(lmp["forces"] - results["member_forces"][0]).max() < 1e-6
    step, *_, max_f, min_f, avg_f = np.loadtxt(devi_file, ndmin=2)[0]
    assert step == 0
    assert max_f == pytest.approx(results["max_force_deviation"], abs=1e-6)
    assert min_f == pytest.approx(np.sqrt(variance.min()), abs=1e-6)
    assert avg_f == pytest.approx(np.sqrt(variance).mean(), abs=1e-6)


def test_committee_pair_spec_needs_two_models(deepmd_committee, tmp_path):
    with pytest.raises(InputError, match="at least two"):
        committee_pair_spec([deepmd_committee[0].path], tmp_path / "d.out", 10)
