"""Models the user brings: bare model files of every architecture (no xfer metadata, in a
read-only directory) go through ``xfer export``, ``xfer models list`` and ``xfer md`` and
match their own ASE calculator in LAMMPS; D3 dispersion matches simple-dftd3.

The MACE model is trained by mace-torch's own ``mace_run_train`` (tests/fixtures/bare_mace.py),
the DeePMD and GAP files are the session's tiny models copied without their metadata.
The ``xfer`` verbs run in subprocesses (QUIP keeps one model per process).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures.bare_mace import train_bare_mace
from fixtures.structures import molecular_box, rattled_molecule

from xfer.backends import get_backend, load_user_model
from xfer.backends.dispersion import with_d3 as ase_with_d3
from xfer.errors import InputError
from xfer.lammps.dispersion import D3, with_d3
from xfer.lammps.pair import PairSpec
from xfer.lammps.singlepoint import evaluate

XFER = [sys.executable, "-m", "xfer.cli"]
F_TOL = 1e-6  # eV/A
E_TOL = 1e-6  # eV per atom
PBE = D3(functional="pbe")


def _read_only(directory: Path) -> Path:
    for path in [*directory.iterdir(), directory]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return directory


def _xfer(*args: str, cache: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XFER_CACHE_DIR": str(cache)}
    return subprocess.run([*XFER, *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def bare_mace(tmp_path_factory) -> Path:
    """A MACE model trained by ``mace_run_train`` itself, alone in a read-only directory."""
    root = tmp_path_factory.mktemp("bare_mace")
    shutil.copy(train_bare_mace(tmp_path_factory.mktemp("mace_run_train")), root / BARE["mace"])
    return _read_only(root) / BARE["mace"]


@pytest.fixture(scope="module")
def bare_dir(tmp_path_factory, bare_mace, deepmd_model, gap_model) -> Path:
    """A read-only directory with a mace_run_train model, a deepmd .pth and a GAP xml
    (+ sparseX files), none with xfer metadata."""
    root = tmp_path_factory.mktemp("bare_models")
    shutil.copy(bare_mace, root / BARE["mace"])
    shutil.copy(deepmd_model.path, root / "frozen.pth")
    for path in get_backend("gap").load(gap_model.path).meta["sparse_files"]:
        shutil.copy(gap_model.path.parent / path, root / path)
    shutil.copy(gap_model.path, root / "gap.xml")
    return _read_only(root)


BARE = {"mace": "foundation.model", "deepmd": "frozen.pth", "gap": "gap.xml"}
STYLE = {"mace": "mace", "deepmd": "deepmd", "gap": "quip"}


def _configurations() -> list:
    rng = np.random.default_rng(7)
    box = molecular_box(["EC", "EMC"], np.eye(3) * 9.0, 2)
    return [rattled_molecule("EMC", rng), box]


def _assert_parity(atoms, spec: PairSpec, calc) -> None:
    lmp = evaluate(atoms, spec)
    work = atoms.copy()
    work.calc = calc
    assert abs(lmp["energy"] - work.get_potential_energy()) / len(atoms) < E_TOL
    assert np.abs(lmp["forces"] - work.get_forces()).max() < F_TOL


@pytest.mark.slow
@pytest.mark.timeout(3600)  # fixtures train a deepmd committee: minutes on a loaded machine
@pytest.mark.parametrize("arch", list(BARE))
def test_bare_model_exports_runs_md_and_matches_its_calculator(bare_dir, arch, tmp_path):
    path = bare_dir / BARE[arch]
    before = sorted(p.name for p in bare_dir.iterdir())
    cache = tmp_path / "cache"
    exported = _xfer("export", str(path), cache=cache, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "pair_style" in exported.stdout
    listed = _xfer("models", "list", str(bare_dir), cache=cache, cwd=tmp_path)
    assert listed.returncode == 0 and arch in listed.stdout, listed.stderr
    run = _xfer(
        "md", "--potential", "ml", "--model", str(path), "--mix", "EC:1,EMC:1",
        "--density", "0.8", "--ensemble", "nvt", "--time-ps", "0.005", "--timestep-fs", "0.5",
        "--out", "run", cache=cache, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["pair_style"].split()[0] == STYLE[arch] and result["n_steps_requested"] == 10
    assert sorted(p.name for p in bare_dir.iterdir()) == before  # nothing written beside it

    model = load_user_model(path)
    assert model.arch == arch and model.meta["source"] == "user"
    assert model.meta["species"] == ["H", "C", "O"] and model.meta["cutoff"] > 0
    assert len(model.meta["source_sha256"]) == 64
    backend = get_backend(arch)
    os.environ["XFER_CACHE_DIR"] = str(cache)  # the export made above is reused
    try:
        spec = backend.pair_spec(model)
    finally:
        del os.environ["XFER_CACHE_DIR"]
    calc = backend.calculator(model)
    for atoms in _configurations():
        _assert_parity(atoms, spec, calc)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # fixtures train a deepmd committee: minutes on a loaded machine
def test_model_is_recognised_by_content_not_name(bare_dir, tmp_path):
    renamed = tmp_path / "weights.bin"
    shutil.copy(bare_dir / BARE["deepmd"], renamed)
    assert load_user_model(renamed).arch == "deepmd"
    shutil.copy(bare_dir / BARE["mace"], tmp_path / "model.xml")
    assert load_user_model(tmp_path / "model.xml").arch == "mace"


@pytest.mark.parametrize(
    "content", [b"just some notes\n", b"<?xml version='1.0'?><data/>\n", b"PK\x03\x04broken"]
)
def test_non_model_file_gives_one_line_errors(tmp_path, content):
    path = tmp_path / "not-a-model.model"
    path.write_bytes(content)
    with pytest.raises(InputError, match="not a model file xfer reads; expected .*MACE"):
        load_user_model(path)
    for args in (["export", str(path)],
                 ["md", "--potential", "ml", "--model", str(path), "--mix", "EC:1",
                  "--out", "run"]):  # fmt: skip
        proc = _xfer(*args, cache=tmp_path / "cache", cwd=tmp_path)
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
        assert all(kind in lines[0] for kind in ("MACE", "DeePMD", "GAP"))
    assert not (tmp_path / "run").exists()


def test_dispersion_options_are_checked(tmp_path):
    cases = [
        (["--dispersion", "d4", "--d3-functional", "pbe"], "unknown dispersion"),
        (["--dispersion", "d3"], "needs --d3-functional"),
        (["--d3-functional", "pbe"], "goes with --dispersion d3"),
    ]
    for extra, message in cases:
        proc = _xfer("md", "--mix", "EC:1", "--out", "run", *extra, cache=tmp_path, cwd=tmp_path)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_d3_alone_matches_simple_dftd3():
    """dispersion/d3 in LAMMPS vs simple-dftd3 (two-body, same cutoffs): molecule and box."""
    from ase.calculators.calculator import Calculator

    class Zero(Calculator):  # D3 on top of nothing: checks the correction itself
        implemented_properties = ["energy", "free_energy", "forces", "stress"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            super().calculate(atoms, properties, system_changes)
            zeros = np.zeros((len(self.atoms), 3))
            self.results = {
                "energy": 0.0,
                "free_energy": 0.0,
                "forces": zeros,
                "stress": np.zeros(6),
            }

    spec = with_d3(PairSpec("zero 1.0", "* *", ("H", "C", "O")), PBE)
    for atoms in _configurations():
        lmp = evaluate(atoms, spec)
        work = atoms.copy()
        work.calc = ase_with_d3(Zero(), PBE)
        assert work.get_potential_energy() < -0.1  # dispersion binds
        _assert_parity(atoms, spec, work.calc)
        if atoms.pbc.all():
            virial = -work.get_stress(voigt=False) * work.get_volume()
            assert np.abs(lmp["virial"] - virial).max() < 1e-5


@pytest.mark.slow
@pytest.mark.timeout(3600)  # fixtures train a deepmd committee: minutes on a loaded machine
@pytest.mark.parametrize("arch", list(BARE))
def test_model_plus_d3_matches_calculator_plus_dftd3(bare_dir, arch, tmp_path, monkeypatch):
    monkeypatch.setenv("XFER_CACHE_DIR", str(tmp_path))
    model = load_user_model(bare_dir / BARE[arch])
    backend = get_backend(arch)
    spec = with_d3(backend.pair_spec(model), PBE)
    assert spec.pair_style.startswith("hybrid/overlay ")
    calc = ase_with_d3(backend.calculator(model), PBE)
    for atoms in _configurations():
        _assert_parity(atoms, spec, calc)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # fixtures train a deepmd committee: minutes on a loaded machine
def test_mace_fine_tunes_a_users_model(bare_mace, gap_train_file, tmp_path):
    """The finetune preset starts from the user's model: same architecture and shapes
    (8 channels, 4 A, from the foundation, not the preset), weights moved by training."""
    from xfer.cli import main
    from xfer.training import find_models

    foundation = bare_mace
    argv = ["train", "--arch", "mace", "--recipe", "ft", "--train", str(gap_train_file),
            "--seeds", "0", "--preset", "finetune", "--set", f"foundation_model={foundation}",
            "--set", "max_num_epochs=1", "--out", str(tmp_path / "models")]  # fmt: skip
    assert main(argv) == 0
    (tuned,) = find_models(tmp_path / "models")
    assert tuned.meta["foundation_sha256"] == load_user_model(foundation).meta["source_sha256"]
    before = get_backend("mace").calculator(load_user_model(foundation))._mace.models[0]
    after = get_backend("mace").calculator(tuned)._mace.models[0]
    assert float(after.r_max) == float(before.r_max) == 4.0
    old, new = before.state_dict(), after.state_dict()
    assert {k: v.shape for k, v in old.items()} == {k: v.shape for k, v in new.items()}
    moved = [k for k in old if old[k].dtype.is_floating_point and not (old[k] == new[k]).all()]
    assert moved  # trained from the foundation's weights, not a copy of them


@pytest.mark.slow
@pytest.mark.timeout(3600)  # fixtures train a deepmd committee: minutes on a loaded machine
def test_md_with_d3_runs_the_overlay(bare_dir, tmp_path):
    run = _xfer(
        "md", "--potential", "ml", "--model", str(bare_dir / BARE["deepmd"]), "--mix", "EC:1,EMC:1",
        "--density", "0.8", "--ensemble", "nvt", "--time-ps", "0.005", "--dispersion", "d3",
        "--d3-functional", "pbe", "--out", "run", cache=tmp_path / "cache", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["pair_style"].startswith("hybrid/overlay deepmd ")
    assert "dispersion/d3 bj pbe" in result["pair_style"]
    assert "pair_coeff      * * dispersion/d3 H C O" in (tmp_path / "run" / "in.lammps").read_text()
