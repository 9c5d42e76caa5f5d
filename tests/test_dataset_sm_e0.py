"""Isolated-molecule sampling (thermal normal modes) and isolated-atom frames."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

import xfer  # noqa: F401
from xfer.chem.molecules import get_molecule
from xfer.data.e0 import isolated_atoms
from xfer.data.reference import ReferenceSpec, compute_labels
from xfer.data.sm import RELAX_FMAX, normal_modes, single_molecule_frames
from xfer.errors import InputError


def test_frames_are_deterministic_and_independent_of_count():
    few = single_molecule_frames("EMC", 3, [300, 500], seed=4, sampler="mmff")
    many = single_molecule_frames("EMC", 6, [300, 500], seed=4, sampler="mmff")
    for a, b in zip(few, many[:3], strict=True):
        assert a.info["frame_id"] == b.info["frame_id"]
        assert np.array_equal(a.positions, b.positions)
    assert [f.info["temperature_K"] for f in many] == [300, 500] * 3
    other = single_molecule_frames("EMC", 1, [300], seed=5, sampler="mmff")[0]
    assert not np.allclose(other.positions, few[0].positions)
    assert all(f.info["composition"] == "EMC1" and not f.pbc.any() for f in few)


def test_thermal_amplitude_grows_with_temperature_and_bonds_stay_intact():
    mol = get_molecule("EC")
    modes = normal_modes("EC", "mmff")
    pairs = np.array(mol.bonds)
    ref = np.linalg.norm(modes.positions[pairs[:, 0]] - modes.positions[pairs[:, 1]], axis=1)

    def msd(temperature: float) -> float:
        frames = single_molecule_frames("EC", 150, [temperature], sampler="mmff")
        for f in frames:
            lengths = np.linalg.norm(f.positions[pairs[:, 0]] - f.positions[pairs[:, 1]], axis=1)
            assert np.abs(lengths / ref - 1).max() <= 0.15
        return float(np.mean([np.sum((f.positions - modes.positions) ** 2) for f in frames]))

    # harmonic sampling: mean-square displacement is proportional to T (EC has no mode
    # below the 100 cm^-1 floor, so the floor does not bend this)
    assert modes.wavenumbers.min() > 100
    assert msd(500) / msd(200) == pytest.approx(2.5, rel=0.15)


def test_reference_sampler_starts_from_the_reference_minimum():
    spec = ReferenceSpec()
    modes = normal_modes("EC", "reference", spec)
    relaxed = Atoms(get_molecule("EC").symbols, positions=modes.positions)
    forces = compute_labels(relaxed, spec).forces
    assert np.linalg.norm(forces, axis=1).max() < 2 * RELAX_FMAX
    assert len(modes.omega2) == 3 * len(relaxed) - 6 and np.all(modes.omega2 > 0)
    mmff = Atoms(relaxed.symbols, positions=normal_modes("EC", "mmff").positions)
    assert np.linalg.norm(compute_labels(mmff, spec).forces, axis=1).max() > 0.5


def test_sm_rejects_bad_input():
    with pytest.raises(InputError, match="sampler"):
        single_molecule_frames("EC", 1, [300], sampler="md")
    with pytest.raises(InputError, match="temperatures"):
        single_molecule_frames("EC", 1, [])
    with pytest.raises(InputError, match="unknown molecule"):
        single_molecule_frames("XYZ", 1, [300])


def test_isolated_atoms_carry_hunds_rule_spin_to_the_calculator():
    frames = isolated_atoms(["O", "H", "C", "C"])
    assert [f.info["frame_id"] for f in frames] == ["e0-H", "e0-C", "e0-O"]
    assert [f.info["unpaired_electrons"] for f in frames] == [1, 2, 2]
    spec = ReferenceSpec()
    carbon = frames[1]
    singlet = carbon.copy()
    singlet.set_initial_magnetic_moments([0.0])
    # the spin reaches the calculator (GFN2-xTB is spin-restricted: its smeared singlet is
    # even lower than the triplet, so only a difference is asserted)
    assert abs(compute_labels(carbon, spec).energy - compute_labels(singlet, spec).energy) > 0.01
    boxed = isolated_atoms(["H"], box=10.0)[0]
    assert boxed.pbc.all() and np.allclose(boxed.positions, 5.0)
    with pytest.raises(InputError, match="no ground-state spin"):
        isolated_atoms(["Fe"])
    assert isolated_atoms(["Fe"], unpaired={"Fe": 4})[0].get_initial_magnetic_moments()[0] == 4
