"""quippy evaluations of GAP models that an earlier model in the process cannot corrupt.

Measured with quippy-ase 0.10.3 (scratch reproduction, 50-atom EC/EMC box): QUIP keeps
calc-time state in its Fortran libraries from the FIRST GAP evaluation of a process, and a
later model whose descriptors differ (seen: a 3.5 A instead of a 4.0 A cutoff) is then
evaluated wrongly: -1228.30 eV instead of -1237.48 eV, and the 3.5 A model itself gives
-1204.57 eV after the 4.0 A one instead of -1237.42 eV when it comes first. The order in
which the Potentials are created does not matter, only which evaluates first; each model's
connectivity cutoff is right (checked), so the state is inside QUIP's descriptor code.
Models whose descriptor definitions equal the first one's (committee seeds of one recipe,
another species set with the same descriptors) are unaffected and agree with LAMMPS to 1e-6.

So the first descriptor set seen in a process is evaluated in the process; every model
with other descriptors is evaluated by a worker process of its own (a fresh QUIP). The
worker is ``python -m xfer.backends.quippy_eval``, not a multiprocessing child, so that the
caller's main module is never re-imported; frames and results travel over a socket pair
(QUIP writes to stdout).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import all_changes

from xfer.backends.gap_files import GapModelInfo
from xfer.errors import EnvironmentProblem

_first_descriptors: tuple[str, ...] | None = None  # descriptors QUIP in this process serves


def _results(pot: Any, atoms: Atoms, wanted: list[str]) -> dict[str, Any]:
    """Energy, forces (and stress if asked) of ``atoms`` from one quippy call."""
    pot.calculate(atoms, wanted, all_changes)
    energy = float(pot.results["energy"])
    out = {"energy": energy, "free_energy": energy,
           "forces": np.array(pot.results["forces"], dtype=float)}  # fmt: skip
    if "stress" in wanted:
        out["stress"] = np.array(pot.results["stress"], dtype=float)
    return out


def _potential(xml: Path) -> Any:
    from quippy.potential import Potential

    return Potential(param_filename=str(xml))


class InProcess:
    """quippy's Potential in this process (the process's first descriptor set)."""

    def __init__(self, xml: Path) -> None:
        self._pot = _potential(xml)

    def calculate(self, atoms: Atoms, wanted: list[str]) -> dict[str, Any]:
        return _results(self._pot, atoms, wanted)


def _serve(xml: str, fd: int) -> None:
    """Worker loop: one model, frames in, results out, until None arrives."""
    conn = Connection(fd)
    pot = _potential(Path(xml))
    try:
        while (request := conn.recv()) is not None:
            numbers, positions, cell, pbc, wanted = request
            atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=pbc)
            conn.send(_results(pot, atoms, wanted))
    except (EOFError, OSError):  # the caller went away without saying goodbye
        return


class Worker:
    """quippy's Potential in a worker process of its own (a model with other descriptors)."""

    def __init__(self, xml: Path) -> None:
        self.xml = xml
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "xfer.backends.quippy_eval", str(xml), str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        theirs.close()
        self._conn = Connection(ours.detach())

    def calculate(self, atoms: Atoms, wanted: list[str]) -> dict[str, Any]:
        request = (atoms.numbers, atoms.positions, atoms.cell.array, atoms.pbc, wanted)
        try:
            self._conn.send(request)
            return self._conn.recv()
        except (EOFError, OSError):
            code = self._process.wait(10)
            raise EnvironmentProblem(
                f"the quippy worker evaluating {self.xml} stopped (exit code {code}; QUIP "
                "errors end the process, see its stderr above)"
            ) from None

    def close(self) -> None:
        """Stop the worker (also done when the calculator is garbage-collected)."""
        if self._conn.closed:
            return
        try:
            self._conn.send(None)
        except OSError:
            pass
        self._conn.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __del__(self) -> None:
        if getattr(self, "_conn", None) is not None:
            self.close()


def quippy_model(info: GapModelInfo) -> InProcess | Worker:
    """Where ``info``'s model is evaluated: here if its descriptors are this process's first
    (or equal them), else in a worker process of its own."""
    global _first_descriptors
    if _first_descriptors is None:
        _first_descriptors = info.descriptors
    if info.descriptors == _first_descriptors:
        return InProcess(info.xml)
    return Worker(info.xml)


if __name__ == "__main__":
    import xfer  # noqa: F401  (runtime set-up before quippy)

    _serve(sys.argv[1], int(sys.argv[2]))
