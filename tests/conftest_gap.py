"""Reusable GAP test material: a tiny GFN2-xTB training set and a tiny trained model.

Not a pytest conftest (another helper owns tests/conftest.py): test modules load it with
``pytest_plugins = ["conftest_gap"]``; structure builders live in tests/gap_structures.py.
Labelling isolated molecules with tblite takes milliseconds, the one small periodic box
about a second; the tiny gap_fit a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from gap_structures import molecular_box, rattled_molecule

import xfer  # noqa: F401  (runtime set-up before any LAMMPS/QUIP import)
from xfer.backends import TrainedModel, get_backend

ELEMENTS = ("H", "C", "O")
# fewer SOAP sparse points than the tiny set has atoms of each species, so that CUR picks a
# seed-dependent subset (with the preset's 200 every atom is picked, whatever the seed)
TEST_HYPER = {"preset": "tiny", "n_sparse_soap": 30}


def label(atoms: Atoms, config_type: str) -> Atoms:
    """``atoms`` with GFN2-xTB REF_energy/REF_forces (and REF_virial if periodic)."""
    from tblite.ase import TBLite

    atoms = atoms.copy()
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    virial = -atoms.get_stress(voigt=False) * atoms.get_volume() if atoms.pbc.all() else None
    atoms.calc = None
    atoms.info.update(REF_energy=energy, config_type=config_type)
    atoms.arrays["REF_forces"] = forces
    if virial is not None:
        atoms.info["REF_virial"] = virial
    return atoms


def make_training_set(path: Path, seed: int = 0) -> Path:
    """Write a tiny labelled set: rattled EC/EMC, one small periodic box, e0 atoms."""
    rng = np.random.default_rng(seed)
    frames = [label(rattled_molecule(n, rng), "sm") for n in ("EC", "EMC") for _ in range(6)]
    frames.append(label(molecular_box(["EC", "EC"], np.eye(3) * 7.0, seed), "box"))
    frames += [label(Atoms(el, positions=[[0.0, 0.0, 0.0]]), "e0") for el in ELEMENTS]
    write(path, frames, format="extxyz")
    return path


@pytest.fixture(scope="session")
def gap_train_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_training_set(tmp_path_factory.mktemp("gap_data") / "train.extxyz")


@pytest.fixture(scope="session")
def gap_model(gap_train_file: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """A tiny GAP (seed 0) trained on :func:`gap_train_file`."""
    out = tmp_path_factory.mktemp("gap_model")
    return get_backend("gap").train(gap_train_file, gap_train_file, out, 0, TEST_HYPER)
