"""Isolated atoms for per-element reference energies (tag ``e0``).

Each atom carries its ground-state spin as an initial magnetic moment (number of unpaired
electrons, Hund's rule), which tblite and most ASE calculators read as the multiplicity.
"""

from __future__ import annotations

from ase import Atoms
from ase.data import chemical_symbols

from xfer.data.frames import tag_frame
from xfer.errors import InputError

# unpaired electrons of the free-atom ground state (Hund's rule)
UNPAIRED: dict[str, int] = {
    "H": 1, "He": 0, "Li": 1, "Be": 0, "B": 1, "C": 2, "N": 3, "O": 2, "F": 1, "Ne": 0,
    "Na": 1, "Mg": 0, "Al": 1, "Si": 2, "P": 3, "S": 2, "Cl": 1, "Ar": 0,
}  # fmt: skip


def isolated_atoms(
    elements: list[str], unpaired: dict[str, int] | None = None, box: float | None = None
) -> list[Atoms]:
    """One frame per element (sorted by atomic number); ``unpaired`` overrides the table.

    Non-periodic by default; with ``box`` (A) the atom sits in a periodic cubic cell.
    """
    table = {**UNPAIRED, **(unpaired or {})}
    frames = []
    for symbol in sorted(set(elements), key=chemical_symbols.index):
        if symbol not in chemical_symbols[1:]:
            raise InputError(f"unknown element {symbol!r} in e0 elements")
        if symbol not in table:
            raise InputError(
                f"no ground-state spin known for {symbol}: set e0.unpaired = {{{symbol} = N}}"
            )
        atoms = Atoms(symbol, positions=[[0.0, 0.0, 0.0]])
        atoms.set_initial_magnetic_moments([float(table[symbol])])
        if box is not None:
            atoms.set_cell([box, box, box])
            atoms.pbc = True
            atoms.center()
        frames.append(
            tag_frame(atoms, "e0", symbol, f"e0-{symbol}", unpaired_electrons=table[symbol])
        )
    return frames
