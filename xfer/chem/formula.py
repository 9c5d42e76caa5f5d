"""Chemical formulas and elements: the Hill formula of a set of atoms, the element of a mass.

Used wherever molecules are named from atoms alone (LAMMPS data files, dumps, extxyz frames).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
from ase.data import atomic_masses, chemical_symbols

from xfer.errors import InputError

MASS_TOLERANCE = 0.1  # u: a mass further than this from every element is an error


def hill_formula(symbols: Iterable[str]) -> str:
    """Hill formula: C, then H, then alphabetical (alphabetical throughout without C)."""
    counts = Counter(str(s) for s in symbols)
    keys = [k for k in ("C", "H") if k in counts] if "C" in counts else []
    keys += sorted(k for k in counts if k not in keys)
    return "".join(f"{k}{counts[k] if counts[k] > 1 else ''}" for k in keys)


def element_of_mass(mass: float) -> str:
    """Element whose standard atomic mass is nearest ``mass`` (within MASS_TOLERANCE)."""
    z = int(np.argmin(np.abs(atomic_masses[1:] - mass))) + 1
    if abs(atomic_masses[z] - mass) > MASS_TOLERANCE:
        raise InputError(f"atom mass {mass} matches no element")
    return chemical_symbols[z]
