"""Molecules of a frame from its bond graph; whole molecules across periodic boundaries.

Bonds are atom pairs closer than 1.2 x the sum of their covalent radii (ASE's natural
cutoffs). Molecules are the connected components of the bond graph of a frame near
equilibrium; callers keep those ids (``mol_id``) for derived frames instead of re-detecting
them, because compressed frames put atoms of different molecules within bonding distance.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from ase import Atoms
from ase.neighborlist import natural_cutoffs, neighbor_list
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from xfer.chem.formula import hill_formula
from xfer.chem.system import intermolecular_gap, walk_bonds
from xfer.errors import InputError

BOND_TOLERANCE = 1.2  # bonded if closer than this times the sum of covalent radii


def bonds(atoms: Atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bonded pairs ``(i, j, shift)``, both directions, with the cell shift of ``j``."""
    i, j, shift = neighbor_list("ijS", atoms, natural_cutoffs(atoms, mult=BOND_TOLERANCE))
    return i, j, shift


def molecule_ids(atoms: Atoms) -> np.ndarray:
    """0-based molecule index per atom: connected components of the bond graph."""
    i, j, _ = bonds(atoms)
    n = len(atoms)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # renumber by first atom so ids are stable under relabelling by scipy
    _, first = np.unique(labels, return_index=True)
    order = {lab: k for k, lab in enumerate(labels[np.sort(first)])}
    return np.array([order[lab] for lab in labels], dtype=int)


def make_whole(atoms: Atoms, mol_id: np.ndarray) -> np.ndarray:
    """Positions with every molecule whole, found by walking its bonds (not minimum image).

    Each molecule starts from its lowest-index atom; bonded neighbours are placed at the
    bond vector given by the neighbour list's cell shifts, so molecules longer than half
    the box come out right. The molecule is then shifted by a lattice vector so that its
    centre of geometry lies inside the cell.
    """
    mol_id = np.asarray(mol_id)
    if len(mol_id) != len(atoms):
        raise InputError(f"mol_id has {len(mol_id)} entries for {len(atoms)} atoms")
    pos = atoms.positions
    cell = atoms.cell.array
    i, j, shift = bonds(atoms)
    same = mol_id[i] == mol_id[j]
    i, j, shift = i[same], j[same], shift[same]
    whole, root = walk_bonds(pos, i, j, pos[j] + shift @ cell - pos[i])
    for mol in np.unique(mol_id):
        if len(np.unique(root[mol_id == mol])) > 1:
            raise InputError(
                f"molecule {mol} is not connected by bonds (a bond is stretched beyond the "
                "covalent cutoff, or mol_id does not match the bond graph)"
            )
    return centre_molecules(whole, cell, mol_id) if np.any(atoms.pbc) else whole


def centre_molecules(positions: np.ndarray, cell: np.ndarray, mol_id: np.ndarray) -> np.ndarray:
    """Whole molecules shifted by lattice vectors so each centre of geometry is in the cell."""
    out = np.array(positions, dtype=float)
    if abs(np.linalg.det(cell)) == 0:
        return out
    for mol in np.unique(mol_id):
        members = np.asarray(mol_id) == mol
        frac = np.linalg.solve(cell.T, out[members].mean(axis=0))
        out[members] -= np.floor(frac) @ cell
    return out


def centres_of_mass(atoms: Atoms, mol_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Molecule ids (sorted) and their centres of mass, from the positions as they are."""
    mols = np.unique(mol_id)
    masses = atoms.get_masses()
    coms = np.array(
        [
            np.average(atoms.positions[mol_id == m], axis=0, weights=masses[mol_id == m])
            for m in mols
        ]
    )
    return mols, coms


def min_intermolecular_distance(atoms: Atoms, mol_id: np.ndarray) -> float:
    """Smallest (minimum-image) distance between atoms of different molecules (A)."""
    cell = atoms.cell.array if np.any(atoms.pbc) else None
    return intermolecular_gap(atoms.positions, mol_id, cell, atoms.pbc)


def composition_of(atoms: Atoms, mol_id: np.ndarray | None = None) -> str:
    """Composition label (e.g. ``EC4EMC8``): molecules matched to known ones by formula.

    Molecules with a formula no known molecule has are labelled by their Hill formula.
    """
    from xfer.chem.molecules import SMILES, composition_label, get_molecule

    if mol_id is None:
        mol_id = molecule_ids(atoms)
    known = {hill_formula(get_molecule(name).symbols): name for name in SMILES}
    symbols = np.array(atoms.get_chemical_symbols())
    counts: Counter[str] = Counter()
    for mol in np.unique(mol_id):
        formula = hill_formula(symbols[np.asarray(mol_id) == mol])
        counts[known.get(formula, formula)] += 1
    order = [name for name in SMILES if name in counts] + sorted(set(counts) - set(SMILES))
    return composition_label({name: counts[name] for name in order})

