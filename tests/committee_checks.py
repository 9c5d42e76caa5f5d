"""Shared checks for the in-LAMMPS committee parity tests (mace, gap, deepmd).

LAMMPS evaluates a committee pair style once (``out_freq 1``: the deviation of step 0);
the reference is :class:`~xfer.backends.committee.CommitteeCalculator` over the same
members, plus each member's virial for deepmd-kit's virial-deviation columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

from xfer.backends.base import get_backend
from xfer.backends.committee import CommitteeCalculator
from xfer.backends.committee_pair import committee_pair_spec
from xfer.lammps.singlepoint import evaluate, lammps_frame

F_TOL = 1e-6  # eV/A, deviation columns
V_TOL = 1e-6  # eV, virial-deviation columns
DRIVE_TOL = 1e-10  # eV/A, driving forces with and without the committee
COLUMNS = ("max_devi_v", "min_devi_v", "avg_devi_v", "max_devi_f", "min_devi_f", "avg_devi_f")


def reference(atoms: Atoms, calculators: list) -> dict[str, float]:
    """deepmd-kit's model_devi values of ``atoms`` from the members' ASE calculators.

    Virial components depend on the frame: they are taken in LAMMPS' (rotated) frame."""
    q, _ = lammps_frame(atoms.cell.array)
    work = atoms.copy()
    work.calc = CommitteeCalculator(calculators)
    work.get_potential_energy()
    devi_f = np.sqrt(work.calc.results["force_variance"])
    virials = []
    for calc in calculators:
        single = atoms.copy()
        single.calc = calc
        virial = -single.get_stress(voigt=False) * single.get_volume() / len(atoms)
        virials.append(q.T @ virial @ q)
    devi_v = np.std(np.array(virials).reshape(len(calculators), 9), axis=0)
    return {
        "max_devi_v": devi_v.max(), "min_devi_v": devi_v.min(),
        "avg_devi_v": float(np.sqrt(np.mean(devi_v**2))),
        "max_devi_f": work.calc.results["max_force_deviation"], "min_devi_f": devi_f.min(),
        "avg_devi_f": devi_f.mean(), "member_forces": work.calc.results["member_forces"],
    }  # fmt: skip


def read_deviation(path: Path) -> dict[str, float]:
    """The last row of a model_devi.out file (deepmd-kit's columns)."""
    row = np.loadtxt(path, ndmin=2)[-1]
    return {"step": int(row[0]), **dict(zip(COLUMNS, row[1:7], strict=True))}


def check_parity(atoms: Atoms, models: list, calculators: list, nprocs: int, tmp: Path) -> None:
    """LAMMPS' deviation columns equal the reference, and model 0 drives as if alone."""
    ref = reference(atoms, calculators)
    devi_file = tmp / f"devi-{nprocs}.out"
    spec = committee_pair_spec(models, devi_file, out_freq=1)
    committee = evaluate(atoms, spec, nprocs=nprocs)
    single = evaluate(atoms, get_backend(models[0].arch).pair_spec(models[0]), nprocs=nprocs)
    assert committee["nprocs"] == nprocs
    assert np.abs(committee["forces"] - single["forces"]).max() < DRIVE_TOL
    assert abs(committee["energy"] - single["energy"]) < DRIVE_TOL
    assert np.abs(committee["virial"] - single["virial"]).max() < DRIVE_TOL
    assert np.abs(single["forces"] - ref["member_forces"][0]).max() < F_TOL
    got = read_deviation(devi_file)
    assert got["step"] == 0
    for key in COLUMNS:
        tol = V_TOL if key.endswith("_v") else F_TOL
        assert abs(got[key] - ref[key]) < tol, (key, got[key], ref[key])
    assert ref["max_devi_f"] > 1e-4  # the members really differ
