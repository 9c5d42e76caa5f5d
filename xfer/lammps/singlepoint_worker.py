"""Subprocess side of :mod:`xfer.lammps.singlepoint` (runs under mpiexec for N ranks)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import xfer  # noqa: F401  (MPI preload and plugin path before lammps)
from xfer.lammps.device import devices_in_use


def main(workdir: str) -> None:
    """Run ``workdir/in.lammps``; rank 0 writes energy, forces (by atom id) and virial."""
    from lammps import lammps

    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    lmp.file(str(Path(workdir) / "in.lammps"))
    energy = lmp.get_thermo("pe")
    virial = [lmp.extract_compute("virial", 0, 1)[k] for k in range(6)]
    forces = np.array(lmp.gather_atoms("f", 1, 3)).reshape(-1, 3)
    ids = np.array(lmp.gather_atoms("id", 0, 1))
    if lmp.extract_setting("world_rank") == 0:
        np.savez(Path(workdir) / "out.npz", energy=energy, forces=forces[np.argsort(ids)],
                 virial=virial, volume=lmp.get_thermo("vol"),
                 nprocs=lmp.extract_setting("world_size"), device=devices_in_use())
    lmp.close()


if __name__ == "__main__":
    main(sys.argv[1])
