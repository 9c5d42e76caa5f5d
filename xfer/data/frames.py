"""Conventions every frame of a dataset follows: tags, ids, label keys, fingerprints.

Frames are ASE Atoms. ``info`` carries ``config_type`` (one of :data:`TAGS`), ``composition``
(e.g. ``EC4EMC8``), a stable ``frame_id`` and the generating conditions; reference labels use
the ``REF_*`` keys below, never ASE's calculator slot. Stress and virial are stored as flat
9-vectors (row-major 3x3, eV/A^3 and eV) so every trainer's extxyz reader can parse them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from ase import Atoms

TAGS = ("opls", "sm", "vs", "al", "e0")

CONFIG_TYPE = "config_type"
COMPOSITION = "composition"
FRAME_ID = "frame_id"

ENERGY_KEY = "REF_energy"
FORCES_KEY = "REF_forces"
STRESS_KEY = "REF_stress"
VIRIAL_KEY = "REF_virial"
METHOD_KEY = "REF_method"


def tag_frame(
    atoms: Atoms, config_type: str, composition: str, frame_id: str, **conditions: Any
) -> Atoms:
    """Set the tag, composition, id and generating conditions of ``atoms`` (in place)."""
    atoms.info[CONFIG_TYPE] = config_type
    atoms.info[COMPOSITION] = composition
    atoms.info[FRAME_ID] = frame_id
    for key, value in conditions.items():
        if value is not None:
            atoms.info[key] = value
    return atoms


def is_periodic(atoms: Atoms) -> bool:
    """True when the frame is periodic in all three directions (stress/virial are defined)."""
    return bool(np.all(atoms.pbc))


def fingerprint(atoms: Atoms) -> str:
    """SHA-256 of species, positions, cell and pbc: identifies a frame's geometry exactly."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(atoms.numbers, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(atoms.positions, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(atoms.cell.array, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(atoms.pbc, dtype=np.int8).tobytes())
    return digest.hexdigest()


def has_labels(atoms: Atoms) -> bool:
    """True when energy and forces (and virial for periodic frames) are present."""
    if ENERGY_KEY not in atoms.info or FORCES_KEY not in atoms.arrays:
        return False
    return not is_periodic(atoms) or VIRIAL_KEY in atoms.info
