"""Rigid volume scans: molecules from the initial bond graph, rigid to 1e-10 A, COM scaling,
compression limit, and GFN2-xTB energies against isolated molecules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from ase import Atoms
from scipy.spatial.transform import Rotation

import xfer  # noqa: F401
from xfer.chem.molecules import get_molecule
from xfer.data.molgraph import (
    centres_of_mass,
    composition_of,
    make_whole,
    min_intermolecular_distance,
    molecule_ids,
)
from xfer.data.reference import ReferenceSpec, compute_labels
from xfer.data.volume_scan import LIMIT_STEP, density, rigid_scale, volume_scan
from xfer.errors import InputError

K_E = 14.399645  # Coulomb constant, eV A / e^2


def random_box(mix: dict[str, int], length: float, seed: int = 0, gap: float = 1.9):
    """Molecules inserted at random positions/orientations, no contact (or self-image) < gap."""
    rng = np.random.default_rng(seed)
    symbols: list[str] = []
    pos = np.zeros((0, 3))
    mol_id: list[int] = []
    names = [name for name, count in mix.items() for _ in range(count)]
    for k, name in enumerate(names):
        mol = get_molecule(name)
        for _ in range(5000):
            rot = Rotation.random(random_state=int(rng.integers(1 << 31)))
            trial = np.vstack([pos, rot.apply(mol.positions) + rng.random(3) * length])
            ids = np.array(mol_id + [k] * mol.n_atoms)
            d = trial[:, None] - trial[None]
            d_mic = np.linalg.norm(d - np.round(d / length) * length, axis=-1)
            imaged = np.abs(np.linalg.norm(d, axis=-1) - d_mic) > 1e-9
            bad = ((ids[:, None] != ids[None]) | imaged) & (d_mic < gap)
            np.fill_diagonal(bad, False)
            if not bad.any():
                break
        else:
            raise RuntimeError("random insertion failed")
        symbols += mol.symbols
        pos = trial
        mol_id += [k] * mol.n_atoms
    return Atoms(symbols, positions=pos, cell=np.eye(3) * length, pbc=True), np.array(mol_id)


@pytest.fixture(scope="module")
def box():
    """2 EC + 2 EMC at ~0.88 g/cm3, stored wrapped (molecules cut by the boundary)."""
    atoms, mol_id = random_box({"EC": 2, "EMC": 2}, 9.0, seed=0)
    whole = atoms.copy()
    atoms.wrap()
    return atoms, whole, mol_id


def intramolecular_distances(atoms: Atoms, mol_id: np.ndarray) -> list[np.ndarray]:
    out = []
    for m in np.unique(mol_id):
        p = atoms.positions[mol_id == m]
        out.append(np.linalg.norm(p[:, None] - p[None], axis=-1))
    return out


def test_wrapped_box_is_cut_and_made_whole_by_bonds(box):
    atoms, whole, mol_id = box
    assert not np.allclose(atoms.positions, whole.positions)  # wrapping cut molecules
    assert np.array_equal(molecule_ids(atoms), mol_id)  # bond graph across the boundary
    assert composition_of(atoms) == "EC2EMC2"
    fixed = make_whole(atoms, mol_id)
    for m in np.unique(mol_id):  # whole = original up to one lattice translation per molecule
        shift = fixed[mol_id == m] - whole.positions[mol_id == m]
        assert np.allclose(shift, shift[0], atol=1e-10)
        assert np.allclose(shift[0] / 9.0, np.round(shift[0] / 9.0), atol=1e-10)


def test_scan_is_rigid_and_scales_centres_of_mass(box):
    atoms, whole, mol_id = box
    scales = [0.9, 1.0, 1.37, 2.5, 6.0]
    frames = volume_scan(atoms, "t", scales=scales)
    reference = intramolecular_distances(whole, mol_id)
    _, com0 = centres_of_mass(frames[1], mol_id)
    for frame, s in zip(frames, scales, strict=True):
        assert np.array_equal(frame.arrays["mol_id"], mol_id)
        for got, want in zip(intramolecular_distances(frame, mol_id), reference, strict=True):
            assert np.abs(got - want).max() < 1e-10
        _, com = centres_of_mass(frame, mol_id)
        sep, sep0 = com[:, None] - com[None], com0[:, None] - com0[None]
        assert np.allclose(sep, s * sep0, rtol=0, atol=1e-10)
        assert np.allclose(frame.cell.array, s * atoms.cell.array)
        assert frame.info["density_gcm3"] == pytest.approx(density(atoms) / s**3)
        assert frame.info["scan_id"] == "t" and frame.info["config_type"] == "vs"
    assert len({f.info["frame_id"] for f in frames}) == len(frames)


def test_molecules_are_never_redetected_in_compressed_frames(box):
    atoms, _, mol_id = box
    squeezed = rigid_scale(volume_scan(atoms, "t", scales=[1.0])[0], 0.7)
    assert len(np.unique(molecule_ids(squeezed))) < 4  # re-detection would merge molecules
    rescan = volume_scan(squeezed, "u", scales=[1.2])  # keeps the frame's own mol_id
    assert np.array_equal(rescan[0].arrays["mol_id"], mol_id)


def test_automatic_scan_stops_at_min_distance(box):
    atoms, _, mol_id = box
    frames = volume_scan(atoms, "a", points=5, max_density=2.0, min_density=0.1, min_distance=1.0)
    gaps = [f.info["min_intermolecular_A"] for f in frames]
    assert len(frames) == 5 and min(gaps) >= 1.0
    first = frames[0]
    assert first.info["density_gcm3"] < 2.0  # the 1 A limit came before 2 g/cm3 here
    closer = rigid_scale(volume_scan(atoms, "x", scales=[1.0])[0], first.info["scale"] - LIMIT_STEP)
    assert min_intermolecular_distance(closer, mol_id) < 1.0
    assert frames[-1].info["density_gcm3"] == pytest.approx(0.1)
    assert np.all(np.diff([f.info["scale"] for f in frames]) > 0)


def test_scan_needs_a_periodic_frame():
    mol = get_molecule("EC")
    with pytest.raises(InputError, match="periodic"):
        volume_scan(Atoms(mol.symbols, positions=mol.positions), "t", scales=[1.0])


def test_gfn2_energy_rises_when_compressed_and_tends_to_isolated_molecules(box):
    atoms, whole, mol_id = box
    spec = ReferenceSpec()
    limit = volume_scan(atoms, "a", points=2, min_distance=1.0)[0].info["scale"]
    scales = [limit, 1.0, 2.5, 4.0, 6.0]
    frames = volume_scan(atoms, "e", scales=scales)
    energies = [compute_labels(f, spec).energy for f in frames]
    isolated, dipoles = 0.0, []
    for m in np.unique(mol_id):
        mol = Atoms(
            np.array(whole.get_chemical_symbols())[mol_id == m], whole.positions[mol_id == m]
        )
        from tblite.ase import TBLite

        mol.calc = TBLite(verbosity=0)
        isolated += mol.get_potential_energy()
        dipoles.append(np.linalg.norm(mol.calc.get_property("dipole", mol)))
    delta = np.array(energies) - isolated
    assert energies[0] > energies[1] + 1.0  # compressed to a 1 A contact: eV above
    # Expanded tail: neutral molecules interact at long range through dipoles (~1/R^3;
    # dispersion ~1/R^6). Tolerance: the largest dipole-dipole energy 2 k_e mu_i mu_j / R^3
    # summed over all pairs including the 26 neighbouring images, doubled for farther images
    # and higher multipoles, plus 1e-4 eV of SCF convergence noise.
    last = frames[-1]
    _, com = centres_of_mass(last, mol_id)
    bound = 0.0
    for i, j in itertools.product(range(len(com)), repeat=2):
        for shift in itertools.product((-1, 0, 1), repeat=3):
            if i == j and shift == (0, 0, 0):
                continue
            r = np.linalg.norm(com[j] + np.array(shift) @ last.cell.array - com[i])
            bound += 0.5 * 2 * K_E * dipoles[i] * dipoles[j] / r**3
    tolerance = 2 * bound + 1e-4
    assert abs(delta[-1]) < tolerance
    assert abs(delta[-1]) < abs(delta[-2]) < abs(delta[-3])  # monotonic approach
