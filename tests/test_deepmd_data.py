"""DeePMD data conversion and input generation (no training)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from fixtures.deepmd import isolated, molecules_in_cell

from xfer.backends.common import species_of
from xfer.backends.deepmd import (
    deepmd_input,
    resolve_hyper,
    write_systems,
)
from xfer.errors import InputError

TYPE_MAP = ["H", "C", "O"]


def _labelled(atoms: Atoms, seed: int) -> Atoms:
    """Arbitrary but distinct labels, so the conversion's bookkeeping can be checked."""
    rng = np.random.default_rng(seed)
    atoms = atoms.copy()
    atoms.info["REF_energy"] = float(rng.normal())
    atoms.arrays["REF_forces"] = rng.normal(size=(len(atoms), 3))
    if atoms.pbc.all():
        atoms.info["REF_virial"] = rng.normal(size=9)
    return atoms


def test_systems_grouped_by_composition_and_pbc(tmp_path):
    frames = [_labelled(isolated("EC", seed=k), k) for k in range(3)]
    frames += [_labelled(isolated("EMC", seed=k), 10 + k) for k in range(2)]
    frames += [_labelled(molecules_in_cell(["EC"], np.eye(3) * 8.0, seed=5), 20)]
    systems = write_systems(frames, TYPE_MAP, tmp_path)
    names = sorted(s.name for s in systems)
    assert names == ["H4C3O3_nopbc", "H4C3O3_pbc", "H8C4O3_nopbc"]
    ec = tmp_path / "H4C3O3_nopbc"
    assert (ec / "nopbc").exists() and not (ec / "set.000" / "box.npy").exists()
    assert np.load(ec / "set.000" / "coord.npy").shape == (3, 30)
    assert (tmp_path / "H4C3O3_pbc" / "set.000" / "box.npy").exists()
    assert (tmp_path / "H4C3O3_pbc" / "set.000" / "virial.npy").exists()
    assert (ec / "type_map.raw").read_text().split() == TYPE_MAP


def test_atoms_sorted_by_type_with_their_labels(tmp_path):
    frame = _labelled(isolated("EMC"), 1)
    (system,) = write_systems([frame], TYPE_MAP, tmp_path)
    types = np.loadtxt(system / "type.raw", dtype=int)
    assert list(types) == sorted(types)
    coords = np.load(system / "set.000" / "coord.npy").reshape(-1, 3)
    forces = np.load(system / "set.000" / "force.npy").reshape(-1, 3)
    # every written atom is an original atom with the same element and its own force
    for pos, force, t in zip(coords, forces, types, strict=True):
        (i,) = np.flatnonzero(np.all(frame.positions == pos, axis=1))
        assert frame.get_chemical_symbols()[i] == TYPE_MAP[t]
        np.testing.assert_array_equal(frame.arrays["REF_forces"][i], force)
    assert np.load(system / "set.000" / "energy.npy")[0] == frame.info["REF_energy"]


def test_unlabelled_or_foreign_frames_rejected(tmp_path):
    bare = isolated("EC")
    with pytest.raises(InputError, match="lacks REF_energy"):
        write_systems([bare], TYPE_MAP, tmp_path)
    nitrogen = _labelled(Atoms("N2", positions=[[0, 0, 0], [0, 0, 1.1]]), 0)
    with pytest.raises(InputError, match="outside type_map"):
        write_systems([nitrogen], TYPE_MAP, tmp_path)
    slab = _labelled(molecules_in_cell(["EC"], np.eye(3) * 8.0), 0)
    slab.pbc = [True, True, False]
    with pytest.raises(InputError, match="some directions"):
        write_systems([slab], TYPE_MAP, tmp_path)


def test_type_map_follows_atomic_number():
    assert species_of([isolated("EMC"), Atoms("N")]) == ["H", "C", "N", "O"]


def test_presets_and_overrides():
    tiny = resolve_hyper({"preset": "tiny", "numb_steps": 7})
    assert tiny["numb_steps"] == 7 and tiny["precision"] == "float64"
    assert resolve_hyper({"preset": "paper"})["precision"] == "float64"
    with pytest.raises(InputError, match="unknown deepmd hyperparameter"):
        resolve_hyper({"numb_stpes": 7})
    with pytest.raises(InputError, match="unknown deepmd preset"):
        resolve_hyper({"preset": "huge"})


def test_input_uses_seed_sel_and_precision(tmp_path):
    hyper = resolve_hyper({"preset": "tiny", "sel": {"H": 9, "default": 4}})
    config = deepmd_input(hyper, ["H", "C", "N"], [tmp_path / "a"], [], seed=42)
    descriptor = config["model"]["descriptor"]
    assert descriptor["type"] == "se_e2_a" and descriptor["sel"] == [9, 4, 4]
    assert descriptor["seed"] == config["model"]["fitting_net"]["seed"] == 42
    assert config["training"]["seed"] == 42 and "validation_data" not in config["training"]
    assert descriptor["precision"] == config["model"]["fitting_net"]["precision"] == "float64"
    with pytest.raises(InputError, match="no neighbour count"):
        deepmd_input(resolve_hyper({"sel": {"H": 9}}), ["H", "C"], [tmp_path], [], seed=0)
