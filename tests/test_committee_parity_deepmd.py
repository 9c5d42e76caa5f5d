"""deepmd-kit's multi-model ``pair_style deepmd`` (what xfer runs for DeePMD committees)
against CommitteeCalculator: deviation columns to 1e-6 on 1 and 2 MPI ranks, driving
model unchanged."""

from __future__ import annotations

import pytest
from fixtures.committee_parity import PARITY_CASES, check_parity
from fixtures.deepmd import big_box, cubic_box, triclinic_box

from xfer.backends.base import get_backend

CONFIGS = {"cubic": cubic_box, "triclinic": triclinic_box, "640": big_box}


@pytest.mark.parametrize(("name", "nprocs"), PARITY_CASES)
def test_deepmd_committee_parity(deepmd_committee, name, nprocs, tmp_path):
    calculators = [get_backend("deepmd").calculator(m) for m in deepmd_committee]
    atoms = CONFIGS[name]()
    if name == "640":
        assert len(atoms) == 640
    check_parity(atoms, deepmd_committee, calculators, nprocs, tmp_path)
