"""Frames of an xfer trajectory dump as ASE Atoms (training-set generation, diagnostics).

Reads the custom dump ``id mol type element x y z ix iy iz`` written by
``xfer/lammps/lmp_templates/md.lmp.j2`` in double precision, sorts atoms by id and unwraps with the
image flags, so molecules that started whole stay whole. Each Atoms carries a per-atom
``mol_id`` array and ``info['step']``. (Long-trajectory analysis uses the faster
:mod:`xfer.analysis.dump` instead.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

from xfer.errors import InputError

REQUIRED = ("id", "mol", "element", "x", "y", "z", "ix", "iy", "iz")


def box_from_bounds(bounds) -> tuple[np.ndarray, np.ndarray]:
    """Origin and cell matrix (rows a, b, c) from the three BOX BOUNDS rows of a dump.

    Triclinic rows are ``lo_bound hi_bound tilt``: the bounding box of the tilted cell,
    from which LAMMPS' xlo/xhi/ylo/yhi are recovered before building the matrix.
    """
    if len(bounds[0]) == 3:  # triclinic: bounding box plus tilt factors xy, xz, yz
        (xlo_b, xhi_b, xy), (ylo_b, yhi_b, xz), (zlo, zhi, yz) = bounds
        xlo, xhi = xlo_b - min(0.0, xy, xz, xy + xz), xhi_b - max(0.0, xy, xz, xy + xz)
        ylo, yhi = ylo_b - min(0.0, yz), yhi_b - max(0.0, yz)
    else:
        (xlo, xhi), (ylo, yhi), (zlo, zhi) = bounds
        xy = xz = yz = 0.0
    matrix = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]], dtype=float)
    return np.array([xlo, ylo, zlo], dtype=float), matrix


def read_frames(path: Path, every: int = 1) -> list[Atoms]:
    """Every ``every``-th complete frame of ``path`` (a truncated last frame is skipped)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"trajectory not found: {path}")
    lines = path.read_text().splitlines()
    frames: list[Atoms] = []
    pos, index = 0, 0
    while pos < len(lines):
        if lines[pos] != "ITEM: TIMESTEP" or pos + 9 > len(lines):
            break
        step = int(lines[pos + 1])
        n = int(lines[pos + 3])
        bounds = [[float(v) for v in lines[pos + 5 + k].split()] for k in range(3)]
        columns = lines[pos + 8].split()[2:]
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise InputError(f"{path}: dump lacks column(s) {', '.join(missing)}")
        body = lines[pos + 9 : pos + 9 + n]
        pos += 9 + n
        if len(body) < n:
            break  # a run killed while writing: ignore the partial frame
        if index % every == 0:
            frames.append(_frame(body, columns, box_from_bounds(bounds)[1], step))
        index += 1
    if not frames:
        raise InputError(f"{path}: no complete frame")
    return frames


def _frame(body: list[str], columns: list[str], cell: np.ndarray, step: int) -> Atoms:
    table = np.array([line.split() for line in body])
    col = {c: k for k, c in enumerate(columns)}
    order = np.argsort(table[:, col["id"]].astype(int))
    table = table[order]
    xyz = table[:, [col["x"], col["y"], col["z"]]].astype(float)
    images = table[:, [col["ix"], col["iy"], col["iz"]]].astype(float)
    atoms = Atoms(list(table[:, col["element"]]), positions=xyz + images @ cell, cell=cell,
                  pbc=True)
    atoms.arrays["mol_id"] = table[:, col["mol"]].astype(int)
    atoms.info["step"] = step
    return atoms
