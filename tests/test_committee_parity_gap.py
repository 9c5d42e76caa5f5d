"""In-LAMMPS GAP committee (``pair_style quip`` with several models) against
CommitteeCalculator: deviation columns to 1e-6 on 1 and 2 MPI ranks, driving model unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.committee_parity import PARITY_CASES, check_parity
from fixtures.structures import molecular_box

from xfer.backends import get_backend

CONFIGS = {
    "cubic": lambda: molecular_box(["EC", "EMC", "EC", "EMC"], np.eye(3) * 9.0, seed=1),
    "triclinic": lambda: molecular_box(
        ["EC", "EMC", "EC"], [[8.6, 0.9, -0.6], [1.8, 8.4, 0.7], [-1.2, 1.1, 8.8]], seed=2
    ),
    "640": lambda: molecular_box(["EC"] * 16 + ["EMC"] * 32, np.eye(3) * 22.0, seed=7),
}


@pytest.fixture(scope="session")
def gap_committee(gap_model, gap_train_file, tmp_path_factory):
    """Three tiny GAPs: conftest.py's gap_model (seed 0) and seeds 1 and 2 on the same data."""
    from fixtures.gap import TEST_HYPER

    backend = get_backend("gap")
    others = [
        backend.train(gap_train_file, gap_train_file, tmp_path_factory.mktemp(f"gap{s}"), s,
                      TEST_HYPER)
        for s in (1, 2)
    ]  # fmt: skip
    models = [gap_model, *others]
    return models, [backend.calculator(m) for m in models]


@pytest.mark.parametrize(("name", "nprocs"), PARITY_CASES)
def test_gap_committee_parity(gap_committee, name, nprocs, tmp_path):
    models, calculators = gap_committee
    atoms = CONFIGS[name]()
    if name == "640":
        assert len(atoms) == 640
    check_parity(atoms, models, calculators, nprocs, tmp_path)
