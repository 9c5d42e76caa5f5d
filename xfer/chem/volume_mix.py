"""Liquids mixed by volume ratio (``EC:1,DEC:1`` v/v): molecule counts and ideal density.

Each pure liquid's density and molar mass give its molar volume ``M / rho``; a volume
fraction ``phi_i`` then holds ``phi_i rho_i / M_i`` moles per unit volume, and the box
density is the ideal-mixing one (volumes of the pure liquids add). Counts are rounded by
largest remainder so that they sum to the requested number of molecules.

Pure-liquid densities at 25 C (g/cm3): K. Xu, Chem. Rev. 104, 4303 (2004), Table 1
(EC at 40 C, above its 36 C melting point; PC, DMC, DEC, EMC); VC from the supplier
data sheet (Sigma-Aldrich 1.355 g/mL at 25 C). Molar masses come from RDKit.
"""

from __future__ import annotations

import numpy as np

from xfer.chem.molecules import get_molecule, known_molecules
from xfer.errors import InputError

LIQUID_DENSITY: dict[str, float] = {
    "EC": 1.321,
    "PC": 1.200,
    "DMC": 1.063,
    "DEC": 0.969,
    "EMC": 1.006,
    "VC": 1.355,
}


def parse_fractions(text: str) -> dict[str, float]:
    """Parse ``EC:1,DEC:1`` (positive parts by volume) into ``{"EC": 1.0, "DEC": 1.0}``."""
    parts: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = (part.strip() for part in item.partition(":"))
        try:
            amount = float(value) if sep else float("nan")
        except ValueError:
            amount = float("nan")
        if not amount > 0 or not np.isfinite(amount):
            raise InputError(
                f"bad volume-ratio entry {item!r}: expected NAME:PARTS, e.g. EC:1,DEC:1"
            )
        if name not in LIQUID_DENSITY:
            known = ", ".join(n for n in known_molecules() if n in LIQUID_DENSITY)
            raise InputError(f"no liquid density for {name!r}; volume ratios work for: {known}")
        parts[name] = parts.get(name, 0.0) + amount
    if not parts:
        raise InputError("empty volume ratio: expected NAME:PARTS, e.g. EC:1,DEC:1")
    return parts


def mix_by_volume(parts: dict[str, float], molecules: int) -> tuple[dict[str, int], float]:
    """Molecule counts (summing to ``molecules``) and ideal-mixing density (g/cm3)."""
    if molecules < len(parts):
        raise InputError(f"{molecules} molecules cannot hold {len(parts)} kinds of molecule")
    names = list(parts)
    total = sum(parts.values())
    moles = np.array([parts[n] / total * LIQUID_DENSITY[n] / get_molecule(n).mass for n in names])
    exact = moles / moles.sum() * molecules
    counts = np.floor(exact).astype(int)
    for k in np.argsort(counts - exact)[: molecules - counts.sum()]:
        counts[k] += 1
    if (counts < 1).any():
        empty = [n for n, c in zip(names, counts, strict=True) if c < 1]
        raise InputError(f"{molecules} molecules leave no {', '.join(empty)}: use more molecules")
    mix = {n: int(c) for n, c in zip(names, counts, strict=True)}
    mass = sum(get_molecule(n).mass * c for n, c in mix.items())
    volume = sum(get_molecule(n).mass * c / LIQUID_DENSITY[n] for n, c in mix.items())
    return mix, float(mass / volume)
