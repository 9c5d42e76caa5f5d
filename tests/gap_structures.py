"""Structures for GAP tests: rattled molecules and periodic molecular boxes."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from scipy.spatial.transform import Rotation

from xfer.chem.molecules import get_molecule


def rattled_molecule(name: str, rng: np.random.Generator, amplitude: float = 0.08) -> Atoms:
    """Molecule ``name`` (no cell) with Gaussian displacements of ``amplitude`` A."""
    mol = get_molecule(name)
    noise = rng.normal(0.0, amplitude, mol.positions.shape)
    return Atoms(mol.symbols, positions=mol.positions + noise)


def molecular_box(names: list[str], cell: np.ndarray, seed: int = 0) -> Atoms:
    """Periodic box with molecules ``names`` on a grid, randomly rotated and rattled."""
    rng = np.random.default_rng(seed)
    cell = np.asarray(cell, dtype=float)
    per_side = int(np.ceil(len(names) ** (1 / 3)))
    symbols, positions = [], []
    for k, name in enumerate(names):
        mol = get_molecule(name)
        grid = np.array([k % per_side, (k // per_side) % per_side, k // per_side**2])
        centre = ((grid + 0.5) / per_side) @ cell
        rotation = Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()
        positions.append(mol.positions @ rotation.T + centre)
        symbols += mol.symbols
    atoms = Atoms(symbols, positions=np.vstack(positions), cell=cell, pbc=True)
    atoms.positions += rng.normal(0.0, 0.03, atoms.positions.shape)
    atoms.wrap()
    return atoms
