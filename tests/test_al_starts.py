"""Active-learning starting boxes: 12 molecules at each EC:EMC composition from seeded
OPLS-AA NPT frames, exact molecule counts, liquid densities, reuse on a rerun."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xfer.chem.molecules import get_molecule
from xfer.data.al_starts import AL_COMPOSITIONS, StartSettings, starting_frames
from xfer.errors import InputError
from xfer.lammps.readdata import read_system

QUICK = StartSettings(equilibration_ps=1.0, sample_ps=1.0, timestep_fs=1.0, dump_every=100,
                      seed=4)  # fmt: skip


def test_the_five_paper_compositions_have_twelve_molecules():
    assert [(c["EC"], c["EMC"]) for c in AL_COMPOSITIONS] == [(2, 10), (4, 8), (6, 6), (8, 4),
                                                                (10, 2)]  # fmt: skip


@pytest.fixture(scope="module")
def starts(tmp_path_factory):
    work = tmp_path_factory.mktemp("starts")
    mix = {"EC": 2, "EMC": 10}
    return mix, work, starting_frames(mix, 3, work, QUICK)


def test_starting_boxes_have_exact_counts_whole_molecules_and_liquid_density(starts):
    mix, work, frames = starts
    assert [f.composition for f in frames] == ["EC2EMC10"] * 3
    steps = [f.step for f in frames]
    assert len(set(steps)) == 3 and min(steps) > 1000  # after the 1 ps equilibration
    mass = 2 * get_molecule("EC").mass + 10 * get_molecule("EMC").mass
    for frame in frames:
        system = read_system(work / frame.data)
        assert system.mix() == mix and len(np.unique(system.mol_ids)) == 12
        assert system.n_atoms == 2 * 10 + 10 * 15
        density = mass / system.volume * 1.66053906660
        assert system.density == pytest.approx(density, rel=1e-6)
        assert frame.density_gcm3 == pytest.approx(density, rel=1e-6)
        assert 0.7 < density < 1.6  # an OPLS-AA liquid at 300 K, 1 atm
        for i, j in system.bonds:  # molecules whole in the written file
            assert np.linalg.norm(system.positions[i] - system.positions[j]) < 1.8


def test_rerun_reuses_the_frames_and_their_files(starts):
    mix, work, frames = starts
    stamp = (work / "start-00.data").stat().st_mtime_ns
    assert starting_frames(mix, 3, work, QUICK) == frames
    assert (work / "start-00.data").stat().st_mtime_ns == stamp
    index = json.loads((work / "starts.json").read_text())
    assert index["request"]["count"] == 3 and len(index["frames"]) == 3


def test_too_few_frames_after_equilibration_is_an_error(starts):
    mix, work, _ = starts
    with pytest.raises(InputError, match="10 frames after equilibration, 11 wanted"):
        starting_frames(mix, 11, work, QUICK)
