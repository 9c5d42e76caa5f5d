"""MACE end to end: a tiny model trained once per module on GFN2-xTB labels, exported to
TorchScript and evaluated by xfer's ``pair_style mace`` plugin in LAMMPS (the lead's
single-point template; 1 and 2 MPI ranks, both graph modes) against MACECalculator."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from fixtures.devices import expected_device
from scipy.spatial.transform import Rotation

import xfer  # noqa: F401  (MPI preload and plugin path before lammps)
from xfer.backends.base import get_backend
from xfer.backends.mace import lammps_model_species, mace_pair_spec
from xfer.chem.molecules import get_molecule
from xfer.errors import InputError
from xfer.lammps.singlepoint import evaluate

pytest_plugins = ["fixtures.mace"]  # mace_sets: the tiny GFN2-xTB set

E_TOL = 1e-6  # eV
F_TOL = 1e-6  # eV/A
W_TOL = 1e-6  # eV
CUBIC = [[9.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 9.0]]
TRICLINIC = [[9.0, 0.4, -0.3], [1.6, 9.2, 0.5], [-1.1, 0.9, 8.7]]  # general: LAMMPS rotates it


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
def trained(mace_sets, tmp_path_factory):
    """A tiny float64 MACE (trained once for this module) and its LAMMPS export."""
    backend = get_backend("mace")
    hyper = {"preset": "tiny", "max_num_epochs": 2, "num_channels": 8}
    model = backend.train(*mace_sets, tmp_path_factory.mktemp("mace_model"), 3, hyper)
    return backend, model, backend.export(model)


@pytest.fixture(scope="module")
def calculator(trained):
    backend, model, _ = trained
    return backend.calculator(model)


# ---------------------------------------------------------------- parity helpers


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

SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    ("kind", "mode", "nprocs"),
    [
        ("cubic", "", 1),
        ("triclinic", "", 1),
        ("molecule", "", 1),
        ("triclinic", "", 2),
        ("cubic", "device cpu", 1),
        ("triclinic", "device auto", 1),
        ("triclinic", "device cpu", 2),
        pytest.param("molecule", "device cpu", 1, marks=SLOW),
        pytest.param("cubic", "", 2, marks=SLOW),
        pytest.param("molecule", "", 2, marks=SLOW),
        pytest.param("cubic", "domain_decomposition", 1, marks=SLOW),
        pytest.param("triclinic", "domain_decomposition", 1, marks=SLOW),
        pytest.param("molecule", "domain_decomposition", 1, marks=SLOW),
    ],
)
def test_mace_lammps_parity(trained, calculator, kind, mode, nprocs):
    """LAMMPS (single_point template, N ranks) against MACECalculator (on the CPU); the
    mode ``domain_decomposition`` forces ghost-atom graphs on one rank (the 2-rank default),
    ``device X`` places the model (default auto: a GPU when torch sees one)."""
    backend, model, _ = trained
    spec = backend.pair_spec(model)
    if mode:
        spec = replace(spec, pair_style=f"{spec.pair_style} {mode}")
    atoms = _configuration(kind)
    result = evaluate(atoms, spec, nprocs)
    assert result["nprocs"] == nprocs
    assert result["device"] == expected_device(mode.split()[-1] if "device" in mode else "auto")
    assert_parity(result, reference(calculator, atoms))


@pytest.mark.parametrize(
    "nprocs", [pytest.param(1, marks=[SLOW, pytest.mark.ci]), pytest.param(2, marks=SLOW)]
)
def test_mace_lammps_parity_640_atoms(trained, calculator, nprocs):
    backend, model, _ = trained
    atoms = big_box(21)
    assert len(atoms) == 640
    assert_parity(evaluate(atoms, backend.pair_spec(model), nprocs), reference(calculator, atoms))


def test_mace_model_metadata(trained):
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


def test_mace_unknown_species_rejected_before_lammps(trained, calculator):
    backend, model, exported = trained
    nitrogen = Atoms("NH3", positions=[[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(InputError, match="also has N"):
        reference(calculator, nitrogen)
    with pytest.raises(InputError, match="also has N"):
        mace_pair_spec(exported, elements=("H", "C", "N", "O"))
    with pytest.raises(InputError, match="does not know element"):
        evaluate(nitrogen, backend.pair_spec(model))


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


def _plugin_log(exported: Path, style: str, log: Path) -> str:
    """The LAMMPS log after ``style`` and pair_coeff with ``exported`` on an empty box."""
    from lammps import lammps

    lmp = lammps(cmdargs=["-log", str(log), "-screen", "none", "-nocite"])
    try:
        lmp.commands_list(["units metal", "region b block 0 9 0 9 0 9", "create_box 3 b", style,
                           f"pair_coeff * * {exported} H C O"])  # fmt: skip
    finally:
        lmp.close()
    return log.read_text()


def test_mace_plugin_device_keyword(trained, tmp_path):
    """``device cpu|auto`` place the model where asked (the plugin logs it); ``device cuda``
    loads it onto GPU 0 or, without a GPU, stops with a readable error; other words fail."""
    _, _, exported = trained
    assert "1 model(s) on device cpu" in _plugin_log(exported, "pair_style mace device cpu",
                                                     tmp_path / "cpu.log")
    auto = _plugin_log(exported, "pair_style mace device auto", tmp_path / "auto.log")
    assert f"1 model(s) on device {expected_device('auto')}" in auto
    if expected_device("cuda") == "cpu":
        with pytest.raises(Exception, match="device cuda requested but torch sees no CUDA GPU"):
            _plugin_log(exported, "pair_style mace device cuda", tmp_path / "cuda.log")
    else:
        log = _plugin_log(exported, "pair_style mace device cuda", tmp_path / "cuda.log")
        assert "1 model(s) on device cuda:0" in log
    with pytest.raises(Exception, match="device must be cpu, cuda or auto, got 'gpu'"):
        _plugin_log(exported, "pair_style mace device gpu", tmp_path / "gpu.log")


def test_md_device_reaches_pair_mace(trained, tmp_path):
    """MDSettings.device becomes the pair style's keyword; result.json records the device
    used; --device cuda without a GPU is one ``error:`` line (exit 2) before LAMMPS starts."""
    import subprocess
    import sys

    from xfer.md import MDSettings, run_md

    backend, model, _ = trained
    settings = MDSettings(potential="ml", pair=backend.pair_spec(model), mix={"EC": 1, "EMC": 1},
                          density=1.0, ensemble="nvt", temperature=300.0, time_ps=0.005,
                          device="cpu")  # fmt: skip
    result = run_md(settings, tmp_path / "cpu")
    assert result["device"] == {"requested": "cpu", "used": "cpu"}
    assert re.search(r"pair_style +mace device cpu\n", (tmp_path / "cpu" / "in.lammps").read_text())
    assert result["n_steps_done"] == 10
    if expected_device("cuda") != "cpu":
        return  # the error below needs a machine without a GPU
    out = tmp_path / "cuda"
    proc = subprocess.run(
        [sys.executable, "-m", "xfer.cli", "md", "--potential", "ml", "--model", str(model.path),
         "--mix", "EC:1,EMC:1", "--time-ps", "0.005", "--device", "cuda", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: --device cuda: torch sees no CUDA GPU in this process (no NVIDIA driver or GPU, "
        "or CUDA_VISIBLE_DEVICES hides them); use --device cpu or auto"
    ]
    assert not out.exists()
