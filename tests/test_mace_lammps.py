"""MACE end to end: a tiny model trained once per module on GFN2-xTB labels, exported to
TorchScript and evaluated by xfer's ``pair_style mace`` plugin in LAMMPS (1 and 2 MPI
ranks, both graph modes) against MACECalculator on the same configurations."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from ase.io import write
from scipy.spatial.transform import Rotation

import xfer  # noqa: F401  (MPI preload and plugin path before lammps)
from xfer.backends.base import PairSpec, get_backend
from xfer.backends.mace import lammps_model_species, mace_pair_spec
from xfer.chem.molecules import get_molecule
from xfer.errors import InputError
from xfer.runtime import lmp_environment

E_TOL = 1e-6  # eV
F_TOL = 1e-6  # eV/A
W_TOL = 1e-6  # eV
NKTV2P = 1.6021765e6  # LAMMPS metal units: pressure (bar) * volume (A^3) / NKTV2P = eV
CUBIC = [[9.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 9.0]]
TRICLINIC = [[9.0, 0.0, 0.0], [1.6, 9.2, 0.0], [-1.1, 0.9, 8.7]]  # LAMMPS-ready (a || x)


# ---------------------------------------------------------------- configurations


def _molecule(name: str, rng: np.random.Generator, sigma: float = 0.05) -> Atoms:
    mol = get_molecule(name)
    pos = mol.positions + rng.normal(0.0, sigma, mol.positions.shape)
    return Atoms(mol.symbols, positions=pos)


def _box(names: list[str], grid: tuple[int, int, int], cell: np.ndarray, seed: int) -> Atoms:
    """Molecules randomly rotated on grid sites (fractional), wrapped into ``cell``."""
    rng = np.random.default_rng(seed)
    sites = [(i, j, k) for i in range(grid[0]) for j in range(grid[1]) for k in range(grid[2])]
    sites = [s for s in sites if sum(s) % 2 == 0] + [s for s in sites if sum(s) % 2 == 1]
    symbols, positions = [], []
    for name, site in zip(names, sites, strict=False):
        mol = _molecule(name, rng)
        rot = Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()
        centre = ((np.array(site) + 0.5) / grid) @ cell
        positions.append(mol.positions @ rot.T + centre)
        symbols += mol.get_chemical_symbols()
    atoms = Atoms(symbols, positions=np.vstack(positions), cell=cell, pbc=True)
    atoms.wrap()
    return atoms


def _label(atoms: Atoms, config_type: str) -> Atoms:
    from tblite.ase import TBLite

    work = atoms.copy()
    work.calc = TBLite(method="GFN2-xTB", verbosity=0)
    out = atoms.copy()
    out.info["REF_energy"] = work.get_potential_energy()
    out.arrays["REF_forces"] = work.get_forces()
    out.info["config_type"] = config_type
    return out


def small_box(seed: int, cell: list[list[float]] = CUBIC) -> Atoms:
    """2 EC + 2 EMC (50 atoms) in a 9 A cell (cubic unless ``cell`` is given)."""
    return _box(["EC", "EMC", "EMC", "EC"], (2, 2, 2), np.array(cell), seed)


def big_box(seed: int) -> Atoms:
    """16 EC + 32 EMC = 640 atoms (the validation-MD composition), ~1.2 g/cm3."""
    names = ["EC", "EMC", "EMC"] * 16
    return _box(names, (4, 4, 3), np.diag([20.8, 20.8, 15.6]), seed)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path]:
    """e0 atoms, rattled EC/EMC molecules and two small periodic boxes, GFN2-xTB labelled."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("mace_data")
    train = [_label(Atoms(el, positions=[[0.0, 0.0, 0.0]]), "e0") for el in "HCO"]
    for _ in range(5):
        train += [_label(_molecule("EC", rng), "sm"), _label(_molecule("EMC", rng), "sm")]
    train += [_label(small_box(seed), "opls") for seed in (1, 2)]
    valid = [_label(_molecule("EC", rng), "sm"), _label(_molecule("EMC", rng), "sm")]
    write(root / "train.extxyz", train)
    write(root / "valid.extxyz", valid)
    return root / "train.extxyz", root / "valid.extxyz"


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    """A tiny float64 MACE (trained once for this module) and its LAMMPS export."""
    backend = get_backend("mace")
    hyper = {"preset": "tiny", "max_num_epochs": 2, "num_channels": 8}
    model = backend.train(*dataset, tmp_path_factory.mktemp("mace_model"), 3, hyper)
    return backend, model, backend.export(model)


