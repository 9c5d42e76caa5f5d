"""A molecular system: atoms grouped in molecules, bonds, an orthogonal or triclinic cell."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from xfer.chem.units import AMU_PER_A3_TO_G_PER_CM3


def walk_bonds(
    positions: np.ndarray, i: np.ndarray, j: np.ndarray, vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions with every bonded atom placed at its bond vector from a placed neighbour.

    Bonds are ``i[k] -> j[k]`` with vector ``vectors[k]`` (both directions must be given).
    Atoms are walked breadth first from the lowest unplaced index; returns the positions
    and, per atom, the index of the root it was reached from (one per bonded fragment).
    """
    n = len(positions)
    neighbours: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(n)]
    for a, b, v in zip(i, j, vectors, strict=True):
        neighbours[int(a)].append((int(b), v))
    whole = np.array(positions, dtype=float)
    root = np.full(n, -1, dtype=int)
    for start in range(n):
        if root[start] >= 0:
            continue
        root[start] = start
        queue = deque([start])
        while queue:
            a = queue.popleft()
            for b, v in neighbours[a]:
                if root[b] < 0:
                    whole[b] = whole[a] + v
                    root[b] = start
                    queue.append(b)
    return whole, root


def intermolecular_gap(
    positions: np.ndarray, mol_ids: np.ndarray, cell: np.ndarray | None = None, pbc=True
) -> float:
    """Smallest distance between atoms of different molecules (A; inf for one molecule).

    Minimum image in ``cell`` along the periodic directions ``pbc``; no cell, no images.
    """
    from ase.geometry import get_distances

    _, dist = get_distances(positions, cell=cell, pbc=pbc if cell is not None else False)
    other = np.asarray(mol_ids)[:, None] != np.asarray(mol_ids)[None, :]
    return float(dist[other].min()) if other.any() else float("inf")


@dataclass
class System:
    """Molecules in a periodic cell with molecules whole (unwrapped coordinates).

    ``mol_ids`` are 1-based per atom; ``molecule_names[k]`` names molecule ``k+1``;
    ``bonds`` are 0-based global atom index pairs.
    """

    symbols: list[str]
    positions: np.ndarray
    cell: np.ndarray
    mol_ids: np.ndarray
    molecule_names: list[str]
    bonds: list[tuple[int, int]]

    @property
    def n_atoms(self) -> int:
        return len(self.symbols)

    @property
    def masses(self) -> np.ndarray:
        return np.array([atomic_masses[atomic_numbers[s]] for s in self.symbols])

    @property
    def volume(self) -> float:
        return float(abs(np.linalg.det(self.cell)))

    @property
    def density(self) -> float:
        """Mass density in g/cm^3."""
        return float(self.masses.sum() / self.volume * AMU_PER_A3_TO_G_PER_CM3)

    def to_atoms(self) -> Atoms:
        """ASE Atoms (pbc, whole molecules) with a per-atom ``mol_id`` array."""
        atoms = Atoms(self.symbols, positions=self.positions, cell=self.cell, pbc=True)
        atoms.arrays["mol_id"] = self.mol_ids.copy()
        return atoms

    def mix(self) -> dict[str, int]:
        """Molecule counts by name, in order of first appearance."""
        counts: dict[str, int] = {}
        for name in self.molecule_names:
            counts[name] = counts.get(name, 0) + 1
        return counts


def replication_factors(copies: int) -> tuple[int, int, int]:
    """The most cubic (na, nb, nc) with na * nb * nc == copies (e.g. 4 -> (2, 2, 1))."""
    best = (copies, 1, 1)
    for na in range(1, copies + 1):
        for nb in range(1, copies // na + 1):
            if copies % (na * nb) == 0:
                reps = tuple(sorted((na, nb, copies // (na * nb)), reverse=True))
                if (max(reps), sum(reps)) < (max(best), sum(best)):
                    best = reps  # type: ignore[assignment]
    return best


def replicate(system: System, reps: tuple[int, int, int]) -> System:
    """``system`` repeated ``reps`` times along its cell vectors (molecules stay whole)."""
    n, n_mol = system.n_atoms, len(system.molecule_names)
    symbols, positions, mol_ids, names, bonds = [], [], [], [], []
    for k, shift in enumerate(np.ndindex(*reps)):
        positions.append(system.positions + np.asarray(shift) @ system.cell)
        symbols += system.symbols
        mol_ids.append(system.mol_ids + k * n_mol)
        names += system.molecule_names
        bonds += [(i + k * n, j + k * n) for i, j in system.bonds]
    cell = system.cell * np.asarray(reps)[:, None]
    return System(symbols, np.concatenate(positions), cell, np.concatenate(mol_ids), names, bonds)
