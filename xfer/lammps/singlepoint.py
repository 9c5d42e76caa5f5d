"""Single-point evaluation of a model in LAMMPS, for parity with its ASE calculator.

LAMMPS wants a lower-triangular cell, so a general cell is rotated into LAMMPS' frame
(QR decomposition) and forces and virial are rotated back. Isolated systems
(``pbc`` all False) go into a fixed (``f f f``) box with room around them. The run happens
in a subprocess (``mpiexec -n N`` for N > 1 ranks), which also isolates libraries that
keep global state (QUIP holds one potential per process).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from xfer.atomic import write_text
from xfer.errors import InputError
from xfer.lammps.pair import PairSpec
from xfer.lammps.templates import render
from xfer.runtime import lmp_environment

NKTV2P_METAL = 1.6021765e6  # LAMMPS metal units: pressure (bar) * volume (A^3) -> eV
VACUUM = 10.0  # A around an isolated system


def lammps_frame(cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation ``q`` and lower-triangular cell ``cell @ q`` (rows a, b, c)."""
    q, r = np.linalg.qr(np.asarray(cell).T)
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    q = q * signs
    return q, (np.asarray(cell) @ q)


def write_atomic_data(
    atoms: Atoms, elements: tuple[str, ...], path: Path
) -> tuple[np.ndarray, str]:
    """Data file (atom_style atomic) in LAMMPS' frame; returns the rotation and boundary."""
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(elements))
    if unknown:
        raise InputError(f"the model does not know element(s) {', '.join(unknown)}")
    if atoms.pbc.all():
        q, cell = lammps_frame(atoms.cell.array)
        origin, boundary = np.zeros(3), "p p p"
    elif not atoms.pbc.any():
        q = np.eye(3)
        cell = np.diag(np.ptp(atoms.positions, axis=0) + 2 * VACUUM)
        origin, boundary = atoms.positions.min(axis=0) - VACUUM, "f f f"
    else:
        raise InputError("mixed periodicity is not supported: use pbc all True or all False")
    pos = atoms.positions @ q
    lines = [
        "xfer single point", "", f"{len(atoms)} atoms", f"{len(elements)} atom types", "",
        f"{origin[0]:.17g} {origin[0] + cell[0, 0]:.17g} xlo xhi",
        f"{origin[1]:.17g} {origin[1] + cell[1, 1]:.17g} ylo yhi",
        f"{origin[2]:.17g} {origin[2] + cell[2, 2]:.17g} zlo zhi",
        f"{cell[1, 0]:.17g} {cell[2, 0]:.17g} {cell[2, 1]:.17g} xy xz yz", "",
        "Masses", "",
        *[f"{k + 1} {atomic_masses[atomic_numbers[e]]}" for k, e in enumerate(elements)],
        "", "Atoms # atomic", "",
    ]
    types = [elements.index(s) + 1 for s in atoms.get_chemical_symbols()]
    lines += [f"{i + 1} {t} {p[0]:.17g} {p[1]:.17g} {p[2]:.17g}"
              for i, (t, p) in enumerate(zip(types, pos))]
    write_text(path, "\n".join(lines) + "\n")
    return q, boundary


def evaluate(atoms: Atoms, spec: PairSpec, nprocs: int = 1) -> dict:
    """Energy (eV), forces (eV/A, atoms' order and frame), virial (eV, = -stress * V) and
    the device the pair style used (:func:`xfer.lammps.device.devices_in_use`)."""
    with tempfile.TemporaryDirectory(prefix="xfer-sp-") as tmp:
        work = Path(tmp)
        q, boundary = write_atomic_data(atoms, spec.elements, work / "system.data")
        write_text(work / "in.lammps", render(
            "single_point.lmp.j2", boundary=boundary, data_file="system.data",
            newton_pair=spec.newton_pair, pair_style=spec.pair_style,
            pair_coeff=spec.pair_coeff, extra_commands=list(spec.extra_commands),
        ))
        command = [sys.executable, "-m", "xfer.lammps.singlepoint_worker", str(work)]
        if nprocs > 1:
            command = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(nprocs), *command]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=1800,
                              env=lmp_environment(), cwd=work)
        if proc.returncode != 0 or not (work / "out.npz").exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            raise InputError(f"LAMMPS single point failed: {' | '.join(tail)}")
        out = np.load(work / "out.npz")
        w = out["virial"]
        virial = np.array([[w[0], w[3], w[4]], [w[3], w[1], w[5]], [w[4], w[5], w[2]]])
        return {
            "energy": float(out["energy"]),
            "forces": out["forces"] @ q.T,
            "virial": q @ (virial * out["volume"] / NKTV2P_METAL) @ q.T,
            "nprocs": int(out["nprocs"]),
            "device": str(out["device"]),  # rank 0's: cpu or the CUDA devices it used
        }
