"""Constructed halts with known answers: a synthetic run that stops with a chosen failure.

Each writes a synthetic run directory (:mod:`xfer.testing.synthetic`, molecules barely
moving) halted after frame ``HALT_FRAME`` and then edits it as the engine would have left it:
``last_frame.dump`` (the halted frame, with the failure built in) and ``result.json``'s
``halt_reason`` / ``halt_detail`` in the format of :mod:`xfer.lammps.runner`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xfer.atomic import write_json, write_text
from xfer.chem.molecules import get_molecule
from xfer.testing.synthetic import SyntheticRun, write_synthetic_run

HALT_FRAME = 20
MIX = {"EC": 2, "EMC": 3}
SEED = 8  # molecules of this seed keep > 2.4 A apart in every frame (checked by the tests)


@dataclass
class Frame:
    """The last frame of traj.dump, editable: header lines, columns, one row per atom."""

    header: list[str]
    columns: list[str]
    rows: list[list[str]]
    box: np.ndarray  # orthogonal box lengths

    def unwrapped(self, i: int) -> np.ndarray:
        r = self.rows[i]
        x = np.array([float(v) for v in r[4:7]])
        return x + np.array([int(v) for v in r[7:10]]) * self.box

    def place(self, i: int, pos: np.ndarray) -> None:
        """Set atom ``i``'s unwrapped position (image flags kept)."""
        images = np.array([int(v) for v in self.rows[i][7:10]])
        self.rows[i][4:7] = [f"{v:.5f}" for v in pos - images * self.box]

    def text(self, extra: dict[str, np.ndarray] | None = None) -> str:
        extra = extra or {}
        head = [*self.header[:-1], " ".join(["ITEM: ATOMS", *self.columns, *extra])]
        body = [" ".join([*r, *(f"{v[k]:.6g}" for v in extra.values())])
                for k, r in enumerate(self.rows)]  # fmt: skip
        return "\n".join(head + body) + "\n"


def _last_frame(run: Path) -> Frame:
    lines = (run / "traj.dump").read_text().splitlines()
    n = int(lines[3])
    block = lines[-(n + 9) :]
    bounds = np.array([[float(v) for v in block[k].split()] for k in (5, 6, 7)])
    return Frame(block[:9], block[8].split()[2:], [r.split() for r in block[9:]],
                 bounds[:, 1] - bounds[:, 0])  # fmt: skip


def _atoms_of(mol: int) -> tuple[str, int]:
    """(species, index of its first atom) of 1-based molecule ``mol`` in :data:`MIX`."""
    start, k = 0, 0
    for name, count in MIX.items():
        size = get_molecule(name).n_atoms
        for _ in range(count):
            k += 1
            if k == mol:
                return name, start
            start += size
    raise ValueError(f"no molecule {mol}")


def _ch_bond(mol: int) -> tuple[int, int]:
    """0-based atom indices (C, H) of the first C-H bond of molecule ``mol``."""
    name, start = _atoms_of(mol)
    m = get_molecule(name)
    i, j = next((a, b) for a, b in m.bonds if {m.symbols[a], m.symbols[b]} == {"C", "H"})
    return (start + i, start + j) if m.symbols[i] == "C" else (start + j, start + i)


def _base(out: Path, ensemble: str = "nvt") -> Path:
    spec = SyntheticRun(mix=MIX, ensemble=ensemble, density=0.2, density_std=0.005,
                        diffusivity={"EC": 0.002, "EMC": 0.002}, halted_at_frame=HALT_FRAME,
                        n_frames=41, seed=SEED)  # fmt: skip
    return write_synthetic_run(out, spec)


def _finish(run: Path, frame: Frame | None, reason: str, detail: dict, extra=None) -> Path:
    if frame is not None:
        write_text(run / "last_frame.dump", frame.text(extra))
    result = json.loads((run / "result.json").read_text())
    result.update(halt_reason=reason, halt_detail=detail)
    write_json(run / "result.json", result)
    return run


def _stretch(frame: Frame, c: int, h: int, length: float) -> None:
    a, b = frame.unwrapped(c), frame.unwrapped(h)
    frame.place(h, a + (b - a) / np.linalg.norm(b - a) * length)


def stretched_bond(
    out: str | Path, mol: int = 4, length: float = 2.1, ensemble: str = "nvt"
) -> Path:
    """A bond halt: the first C-H bond of molecule ``mol`` stretched to ``length`` A."""
    run = _base(Path(out), ensemble)
    frame = _last_frame(run)
    c, h = _ch_bond(mol)
    _stretch(frame, c, h, length)
    detail = {"atom_ids": [c + 1, h + 1], "length_A": length, "bond_type": "C-H",
              "r0_A": 1.09, "threshold_A": 1.59}  # fmt: skip
    return _finish(run, frame, "bond", detail)


def pushed_together(
    out: str | Path, mol: int = 4, other: int = 1, gap: float = 0.9, ensemble: str = "nvt"
) -> Path:
    """A bond halt after an approach: molecule ``other`` moved so one of its atoms is
    ``gap`` A from the H of ``mol``'s first C-H bond, which is stretched to 1.7 A."""
    run = _base(Path(out), ensemble)
    frame = _last_frame(run)
    c, h = _ch_bond(mol)
    _stretch(frame, c, h, 1.7)
    _, start = _atoms_of(other)
    size = get_molecule(_atoms_of(other)[0]).n_atoms
    members = range(start, start + size)
    hpos, cpos = frame.unwrapped(h), frame.unwrapped(c)
    direction = (hpos - cpos) / np.linalg.norm(hpos - cpos)
    # the atom of `other` nearest the H goes `gap` beyond it; the molecule moves rigidly
    pos = {i: frame.unwrapped(i) for i in members}
    near = min(members, key=lambda i: np.linalg.norm(pos[i] - hpos))
    shift = hpos + gap * direction - pos[near]
    for i in members:
        frame.place(i, pos[i] + shift)
    detail = {"atom_ids": [c + 1, h + 1], "length_A": 1.7, "bond_type": "C-H",
              "r0_A": 1.09, "threshold_A": 1.59}  # fmt: skip
    return _finish(run, frame, "bond", detail)


def density_halt(out: str | Path, final: float = 0.12) -> Path:
    """A density halt: the NPT density falls linearly from 0.2 to ``final`` g/cm3."""
    run = _base(Path(out), "npt")
    lines = (run / "thermo.csv").read_text().splitlines()
    header, rows = lines[0], [r.split(",") for r in lines[1:]]
    cols = header.split(",")
    k = cols.index("density")
    for n, r in enumerate(rows):
        r[k] = f"{0.2 + (final - 0.2) * n / (len(rows) - 1):.6f}"
    write_text(run / "thermo.csv", "\n".join([header, *(",".join(r) for r in rows)]) + "\n")
    return _finish(run, _last_frame(run), "density", {"density_g_cm3": final})


def uncertainty_halt(
    out: str | Path, atom_id: int = 30, devi: float = 1.8, ensemble: str = "nvt"
) -> Path:
    """An uncertainty halt: atom ``atom_id`` has the largest ``devi_f`` (eV/A)."""
    run = _base(Path(out), ensemble)
    frame = _last_frame(run)
    values = np.linspace(0.01, 0.2, len(frame.rows))
    values[atom_id - 1] = devi
    step = int(frame.header[1])
    detail = {"step": step, "max_devi_f": devi, "atom_id": atom_id,
              "element": frame.rows[atom_id - 1][3]}  # fmt: skip
    return _finish(run, frame, "uncertainty", detail, {"devi_f": values})
