"""Parity of ``pair_style quip`` (LAMMPS, 1 and 2 MPI ranks) with the GAP ASE calculator.

Energy, per-atom forces and virial must agree to 1e-6 eV, eV/A and eV on a cubic box, a
general triclinic box, an isolated molecule and (slow) a 640-atom box. LAMMPS runs in a
fresh process per evaluation: QUIP's LAMMPS interface holds one model per process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from gap_structures import molecular_box, rattled_molecule

from xfer.backends import PairSpec, get_backend
from xfer.runtime import lmp_environment

pytest_plugins = ["conftest_gap"]  # gap_train_file, gap_model fixtures

TOL = 1e-6
EVAL_SCRIPT = Path(__file__).with_name("gap_lammps_eval.py")


def _lammps_frame(atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Rotation q (cell @ q is lower triangular, as LAMMPS wants) and that cell."""
    q, r = np.linalg.qr(atoms.cell.array.T)
    signs = np.sign(np.diag(r))
    q, r = q * signs, (r.T * signs).T
    return q, r.T


def _num(value: float) -> str:
    return f"{float(value):.17g}"


def _write_data(atoms: Atoms, elements: tuple[str, ...], path: Path) -> tuple[np.ndarray, str]:
    """LAMMPS data file (atom_style atomic) of ``atoms``; returns the rotation and boundary."""
    if atoms.pbc.all():
        q, cell = _lammps_frame(atoms)
        boundary = "p p p"
    else:  # isolated: a fixed box with room around the molecule
        q, pad = np.eye(3), 10.0
        cell = np.eye(3) * (np.ptp(atoms.positions, axis=0).max() + 2 * pad)
        boundary = "f f f"
    positions = atoms.positions @ q
    origin = positions.min(axis=0) - 10.0 if boundary == "f f f" else np.zeros(3)
    lines = [
        "LAMMPS data file for GAP parity",
        "",
        f"{len(atoms)} atoms",
        f"{len(elements)} atom types",
        "",
        f"{_num(origin[0])} {_num(origin[0] + cell[0, 0])} xlo xhi",
        f"{_num(origin[1])} {_num(origin[1] + cell[1, 1])} ylo yhi",
        f"{_num(origin[2])} {_num(origin[2] + cell[2, 2])} zlo zhi",
        f"{_num(cell[1, 0])} {_num(cell[2, 0])} {_num(cell[2, 1])} xy xz yz",
        "",
        "Masses",
        "",
        *[f"{i + 1} 1.0" for i in range(len(elements))],
        "",
        "Atoms # atomic",
        "",
    ]
    types = [elements.index(s) + 1 for s in atoms.get_chemical_symbols()]
    for i, (t, p) in enumerate(zip(types, positions, strict=True)):
        lines.append(f"{i + 1} {t} {_num(p[0])} {_num(p[1])} {_num(p[2])}")
    path.write_text("\n".join(lines) + "\n")
    return q, boundary


def lammps_singlepoints(
    frames: list[Atoms], spec: PairSpec, workdir: Path, nprocs: int = 1
) -> list[dict]:
    """Energy (eV), forces (eV/A, atoms' order and frame) and virial (eV) of each frame from
    LAMMPS, all in one fresh process (on ``nprocs`` MPI ranks)."""
    rotations = []
    for k, atoms in enumerate(frames):
        (workdir / str(k)).mkdir(parents=True, exist_ok=True)
        q, boundary = _write_data(atoms, spec.elements, workdir / str(k) / "in.data")
        (workdir / str(k) / "boundary.txt").write_text(boundary + "\n")
        rotations.append(q)
    (workdir / "coeff.txt").write_text(f"{spec.pair_style}\n{spec.pair_coeff}\n")
    command = [sys.executable, str(EVAL_SCRIPT), str(workdir), str(len(frames))]
    if nprocs > 1:
        command = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(nprocs), *command]
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=lmp_environment()
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = []
    for k, q in enumerate(rotations):
        out = np.load(workdir / str(k) / "out.npz")
        assert int(out["nprocs"]) == nprocs
        forces, virial = out["forces"] @ q.T, q @ out["virial"] @ q.T
        results.append({"energy": float(out["energy"]), "forces": forces, "virial": virial})
    return results


def calculator_singlepoint(atoms: Atoms, calc) -> dict:
    """The same quantities from the ASE calculator (virial = -stress * V, or sum r x F)."""
    atoms = atoms.copy()
    atoms.calc = calc
    forces = atoms.get_forces()
    if atoms.pbc.all():
        virial = -atoms.get_stress(voigt=False) * atoms.get_volume()
    else:
        virial = atoms.positions.T @ forces
    return {"energy": atoms.get_potential_energy(), "forces": forces, "virial": virial}


CONFIGS = {
    "cubic": lambda: molecular_box(["EC", "EMC", "EC", "EMC"], np.eye(3) * 9.0, seed=1),
    "triclinic": lambda: molecular_box(
        ["EC", "EMC", "EC"], [[8.6, 0.9, -0.6], [1.8, 8.4, 0.7], [-1.2, 1.1, 8.8]], seed=2
    ),
    "isolated": lambda: rattled_molecule("EMC", np.random.default_rng(5)),
}


@pytest.fixture(scope="module")
def gap_parity_results(gap_model, tmp_path_factory):
    """Calculator (this process) and LAMMPS (1 and 2 ranks) results per configuration."""
    backend = get_backend("gap")
    calc, spec = backend.calculator(gap_model), backend.pair_spec(gap_model)
    configs = {name: build() for name, build in CONFIGS.items()}
    results = {("ref", name): calculator_singlepoint(a, calc) for name, a in configs.items()}
    for nprocs in (1, 2):
        workdir = tmp_path_factory.mktemp(f"gap_parity_np{nprocs}")
        outs = lammps_singlepoints(list(configs.values()), spec, workdir, nprocs)
        results.update({(nprocs, name): out for name, out in zip(configs, outs, strict=True)})
    return results


def assert_parity(lmp: dict, ref: dict) -> None:
    assert abs(lmp["energy"] - ref["energy"]) < TOL
    assert np.abs(lmp["forces"] - ref["forces"]).max() < TOL
    assert np.abs(lmp["virial"] - ref["virial"]).max() < TOL


@pytest.mark.parametrize("nprocs", [1, 2])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_gap_lammps_parity(gap_parity_results, name, nprocs):
    ref = gap_parity_results[("ref", name)]
    assert_parity(gap_parity_results[(nprocs, name)], ref)
    # the configurations are not trivial: forces and virial are far from zero
    assert np.abs(ref["forces"]).max() > 0.1 and np.abs(ref["virial"]).max() > 0.1


@pytest.mark.slow
@pytest.mark.ci
def test_gap_lammps_parity_640_atoms(gap_model, tmp_path):
    atoms = molecular_box(["EC"] * 16 + ["EMC"] * 32, np.eye(3) * 22.0, seed=7)
    assert len(atoms) == 640
    ref = calculator_singlepoint(atoms, get_backend("gap").calculator(gap_model))
    spec = get_backend("gap").pair_spec(gap_model)
    for nprocs in (1, 2):
        (result,) = lammps_singlepoints([atoms], spec, tmp_path / f"np{nprocs}", nprocs)
        assert_parity(result, ref)