# ---------------------------------------------------------------- LAMMPS single points


def _data_file(atoms: Atoms, elements: tuple[str, ...], path: Path) -> None:
    """LAMMPS data file (atom_style atomic); the cell must already be LAMMPS-shaped."""
    types = [elements.index(s) + 1 for s in atoms.get_chemical_symbols()]
    num = [[repr(float(v)) for v in row] for row in atoms.positions]
    if atoms.pbc.all():
        assert np.allclose(atoms.cell.array[np.triu_indices(3, 1)], 0.0)
        (a, _, _), (xy, b, _), (xz, yz, c) = [[repr(float(v)) for v in r] for r in atoms.cell]
        box = [f"0 {a} xlo xhi", f"0 {b} ylo yhi", f"0 {c} zlo zhi", f"{xy} {xz} {yz} xy xz yz"]
    else:
        lo, hi = atoms.positions.min(axis=0) - 6.0, atoms.positions.max(axis=0) + 6.0
        box = [f"{float(lo[k])!r} {float(hi[k])!r} {d}lo {d}hi" for k, d in enumerate("xyz")]
    lines = ["xfer mace parity", "", f"{len(atoms)} atoms", f"{len(elements)} atom types", *box]
    lines += ["", "Masses", ""]
    lines += [f"{k + 1} {atomic_masses[atomic_numbers[e]]}" for k, e in enumerate(elements)]
    lines += ["", "Atoms # atomic", ""]
    rows = enumerate(zip(types, num, strict=True))
    lines += [f"{i + 1} {t} {' '.join(xyz)}" for i, (t, xyz) in rows]
    path.write_text("\n".join(lines) + "\n")


def lammps_singlepoint(atoms: Atoms, spec: PairSpec, nprocs: int, workdir: Path) -> dict:
    """Energy, forces (atoms' order) and virial (eV, periodic only) from LAMMPS.

    One rank runs in this process (lammps module); several run the wheel's ``lmp`` under
    ``mpiexec``.
    """
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    _data_file(atoms, spec.elements, workdir / "data.lmp")
    periodic = bool(atoms.pbc.all())
    virial = " ".join(f"$(c_w[{k}]:%.17g)" for k in range(1, 7))
    (workdir / "in.lmp").write_text(
        f"""units metal
atom_style atomic
atom_modify map array
boundary {"p p p" if periodic else "f f f"}
newton on
read_data {workdir / "data.lmp"}
pair_style {spec.pair_style}
pair_coeff {spec.pair_coeff}
compute w all pressure NULL virial
thermo_style custom step pe c_w[*]
dump f all custom 1 {workdir / "forces.txt"} id fx fy fz
dump_modify f sort id format float %.17g
run 0
print "$(pe:%.17g) {virial}" file {workdir / "result.txt"}
"""
    )
    if nprocs == 1:
        from lammps import lammps

        lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        try:
            lmp.file(str(workdir / "in.lmp"))
        finally:
            lmp.close()
    else:
        env = lmp_environment()
        torch_lib = Path(__import__("torch").__file__).parent / "lib" / "libtorch.so"
        env["LD_PRELOAD"] = str(torch_lib)  # deepmd's plugin, autoloaded by lmp, needs it
        bindir = Path(sys.executable).parent
        cmd = [str(bindir / "mpiexec"), "-n", str(nprocs), str(bindir / "lmp"), "-in", "in.lmp"]
        cmd += ["-log", "log.lammps", "-nocite"]
        proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    values = np.array((workdir / "result.txt").read_text().split(), dtype=float)
    forces = np.loadtxt(workdir / "forces.txt", skiprows=9)[:, 1:]
    w = values[1:] * (atoms.get_volume() if periodic else 0.0) / NKTV2P
    return {
        "energy": values[0],
        "forces": forces,
        "virial": np.array([[w[0], w[3], w[4]], [w[3], w[1], w[5]], [w[4], w[5], w[2]]]),
    }


def reference(calc, atoms: Atoms) -> dict:
    work = atoms.copy()
    work.calc = calc
    out = {"energy": work.get_potential_energy(), "forces": work.get_forces()}
    if atoms.pbc.all():
        out["virial"] = -work.get_stress(voigt=False) * work.get_volume()
    return out


