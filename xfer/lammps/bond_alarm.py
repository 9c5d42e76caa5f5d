"""Bond "alarm" tables for in-engine bond-stretch halts.

LAMMPS' ``fix halt ... bondmax`` has one global threshold, but every bond must be judged
against its own equilibrium length. Each bond type therefore gets a ``bond_style table``
entry whose force is the physical one (harmonic for OPLS-AA, zero for ML pair styles)
and whose energy is the harmonic energy plus ``ALARM_ENERGY`` beyond the threshold.
``compute bond/local engpot`` then exceeds ``ALARM_ENERGY / 2`` only for a broken bond,
which ``fix halt`` tests; the alarm never produces a force. Linear interpolation of a
linear force is exact; the harmonic energy is interpolated to < 1e-6 eV per bond.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xfer.atomic import atomic_path
from xfer.lammps.datafile import BondType

ALARM_ENERGY = 1.0e4  # eV added to a bond beyond its threshold (never a force)
TABLE_POINTS = 20000
R_MIN = 0.3  # A, shortest tabulated bond length
R_SPAN = 12.0  # A beyond r0 covered by the table


@dataclass(frozen=True)
class BondCriterion:
    """A bond is broken when longer than ``r0 + absolute`` (A) or ``r0 * (1 + relative)``."""

    absolute: float | None = 0.5
    relative: float | None = None

    def threshold(self, r0: float) -> float:
        if self.relative is not None:
            return r0 * (1.0 + self.relative)
        assert self.absolute is not None
        return r0 + self.absolute


def write_tables(bond_types: list[BondType], criterion: BondCriterion, path: Path) -> list[dict]:
    """Write one table per bond type; return template rows (id, keyword, label, r0, threshold)."""
    rows = []
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("# xfer bond tables: physical force + alarm energy beyond each threshold\n")
        for k, bt in enumerate(bond_types, start=1):
            keyword = f"BT{k}"
            limit = criterion.threshold(bt.r0)
            r = np.linspace(R_MIN, bt.r0 + R_SPAN, TABLE_POINTS)
            energy = bt.k * (r - bt.r0) ** 2 + np.where(r > limit, ALARM_ENERGY, 0.0)
            force = -2.0 * bt.k * (r - bt.r0)
            fh.write(f"\n{keyword}\nN {TABLE_POINTS}\n\n")
            fh.write(_table_text(r, energy, force))
            rows.append({"id": k, "keyword": keyword, "label": bt.label, "r0": bt.r0,
                         "threshold": limit})
    return rows


def _table_text(r: np.ndarray, energy: np.ndarray, force: np.ndarray) -> str:
    """The rows ``index r energy force`` as :func:`numpy.savetxt` with formats ``%d %.10f
    %.12e %.12e`` writes them, formatted in one operation (savetxt's per-row loop took
    0.5 s of every run's start-up)."""
    rows = np.column_stack([np.arange(1, len(r) + 1), r, energy, force])
    return ("%d %.10f %.12e %.12e\n" * len(r)) % tuple(rows.ravel().tolist())
