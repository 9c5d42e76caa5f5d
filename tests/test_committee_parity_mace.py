"""In-LAMMPS MACE committee (``pair_style mace`` with several models) against
CommitteeCalculator: deviation columns to 1e-6 on 1 rank (local graph) and 2 ranks (ghost
graph, reverse-communicated member forces), driving model unchanged."""

from __future__ import annotations

import pytest
from fixtures.committee_parity import PARITY_CASES, check_parity
from test_mace_lammps import TRICLINIC, big_box, small_box

from xfer.backends.base import get_backend

pytest_plugins = ["fixtures.mace"]  # mace_committee fixture (2 seeds)
CONFIGS = {"cubic": lambda: small_box(11), "triclinic": lambda: small_box(12, TRICLINIC),
           "640": lambda: big_box(21)}  # fmt: skip


@pytest.mark.parametrize(("name", "nprocs"), PARITY_CASES)
def test_mace_committee_parity(mace_committee, name, nprocs, tmp_path):
    models = mace_committee
    calculators = [get_backend("mace").calculator(m) for m in models]
    atoms = CONFIGS[name]()
    if name == "640":
        assert len(atoms) == 640
    check_parity(atoms, models, calculators, nprocs, tmp_path)


def test_mace_committee_parity_device_cpu(mace_committee, tmp_path):
    """``device cpu`` (the default ``auto`` is the test above): the same columns."""
    calculators = [get_backend("mace").calculator(m) for m in mace_committee]
    check_parity(small_box(11), mace_committee, calculators, 1, tmp_path, "device cpu")
