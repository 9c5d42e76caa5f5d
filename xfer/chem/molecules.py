"""Solvent molecules from SMILES: RDKit graph, optimised 3D geometry, bond list.

The five carbonates of the study and DMC are built-in (every built-in formula is distinct,
so a molecule found in a frame is named by its formula without ambiguity); any other
molecule can be registered with its SMILES (OPLS-AA typing then decides whether it can
be simulated classically).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem

from xfer.errors import InputError

SMILES: dict[str, str] = {
    "EC": "O=C1OCCO1",  # ethylene carbonate, C3H4O3
    "EMC": "CCOC(=O)OC",  # ethyl methyl carbonate, C4H8O3
    "DEC": "CCOC(=O)OCC",  # diethyl carbonate, C5H10O3
    "PC": "CC1COC(=O)O1",  # propylene carbonate, C4H6O3
    "VC": "O=C1OC=CO1",  # vinylene carbonate, C3H2O3
    "DMC": "COC(=O)OC",  # dimethyl carbonate, C3H6O3
}


@dataclass(frozen=True)
class Molecule:
    """One molecule: element symbols, optimised coordinates (A) and bonds (0-based pairs)."""

    name: str
    symbols: tuple[str, ...]
    positions: np.ndarray
    bonds: tuple[tuple[int, int], ...]
    mol: Chem.Mol

    @property
    def n_atoms(self) -> int:
        return len(self.symbols)

    @property
    def mass(self) -> float:
        """Molecular mass in g/mol."""
        return float(sum(a.GetMass() for a in self.mol.GetAtoms()))


def known_molecules() -> list[str]:
    """Names accepted by :func:`get_molecule`."""
    return sorted(SMILES)


@cache
def get_molecule(name: str, seed: int = 7) -> Molecule:
    """Build molecule ``name`` with explicit H, 3D-embedded (ETKDGv3) and MMFF-optimised.

    The lowest-energy of 10 conformers is kept so the geometry is reproducible.
    """
    if name not in SMILES:
        raise InputError(f"unknown molecule {name!r}; known: {', '.join(known_molecules())}")
    mol = Chem.AddHs(Chem.MolFromSmiles(SMILES[name]))
    Chem.Kekulize(mol, clearAromaticFlags=True)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    conf_ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=10, params=params))
    if not conf_ids:
        raise InputError(f"RDKit could not embed {name} in 3D")
    results = AllChem.MMFFOptimizeMoleculeConfs(mol, maxIters=2000)
    best = int(np.argmin([energy for _, energy in results]))
    pos = np.array(mol.GetConformer(conf_ids[best]).GetPositions(), dtype=float)
    keep = Chem.Mol(mol, confId=conf_ids[best])  # drop the other conformers
    symbols = tuple(a.GetSymbol() for a in mol.GetAtoms())
    bonds = tuple(sorted((b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()))
    return Molecule(name, symbols, pos - pos.mean(axis=0), bonds, keep)


def parse_mix(text: str) -> dict[str, int]:
    """Parse a mixture like ``EC:16,EMC:32`` into ``{"EC": 16, "EMC": 32}``."""
    mix: dict[str, int] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, count = (part.strip() for part in item.partition(":"))
        if not sep or not count.isdigit() or int(count) < 1:
            raise InputError(f"bad mixture entry {item!r}: expected NAME:COUNT, e.g. EC:16,EMC:32")
        if name not in SMILES:
            known = ", ".join(known_molecules())
            raise InputError(f"unknown molecule {name!r} in mixture; known: {known}")
        mix[name] = mix.get(name, 0) + int(count)
    if not mix:
        raise InputError("empty mixture: expected NAME:COUNT, e.g. EC:16,EMC:32")
    return mix


def composition_label(mix: dict[str, int]) -> str:
    """Compact composition tag, e.g. ``EC4EMC8``."""
    return "".join(f"{name}{count}" for name, count in mix.items())
