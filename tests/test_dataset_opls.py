"""Classical OPLS-AA frames from the LAMMPS engine: tags, whole molecules, sampling times."""

from __future__ import annotations

import numpy as np
import pytest

import xfer  # noqa: F401
from xfer.chem.molecules import get_molecule
from xfer.data.opls_frames import OplsRun, opls_frames
from xfer.data.volume_scan import volume_scan


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    work = tmp_path_factory.mktemp("opls")
    runs = [OplsRun("npt", 500.0, frames=2, pressure=10000.0, density=1.1)]
    return opls_frames({"EC": 1, "EMC": 2}, runs, work, 0.5, 0.5, 0.25, seed=3), work, runs


def test_opls_frames_are_tagged_whole_and_sampled_after_equilibration(frames):
    got, _, _ = frames
    assert [f.info["frame_id"] for f in got] == [
        "opls-EC1EMC2-run-00-npt-s3-0000",
        "opls-EC1EMC2-run-00-npt-s3-0001",
    ]
    assert [f.info["time_ps"] for f in got] == [0.75, 1.0]
    ec, emc = get_molecule("EC"), get_molecule("EMC")
    bonds = [ec.bonds, *[[(i + ec.n_atoms + k * emc.n_atoms, j + ec.n_atoms + k * emc.n_atoms)
                          for i, j in emc.bonds] for k in range(2)]]  # fmt: skip
    for f in got:
        assert f.info["config_type"] == "opls" and f.info["composition"] == "EC1EMC2"
        assert f.info["ensemble"] == "npt" and f.info["pressure_atm"] == 10000.0
        assert f.info["temperature_K"] == 500.0 and f.info["density_gcm3"] > 0.5
        assert len(np.unique(f.arrays["mol_id"])) == 3 and f.pbc.all()
        for i, j in (pair for mol in bonds for pair in mol):  # whole: direct bond vectors
            assert np.linalg.norm(f.positions[i] - f.positions[j]) < 1.8
        for m in np.unique(f.arrays["mol_id"]):
            frac = np.linalg.solve(f.cell.array.T, f.positions[f.arrays["mol_id"] == m].mean(0))
            assert np.all((frac >= 0) & (frac < 1))


def test_opls_runs_are_reused_and_frames_scan_rigidly(frames):
    got, work, runs = frames
    again = opls_frames({"EC": 1, "EMC": 2}, runs, work, 0.5, 0.5, 0.25, seed=3)
    assert all(np.array_equal(a.positions, b.positions) for a, b in zip(got, again, strict=True))
    scan = volume_scan(got[-1], "o", scales=[0.95, 1.5])
    assert np.array_equal(scan[0].arrays["mol_id"], got[-1].arrays["mol_id"])
