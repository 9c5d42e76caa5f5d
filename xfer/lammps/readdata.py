"""Read a LAMMPS data file (atom_style full, with bonds) back into a :class:`System`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase.data import chemical_symbols

from xfer.chem.formula import element_of_mass, hill_formula
from xfer.chem.molecules import SMILES, get_molecule
from xfer.chem.system import System, walk_bonds
from xfer.errors import InputError

HEADER_KEYS = ("atoms", "bonds", "atom types", "bond types")
SECTIONS = {"Masses", "Atoms", "Bonds", "Velocities", "Pair Coeffs", "Bond Coeffs",
            "Angle Coeffs", "Dihedral Coeffs", "Improper Coeffs", "Angles", "Dihedrals",
            "Impropers"}


def _formula_names() -> dict[str, str]:
    return {hill_formula(get_molecule(name).symbols): name for name in SMILES}


def _element(mass: float, comment: str) -> str:
    for word in comment.split():
        if word in chemical_symbols[1:]:
            return word
    return element_of_mass(mass)


def read_system(path: Path) -> System:
    """Parse ``path``; molecules are named by formula (EC, EMC, DEC, PC, VC) where known."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data file not found: {path}")
    lines = path.read_text().splitlines()
    box = {"xlo xhi": (0.0, 0.0), "ylo yhi": (0.0, 0.0), "zlo zhi": (0.0, 0.0)}
    tilt = (0.0, 0.0, 0.0)
    sections: dict[str, list[str]] = {}
    current = None
    for raw in lines[1:]:
        line = raw.strip()
        if not line:
            continue
        title = line.split("#")[0].strip()
        if title in SECTIONS:
            current = title
            sections[current] = []
            continue
        if current is None:
            for key in box:
                if line.endswith(key):
                    box[key] = tuple(float(v) for v in line.split()[:2])  # type: ignore[assignment]
            if line.endswith("xy xz yz"):
                tilt = tuple(float(v) for v in line.split()[:3])  # type: ignore[assignment]
        else:
            sections[current].append(line)
    if "Atoms" not in sections:
        raise InputError(f"{path}: no Atoms section")
    try:
        masses = {}
        elements = {}
        for line in sections.get("Masses", []):
            body, _, comment = line.partition("#")
            t, m = body.split()[:2]
            masses[int(t)] = float(m)
            elements[int(t)] = _element(float(m), comment)
        rows = sorted((line.split("#")[0].split() for line in sections["Atoms"]),
                      key=lambda r: int(r[0]))
        ids = [int(r[0]) for r in rows]
        mol = np.array([int(r[1]) for r in rows])
        symbols = [elements[int(r[2])] for r in rows]
        pos = np.array([[float(v) for v in r[4:7]] for r in rows])
        images = np.array([[int(v) for v in r[7:10]] if len(r) >= 10 else [0, 0, 0] for r in rows])
        index = {aid: k for k, aid in enumerate(ids)}
        bonds = [
            tuple(sorted((index[int(r.split()[2])], index[int(r.split()[3])])))
            for r in sections.get("Bonds", [])
        ]
    except (ValueError, KeyError, IndexError) as exc:
        raise InputError(f"{path}: malformed data file ({exc})") from None
    (xlo, xhi), (ylo, yhi), (zlo, zhi) = box["xlo xhi"], box["ylo yhi"], box["zlo zhi"]
    xy, xz, yz = tilt
    cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
    pos = pos + images @ cell
    _, mol_ids = np.unique(mol, return_inverse=True)
    mol_ids = mol_ids + 1
    formulas = _formula_names()
    names = []
    for m in range(1, mol_ids.max() + 1):
        formula = hill_formula(s for s, k in zip(symbols, mol_ids) if k == m)
        names.append(formulas.get(formula, formula))
    system = System(symbols, pos, cell, mol_ids, names, [tuple(b) for b in bonds])  # type: ignore[misc]
    _make_whole(system)
    return system


def _make_whole(system: System) -> None:
    """Shift atoms by lattice vectors so every bond is its minimum image (molecules whole)."""
    if not system.bonds:
        return
    pairs = np.array(system.bonds, dtype=int)
    i, j = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
    d = system.positions[j] - system.positions[i]
    d -= np.round(d @ np.linalg.inv(system.cell)) @ system.cell
    system.positions[:] = walk_bonds(system.positions, i, j, d)[0]
