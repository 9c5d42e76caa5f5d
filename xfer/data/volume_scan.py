"""Rigid-molecule volume scans (tag ``vs``): isotropic cell scaling, molecules move rigidly.

Molecules are taken from the source frame's ``mol_id`` array, or from the source frame's bond
graph when it has none, and are never re-detected in scaled frames. Molecules are made whole
by walking their bonds, then the cell is scaled by ``s`` and each molecule translated so that
only its centre of mass scales: ``r' = r - com + s * com``. Intramolecular geometry is
unchanged to rounding error. The compressed end stops where atoms of different molecules
would come closer than ``min_distance`` (GFN2 energies explode and SCF struggles there).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from xfer.chem.units import AMU_PER_A3_TO_G_PER_CM3
from xfer.data.frames import COMPOSITION, FRAME_ID, tag_frame
from xfer.data.molgraph import (
    centres_of_mass,
    composition_of,
    make_whole,
    min_intermolecular_distance,
    molecule_ids,
)
from xfer.errors import InputError

LIMIT_STEP = 0.002  # relative step when searching the compression limit


def density(atoms: Atoms) -> float:
    """Mass density in g/cm^3."""
    return float(atoms.get_masses().sum() / atoms.get_volume() * AMU_PER_A3_TO_G_PER_CM3)


def prepare(atoms: Atoms) -> Atoms:
    """Copy of a periodic frame with ``mol_id`` set (kept or detected), molecules whole."""
    if not np.all(atoms.pbc) or atoms.get_volume() <= 0:
        raise InputError("a volume scan needs a periodic source frame with a non-zero cell")
    frame = atoms.copy()
    frame.calc = None
    if "mol_id" not in frame.arrays:
        frame.arrays["mol_id"] = molecule_ids(frame)
    frame.positions = make_whole(frame, frame.arrays["mol_id"])
    return frame


def rigid_scale(frame: Atoms, scale: float) -> Atoms:
    """``frame`` (molecules whole, ``mol_id`` set) with the cell scaled and molecules rigid."""
    mol_id = frame.arrays["mol_id"]
    mols, coms = centres_of_mass(frame, mol_id)
    out = frame.copy()
    out.set_cell(frame.cell.array * scale, scale_atoms=False)
    shift = np.zeros_like(frame.positions)
    for mol, com in zip(mols, coms, strict=True):
        shift[mol_id == mol] = (scale - 1.0) * com
    out.positions = frame.positions + shift
    return out


def compression_limit(frame: Atoms, smallest: float, min_distance: float) -> float:
    """Smallest scale >= ``smallest`` reached from 1 downwards keeping ``min_distance``."""
    mol_id = frame.arrays["mol_id"]
    if min_intermolecular_distance(frame, mol_id) < min_distance:
        return 1.0
    scale = 1.0
    while scale > smallest:
        trial = max(smallest, scale - LIMIT_STEP)
        if min_intermolecular_distance(rigid_scale(frame, trial), mol_id) < min_distance:
            break
        scale = trial
    return scale


def scan_scales(
    frame: Atoms, points: int, max_density: float, min_density: float, min_distance: float
) -> list[float]:
    """``points`` scale factors, geometric from the compression limit to ``min_density``."""
    if points < 2:
        raise InputError(f"a volume scan needs at least 2 points, got {points}")
    if not 0 < min_density < max_density:
        raise InputError(f"need 0 < min_density < max_density, got {min_density}, {max_density}")
    rho0 = density(frame)
    smallest = min(1.0, (rho0 / max_density) ** (1 / 3))
    largest = max(1.0, (rho0 / min_density) ** (1 / 3))
    lo = compression_limit(frame, smallest, min_distance)
    return list(lo * (largest / lo) ** (np.arange(points) / (points - 1)))


def volume_scan(
    source: Atoms,
    scan_id: str,
    points: int = 5,
    max_density: float = 2.0,
    min_density: float = 0.1,
    min_distance: float = 1.0,
    scales: list[float] | None = None,
) -> list[Atoms]:
    """Frames of one rigid volume scan of ``source``, most compressed first.

    With ``scales`` given they are used as they are (sorted); otherwise ``points`` scales
    run from the density ``max_density`` (or the ``min_distance`` limit, whichever is
    reached first) to ``min_density``.
    """
    frame = prepare(source)
    if scales is None:
        scales = scan_scales(frame, points, max_density, min_density, min_distance)
    elif min(scales) <= 0:
        raise InputError("volume-scan scale factors must be positive")
    mol_id = frame.arrays["mol_id"]
    composition = str(source.info.get(COMPOSITION) or composition_of(frame, mol_id))
    out = []
    for k, scale in enumerate(sorted(scales)):
        scaled = rigid_scale(frame, float(scale))
        for key in list(scaled.info):
            del scaled.info[key]
        out.append(
            tag_frame(
                scaled,
                "vs",
                composition,
                f"vs-{composition}-{scan_id}-{k:02d}",
                scan_id=scan_id,
                scale=float(scale),
                density_gcm3=density(scaled),
                min_intermolecular_A=min_intermolecular_distance(scaled, mol_id),
                source_frame=source.info.get(FRAME_ID),
            )
        )
    return out
