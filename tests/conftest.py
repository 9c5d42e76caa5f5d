"""Session fixtures shared by the test modules: tiny trained DeePMD and GAP models.

The suite runs one thread per process (``XFER_THREADS=1``, set below).
Each fixture trains or labels only when a test asks for it, once per session; the
material they are made from lives in tests/fixtures/ (importable as ``fixtures.*``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fixtures.deepmd import RECIPE, TEST_STEPS, write_sets
from fixtures.gap import TEST_HYPER, make_training_set

import xfer  # noqa: F401  (runtime set-up before any LAMMPS/QUIP import)
from xfer.backends import TrainedModel, get_backend
from xfer.runtime import THREAD_VARIABLES, THREADS_ENV

# One thread per process in the whole suite and the commands it starts: `xfer md` and
# `xfer train` otherwise take every core, and tests run beside other jobs.
for _var in (THREADS_ENV, *THREAD_VARIABLES):
    os.environ[_var] = "1"


@pytest.fixture(scope="session")
def deepmd_sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(train.xyz, valid.xyz): rattled EC/EMC molecules and small EC+EMC boxes, xTB labels."""
    return write_sets(tmp_path_factory.mktemp("deepmd_sets"))


@pytest.fixture(scope="session")
def deepmd_models_root(
    deepmd_sets: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Models root holding a 2-seed deepmd committee trained through ``xfer train``."""
    from xfer.cli import main

    root = tmp_path_factory.mktemp("deepmd_models")
    train, valid = deepmd_sets
    argv = ["train", "--arch", "deepmd", "--recipe", RECIPE, "--train", str(train)]
    argv += ["--valid", str(valid), "--seeds", "0-1", "--preset", "tiny"]
    argv += ["--set", f"numb_steps={TEST_STEPS}", "--out", str(root)]
    assert main(argv) == 0
    return root


@pytest.fixture(scope="session")
def deepmd_committee(deepmd_models_root: Path) -> list[TrainedModel]:
    """The two trained models (seeds 0 and 1)."""
    from xfer.training import load_committee

    return load_committee(deepmd_models_root / "deepmd" / RECIPE)


@pytest.fixture(scope="session")
def deepmd_model(deepmd_committee: list[TrainedModel]) -> TrainedModel:
    """Seed 0 of the committee."""
    return deepmd_committee[0]


@pytest.fixture(scope="session")
def deepmd_calculator(deepmd_model: TrainedModel):
    """deepmd's ASE calculator for seed 0 (loaded once)."""
    return get_backend("deepmd").calculator(deepmd_model)


@pytest.fixture(scope="session")
def gap_train_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_training_set(tmp_path_factory.mktemp("gap_data") / "train.extxyz")


@pytest.fixture(scope="session")
def gap_model(gap_train_file: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """A tiny GAP (seed 0) trained on :func:`gap_train_file`."""
    out = tmp_path_factory.mktemp("gap_model")
    return get_backend("gap").train(gap_train_file, gap_train_file, out, 0, TEST_HYPER)
