"""The LAMMPS single-point machinery (frames, virial, ranks) against ASE's Lennard-Jones."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.lj import LennardJones

from xfer.errors import InputError
from xfer.lammps.pair import PairSpec
from xfer.lammps.singlepoint import evaluate

SPEC = PairSpec(pair_style="lj/cut 5.0", pair_coeff="* * 0.01 2.6", elements=("Ar",),
                extra_commands=("pair_modify shift yes",))


def _reference(atoms: Atoms) -> dict:
    atoms = atoms.copy()
    atoms.calc = LennardJones(sigma=2.6, epsilon=0.01, rc=5.0, smooth=False)
    out = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
    if atoms.pbc.all():
        out["virial"] = -atoms.get_stress(voigt=False) * atoms.get_volume()
    return out


def _systems() -> dict[str, Atoms]:
    rng = np.random.default_rng(0)
    cubic = bulk("Ar", "fcc", a=5.3, cubic=True).repeat(2)
    cubic.rattle(0.1, seed=1)
    tri = bulk("Ar", "fcc", a=5.3).repeat(3)  # primitive fcc: a triclinic cell
    tri.rattle(0.1, seed=2)
    cluster = Atoms("Ar8", positions=rng.uniform(0, 7, (8, 3)))
    return {"cubic": cubic, "triclinic": tri, "isolated": cluster}


@pytest.mark.parametrize("name", ["cubic", "triclinic", "isolated"])
@pytest.mark.parametrize("nprocs", [1, 2])
def test_single_point_matches_ase(name, nprocs):
    atoms = _systems()[name]
    lmp, ref = evaluate(atoms, SPEC, nprocs=nprocs), _reference(atoms)
    assert lmp["nprocs"] == nprocs
    assert abs(lmp["energy"] - ref["energy"]) < 1e-9
    assert np.abs(lmp["forces"] - ref["forces"]).max() < 1e-9
    if "virial" in ref:
        assert np.abs(lmp["virial"] - ref["virial"]).max() < 1e-8


def test_unknown_species_fails_before_lammps():
    with pytest.raises(InputError, match="Xe"):
        evaluate(Atoms("Xe2", positions=[[0, 0, 0], [3, 0, 0]]), SPEC)
