"""Two GAP models with other descriptors (4.0 vs 3.5 A cutoff) evaluated by quippy in one
process: each gives what ``pair_style quip`` gives (every LAMMPS single point runs in its own
process), whichever comes first. Without :mod:`xfer.backends.quippy_eval` QUIP kept state
from the process's first GAP evaluation and the other model was off by eV."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures.gap import TEST_HYPER
from fixtures.structures import molecular_box

from xfer.backends import get_backend
from xfer.backends.quippy_eval import InProcess, Worker
from xfer.lammps.singlepoint import evaluate
from xfer.training import load_committee

TOL = 1e-6  # eV, eV/A


@pytest.fixture(scope="module")
def short_cutoff_model(gap_train_file, tmp_path_factory):
    """The session GAP's recipe with a 3.5 A cutoff, trained by ``xfer train`` in its own
    process (its validation then never evaluates in this one)."""
    root = tmp_path_factory.mktemp("gap_short_cutoff")
    argv = [sys.executable, "-m", "xfer.cli", "train", "--arch", "gap", "--recipe", "cut",
            "--train", str(gap_train_file), "--seeds", "0", "--preset", "tiny",
            "--set", f"n_sparse_soap={TEST_HYPER['n_sparse_soap']}", "--set", "soap_cutoff=3.5",
            "--set", "cutoff_2b=3.5", "--out", str(root)]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-500:]
    (model,) = load_committee(Path(root) / "gap" / "cut")
    return model


def test_quippy_models_with_other_descriptors_in_one_process(gap_model, short_cutoff_model):
    backend = get_backend("gap")
    box = molecular_box(["EC", "EMC"], np.eye(3) * 9.0, 3)
    calculators = {}
    for model in (short_cutoff_model, gap_model, short_cutoff_model):
        calc = calculators.setdefault(model.path, backend.calculator(model))
        atoms = box.copy()
        atoms.calc = calc
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        ref = evaluate(box, backend.pair_spec(model))
        assert abs(energy - ref["energy"]) < TOL, (model.path, energy, ref["energy"])
        assert np.abs(forces - ref["forces"]).max() < TOL
    short, usual = (calculators[m.path] for m in (short_cutoff_model, gap_model))
    assert short.info.descriptors != usual.info.descriptors
    # at most one descriptor set runs in this process; the other one in a worker of its own
    kinds = [type(short._quippy), type(usual._quippy)]
    assert Worker in kinds and kinds.count(InProcess) <= 1
