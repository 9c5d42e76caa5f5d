"""Reusable MACE committee test material: a tiny GFN2-xTB set and a 2-seed tiny committee.

Not a pytest conftest (another helper owns tests/conftest.py): test modules load it with
``pytest_plugins = ["conftest_mace"]``, so each session fixture runs once per session.
The set is test_mace_lammps' (e0 atoms, rattled EC/EMC, two small boxes); training the two
float64 models (2 epochs, 8 channels) takes ~1 min each on 2 shared cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from test_mace_lammps import _label, _molecule, small_box

import xfer  # noqa: F401  (runtime set-up before any LAMMPS import)
from xfer.backends import TrainedModel

RECIPE = "tiny-test"
TEST_HYPER = ("max_num_epochs=2", "num_channels=8")


@pytest.fixture(scope="session")
def mace_sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(train.extxyz, valid.extxyz) for MACE, GFN2-xTB labels."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("mace_sets")
    train = [_label(Atoms(el, positions=[[0.0, 0.0, 0.0]]), "e0") for el in "HCO"]
    for _ in range(5):
        train += [_label(_molecule("EC", rng), "sm"), _label(_molecule("EMC", rng), "sm")]
    train += [_label(small_box(seed), "opls") for seed in (1, 2)]
    valid = [_label(_molecule("EC", rng), "sm"), _label(_molecule("EMC", rng), "sm")]
    write(root / "train.extxyz", train)
    write(root / "valid.extxyz", valid)
    return root / "train.extxyz", root / "valid.extxyz"


@pytest.fixture(scope="session")
def mace_committee_root(mace_sets, tmp_path_factory) -> Path:
    """``<root>/mace/tiny-test`` holding seeds 0 and 1, trained by ``xfer train``."""
    from xfer.cli import main

    root = tmp_path_factory.mktemp("mace_models")
    train, valid = mace_sets
    argv = ["train", "--arch", "mace", "--recipe", RECIPE, "--train", str(train),
            "--valid", str(valid), "--seeds", "0-1", "--preset", "tiny", "--out", str(root)]
    for item in TEST_HYPER:
        argv += ["--set", item]  # fmt: skip
    assert main(argv) == 0
    return root / "mace" / RECIPE


@pytest.fixture(scope="session")
def mace_committee(mace_committee_root: Path) -> list[TrainedModel]:
    from xfer.training import load_committee

    return load_committee(mace_committee_root)
