"""MACE backend pieces that need no trained model: presets, mace_run_train arguments,
E0s, training-frame preparation and the errors for bad model files."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

import xfer.backends.mace as mace_backend
from xfer.backends.base import get_backend
from xfer.backends.mace import (
    PRESETS,
    lammps_model_species,
    mace_calculator,
    mace_frame,
    mace_pair_spec,
    reference_energies,
    resolve_hyper,
    train_args,
)
from xfer.errors import EnvironmentProblem, InputError


def _atom(symbol: str, energy: float, config_type: str = "e0") -> Atoms:
    atoms = Atoms(symbol, positions=[[0.0, 0.0, 0.0]])
    atoms.info.update({"REF_energy": energy, "config_type": config_type})
    atoms.arrays["REF_forces"] = np.zeros((1, 3))
    return atoms


def _water(energy: float = -100.0) -> Atoms:
    atoms = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    atoms.info.update({"REF_energy": energy, "config_type": "sm"})
    atoms.arrays["REF_forces"] = np.arange(9.0).reshape(3, 3)
    return atoms


def test_registered_and_presets_resolve():
    assert get_backend("mace").presets == PRESETS
    for name in PRESETS:
        resolved = resolve_hyper({"preset": name})
        assert resolved["preset"] == name and resolved["default_dtype"] == "float64"
    assert resolve_hyper({})["preset"] == "tiny"
    assert resolve_hyper({"preset": "paper"})["device"] == "cuda"
    over = resolve_hyper({"preset": "tiny", "max_num_epochs": 3, "num_channels": 32})
    assert (over["max_num_epochs"], over["num_channels"]) == (3, 32)
    assert PRESETS["tiny"]["max_num_epochs"] != 3  # presets are not mutated


@pytest.mark.parametrize(
    ("hyper", "message"),
    [
        ({"preset": "huge"}, "unknown mace preset"),
        ({"num_chanels": 8}, "unknown mace hyperparameter"),
        ({"seed": 4}, "set by xfer"),
        ({"E0s": "average"}, "set by xfer"),
    ],
)
def test_bad_hyperparameters(hyper, message):
    with pytest.raises(InputError, match=message):
        resolve_hyper(hyper)


def test_train_args_follow_mace_option_kinds():
    args = train_args({"preset": "x", "ema": True, "swa": False, "plot": False, "r_max": 4.5})
    assert args == ["--ema", "--plot=False", "--r_max=4.5"]
    assert "--swa" in train_args(resolve_hyper({"preset": "paper"}))


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_train_args_parse_back_to_the_preset(preset):
    """mace's own parser reads the rendered arguments as the preset's values."""
    from mace.tools import build_default_arg_parser

    hyper = resolve_hyper({"preset": preset, "e0": {"H": -1.0}})
    parsed = build_default_arg_parser().parse_args(["--name=x", *train_args(hyper)])
    for key, value in PRESETS[preset].items():
        assert getattr(parsed, key) == value, key


def test_reference_energies_sources():
    frames = [_atom("H", -10.0), _atom("O", -100.0), _water()]
    e0, source = reference_energies(frames)
    assert e0 == {"H": -10.0, "O": -100.0} and source == "e0_frames"
    e0, source = reference_energies(frames, {"H": -11.0})
    assert e0 == {"H": -11.0, "O": -100.0} and source == "e0_frames+hyper"
    assert reference_energies([_atom("H", -10.0), _water()]) == (None, "average")
    with pytest.raises(InputError, match="one atom"):
        pair = Atoms("H2", positions=np.zeros((2, 3)), info={"config_type": "e0"})
        reference_energies([_water(), pair])
    with pytest.raises(InputError, match="unknown element"):
        reference_energies([_water()], {"Xx": 1.0})


def test_mace_frame_keeps_reference_labels_only():
    water = _water()
    water.info["REF_virial"] = np.eye(3).ravel()  # not periodic: dropped
    out = mace_frame(water, 0)
    assert out.info["REF_energy"] == -100.0 and "REF_virial" not in out.info
    assert np.array_equal(out.arrays["REF_forces"], water.arrays["REF_forces"])
    box = _water()
    box.cell, box.pbc = np.eye(3) * 8.0, True
    box.info["REF_virial"] = np.arange(9.0)
    assert np.array_equal(mace_frame(box, 1).info["REF_virial"], np.arange(9.0))
    del water.arrays["REF_forces"]
    with pytest.raises(InputError, match="lacks REF_forces"):
        mace_frame(water, 2)
    slab = _water()
    slab.cell, slab.pbc = np.eye(3) * 8.0, [True, True, False]
    with pytest.raises(InputError, match="some directions"):
        mace_frame(slab, 3)


def test_corrupt_model_files_give_input_errors(tmp_path):
    garbage = tmp_path / "broken.model-lammps.pt"
    garbage.write_bytes(b"not a torchscript archive" * 40)
    with pytest.raises(InputError, match="not a readable TorchScript"):
        lammps_model_species(garbage)
    with pytest.raises(InputError, match="not a readable TorchScript"):
        mace_pair_spec(garbage)
    pickled = tmp_path / "broken.model"
    pickled.write_bytes(b"\x80\x04garbage" * 50)
    with pytest.raises(InputError, match="not a readable MACE model"):
        mace_calculator(pickled)
    with pytest.raises(InputError, match="does not exist"):
        lammps_model_species(tmp_path / "missing-lammps.pt")


def test_missing_plugin_is_an_environment_problem(tmp_path, monkeypatch):
    monkeypatch.setattr(mace_backend, "PLUGIN_DIR", tmp_path)
    with pytest.raises(EnvironmentProblem, match="build_plugins"):
        mace_backend.plugin_library()
