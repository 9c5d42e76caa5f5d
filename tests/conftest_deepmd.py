"""Reusable DeePMD test material: a tiny GFN2-xTB set, a 2-seed committee, test configurations.

Not a pytest conftest (another helper owns tests/conftest.py): test modules load it with
``pytest_plugins = ["conftest_deepmd"]``, so each session fixture runs once per session.
Labelling the isolated molecules takes milliseconds, each small periodic box about a
second; training the two tiny models takes ~30-60 s on 2 shared cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from scipy.spatial.transform import Rotation

import xfer  # noqa: F401  (runtime set-up before any LAMMPS import)
from xfer.backends import TrainedModel
from xfer.chem.molecules import get_molecule

RECIPE = "tiny-test"
TEST_STEPS = 20  # enough for two seeds to differ; quality is not what these tests check


def label(atoms: Atoms) -> Atoms:
    """``atoms`` with GFN2-xTB REF_energy/REF_forces (and REF_virial if periodic)."""
    from tblite.ase import TBLite

    atoms = atoms.copy()
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    periodic = atoms.pbc.all()
    virial = -atoms.get_stress(voigt=False) * atoms.get_volume() if periodic else None
    atoms.calc = None
    atoms.info["REF_energy"] = energy
    atoms.arrays["REF_forces"] = forces
    if virial is not None:
        atoms.info["REF_virial"] = virial.ravel()
    return atoms


def molecules_in_cell(names: list[str], cell, seed: int = 0, rattle: float = 0.05) -> Atoms:
    """Molecules ``names`` on a grid in ``cell`` (periodic), randomly rotated and rattled."""
    rng = np.random.default_rng(seed)
    cell = np.asarray(cell, dtype=float)
    per_side = int(np.ceil(len(names) ** (1 / 3)))
    atoms = Atoms(cell=cell, pbc=True)
    for k, name in enumerate(names):
        mol = get_molecule(name)
        grid = np.array([k % per_side, (k // per_side) % per_side, k // per_side**2])
        centre = ((grid + 0.5) / per_side) @ cell
        rotation = Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()
        positions = mol.positions @ rotation.T + centre
        atoms += Atoms(mol.symbols, positions=positions + rng.normal(0, rattle, positions.shape))
    return atoms


def isolated(name: str, seed: int = 0, rattle: float = 0.05) -> Atoms:
    """One molecule without a cell, rattled."""
    mol = get_molecule(name)
    rng = np.random.default_rng(seed)
    return Atoms(mol.symbols, positions=mol.positions + rng.normal(0, rattle, mol.positions.shape))


def cubic_box() -> Atoms:
    return molecules_in_cell(["EC", "EMC"], np.eye(3) * 10.0, seed=11)


def triclinic_box() -> Atoms:
    return molecules_in_cell(["EC", "EMC"], [[10.0, 0, 0], [1.7, 10.2, 0], [-1.2, 2.1, 9.8]], 12)


def big_box() -> Atoms:
    """16 EC + 32 EMC = 640 atoms (the study's validation box) at ~0.9 g/cm3."""
    names = ["EC"] * 16 + ["EMC"] * 32
    np.random.default_rng(3).shuffle(names)
    return molecules_in_cell(names, np.eye(3) * 20.6, seed=13)


def _write_sets(root: Path) -> tuple[Path, Path]:
    train = [label(isolated(n, seed=k)) for n in ("EC", "EMC") for k in range(6)]
    train += [label(molecules_in_cell(["EC", "EMC"], np.eye(3) * 9.5, seed=k)) for k in range(3)]
    valid = [label(isolated(n, seed=100 + k)) for n in ("EC", "EMC") for k in range(2)]
    valid.append(label(molecules_in_cell(["EC", "EMC"], np.eye(3) * 9.5, seed=100)))
    write(root / "train.xyz", train, format="extxyz")
    write(root / "valid.xyz", valid, format="extxyz")
    return root / "train.xyz", root / "valid.xyz"


@pytest.fixture(scope="session")
def deepmd_sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(train.xyz, valid.xyz): rattled EC/EMC molecules and small EC+EMC boxes, xTB labels."""
    return _write_sets(tmp_path_factory.mktemp("deepmd_sets"))


@pytest.fixture(scope="session")
def deepmd_models_root(
    deepmd_sets: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Models root holding a 2-seed deepmd committee trained through ``xfer train``."""
    from xfer.cli import main

    root = tmp_path_factory.mktemp("deepmd_models")
    train, valid = deepmd_sets
    argv = ["train", "--arch", "deepmd", "--recipe", RECIPE, "--train", str(train)]
    argv += ["--valid", str(valid), "--seeds", "0-1", "--preset", "tiny"]
    argv += ["--set", f"numb_steps={TEST_STEPS}", "--out", str(root)]
    assert main(argv) == 0
    return root


@pytest.fixture(scope="session")
def deepmd_committee(deepmd_models_root: Path) -> list[TrainedModel]:
    """The two trained models (seeds 0 and 1)."""
    from xfer.training import load_committee

    return load_committee(deepmd_models_root / "deepmd" / RECIPE)


@pytest.fixture(scope="session")
def deepmd_model(deepmd_committee: list[TrainedModel]) -> TrainedModel:
    """Seed 0 of the committee."""
    return deepmd_committee[0]


@pytest.fixture(scope="session")
def deepmd_calculator(deepmd_model: TrainedModel):
    """deepmd's ASE calculator for seed 0 (loaded once)."""
    from xfer.backends import get_backend

    return get_backend("deepmd").calculator(deepmd_model)