def assert_parity(lmp: dict, ref: dict) -> None:
    assert abs(lmp["energy"] - ref["energy"]) < E_TOL
    assert np.abs(lmp["forces"] - ref["forces"]).max() < F_TOL
    if "virial" in ref:
        assert np.abs(lmp["virial"] - ref["virial"]).max() < W_TOL
    assert np.abs(ref["forces"]).max() > 1e-2  # a real, non-trivial configuration


def _configuration(kind: str) -> Atoms:
    if kind == "cubic":
        return small_box(11)
    if kind == "triclinic":
        return small_box(12, TRICLINIC)
    atoms = _molecule("EMC", np.random.default_rng(13), sigma=0.08)
    atoms.center()
    return atoms


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("kind", ["cubic", "triclinic", "molecule"])
@pytest.mark.parametrize(
    ("mode", "nprocs"),
    [("", 1), ("", 2), ("domain_decomposition", 1)],
    ids=["1rank", "2ranks", "1rank-ghosts"],
)
def test_mace_lammps_parity(trained, tmp_path, kind, mode, nprocs):
    backend, model, _ = trained
    spec = backend.pair_spec(model)
    if mode:
        spec = PairSpec(**{**spec.__dict__, "pair_style": f"{spec.pair_style} {mode}"})
    atoms = _configuration(kind)
    lmp = lammps_singlepoint(atoms, spec, nprocs, tmp_path)
    assert_parity(lmp, reference(backend.calculator(model), atoms))


@pytest.mark.slow
@pytest.mark.ci
def test_mace_lammps_parity_640_atoms_one_rank(trained, tmp_path):
    backend, model, _ = trained
    atoms = big_box(21)
    assert len(atoms) == 640
    lmp = lammps_singlepoint(atoms, backend.pair_spec(model), 1, tmp_path)
    assert_parity(lmp, reference(backend.calculator(model), atoms))


@pytest.mark.slow
def test_mace_lammps_parity_640_atoms_two_ranks(trained, tmp_path):
    backend, model, _ = trained
    atoms = big_box(22)
    lmp = lammps_singlepoint(atoms, backend.pair_spec(model), 2, tmp_path)
    assert_parity(lmp, reference(backend.calculator(model), atoms))


def test_mace_model_metadata(trained, dataset):
    _, model, exported = trained
    meta = model.meta
    assert meta["arch"] == "mace" and meta["seed"] == 3
    assert meta["species"] == ["H", "C", "O"]
    assert meta["e0_source"] == "e0_frames"
    assert set(meta["e0"]) == {"H", "C", "O"}
    assert meta["hyper"]["max_num_epochs"] == 2 and meta["hyper"]["default_dtype"] == "float64"
    assert meta["validation_errors"]["n_frames"] == 2
    assert meta["validation_errors"]["force_rmse_meV_per_A"] > 0
    assert "--seed=3" in meta["mace_run_train_args"]
    assert Path(str(model.path) + ".json").is_file()
    assert lammps_model_species(exported) == ("H", "C", "O")


def test_mace_unknown_species_rejected_before_lammps(trained):
    backend, model, exported = trained
    nitrogen = Atoms("NH3", positions=[[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(InputError, match="also has N"):
        reference(backend.calculator(model), nitrogen)
    with pytest.raises(InputError, match="also has N"):
        mace_pair_spec(exported, elements=("H", "C", "N", "O"))


def test_mace_plugin_reports_bad_pair_coeff(trained, tmp_path):
    """The plugin's own checks, for input that bypasses the Python ones."""
    from lammps import lammps

    _, _, exported = trained
    corrupt = tmp_path / "corrupt-lammps.pt"
    corrupt.write_bytes(os.urandom(2048))
    for coeff, message in [
        (f"* * {exported} H C N", "element N (atom type 3) is not in the model"),
        (f"* * {corrupt} H C O", "cannot read MACE model"),
        (f"* * {exported} H C", "one element per type"),
    ]:
        lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        try:
            lmp.commands_list(
                ["units metal", "region b block 0 9 0 9 0 9", "create_box 3 b", "pair_style mace"]
            )
            with pytest.raises(Exception, match=re.escape(message)):
                lmp.command(f"pair_coeff {coeff}")
        finally:
            lmp.close()
