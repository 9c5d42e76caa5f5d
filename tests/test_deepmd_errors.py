"""Bad DeePMD input fails with one clear error before LAMMPS starts."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from ase import Atoms
from fixtures.deepmd import isolated

from xfer.backends import TrainedModel, get_backend
from xfer.backends.common import check_species
from xfer.backends.deepmd import model_type_map, plugin_library
from xfer.cli import main
from xfer.errors import EnvironmentProblem, InputError
from xfer.lammps.singlepoint import evaluate


@pytest.fixture
def corrupt_model(deepmd_model, tmp_path) -> TrainedModel:
    """The trained model truncated to half its size, with its metadata beside it."""
    data = deepmd_model.path.read_bytes()
    path = tmp_path / "seed0" / "model.pth"
    path.parent.mkdir()
    path.write_bytes(data[: len(data) // 2])
    shutil.copy(deepmd_model.path.with_name("model.pth.json"), path.with_name("model.pth.json"))
    return TrainedModel("deepmd", path, deepmd_model.meta)


def test_corrupt_model_is_an_input_error(corrupt_model, capsys):
    backend = get_backend("deepmd")
    with pytest.raises(InputError, match="not a readable TorchScript model"):
        backend.pair_spec(corrupt_model)
    with pytest.raises(InputError, match="not a readable TorchScript model"):
        backend.calculator(corrupt_model)
    assert main(["export", str(corrupt_model.path)]) == 2
    err = capsys.readouterr().err
    assert "not a readable TorchScript model" in err and "Traceback" not in err


def test_other_files_are_not_deepmd_models(tmp_path):
    import torch

    other = tmp_path / "linear.pth"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(other))
    with pytest.raises(InputError, match="not a frozen DeePMD model"):
        model_type_map(other)
    with pytest.raises(InputError, match="does not exist"):
        model_type_map(tmp_path / "absent.pth")


def test_species_outside_the_type_map(deepmd_model, deepmd_calculator):
    assert model_type_map(deepmd_model.path) == ("H", "C", "O")
    ec = isolated("EC")
    with_n = Atoms(["N" if s == "O" else s for s in ec.get_chemical_symbols()], ec.positions)
    with pytest.raises(InputError, match="also has N"):
        check_species(
            with_n.get_chemical_symbols(), model_type_map(deepmd_model.path), deepmd_model.path,
            "deepmd",
        )
    with_n.calc = deepmd_calculator
    with pytest.raises(InputError, match="also has N"):
        with_n.get_potential_energy()
    ec.calc = deepmd_calculator
    assert np.isfinite(ec.get_potential_energy())  # the same calculator still works
    spec = get_backend("deepmd").pair_spec(deepmd_model)
    with pytest.raises(InputError, match="does not know element"):
        evaluate(with_n, spec)  # refused before LAMMPS starts


def test_partial_periodicity_rejected(deepmd_calculator):
    slab = isolated("EC")
    slab.cell = np.eye(3) * 12.0
    slab.pbc = [True, True, False]
    slab.calc = deepmd_calculator
    with pytest.raises(InputError, match="full or no periodicity"):
        slab.get_potential_energy()


def test_missing_plugin_is_an_environment_problem(tmp_path):
    assert plugin_library().name == "libdeepmd_lmpplugin.so"
    with pytest.raises(EnvironmentProblem, match="LAMMPS plugin .* is missing"):
        plugin_library(tmp_path)


@pytest.mark.slow
def test_failed_training_reports_the_log(deepmd_sets, tmp_path):
    train, valid = deepmd_sets
    message = "dp train then freeze failed .*train.log.*rmin should be less than rmax"
    with pytest.raises(EnvironmentProblem, match=message):
        get_backend("deepmd").train(train, valid, tmp_path, 0, {"rcut_smth": 9.0, "rcut": -1.0})
