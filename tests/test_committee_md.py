"""``xfer md`` with a committee: model_devi.csv, devi_f in the dumps and the uncertainty
halt inside the running LAMMPS (MACE and GAP: fix halt on compute pair; DeePMD: run
chunks read between), and the one-line errors for committees that cannot work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.io import write
from fixtures.committee_md import check_record_and_halt
from fixtures.gap import TEST_HYPER, label, make_training_set

from xfer.backends.committee_pair import check_committee
from xfer.cli import main
from xfer.errors import InputError
from xfer.training import load_committee, resolve_committee

pytest_plugins = ["fixtures.mace"]  # MACE committee; deepmd and GAP come from conftest.py
CI = [pytest.mark.slow, pytest.mark.ci]


@pytest.fixture(scope="module")
def gap_root(gap_train_file, tmp_path_factory) -> Path:
    """A 2-seed tiny GAP committee trained by ``xfer train``."""
    root = tmp_path_factory.mktemp("gap_models")
    sparse = f"n_sparse_soap={TEST_HYPER['n_sparse_soap']}"
    argv = ["train", "--arch", "gap", "--recipe", "tiny-test", "--train", str(gap_train_file),
            "--seeds", "0-1", "--preset", "tiny", "--set", sparse, "--out", str(root)]  # fmt: skip
    assert main(argv) == 0
    return root / "gap" / "tiny-test"


@pytest.mark.parametrize("name", [pytest.param("mace", marks=CI), pytest.param("deepmd", marks=CI)])
def test_committee_md_records_and_halts(name, request, tmp_path):
    """A few hundred steps through ``xfer md`` (CI): MACE halts on the deviation step,
    DeePMD one step after it (its chunk boundary)."""
    if name == "mace":
        root = request.getfixturevalue("mace_committee_root")
        check_record_and_halt(tmp_path, [str(root)], steps=200, every=10, halt_delay=0)
    else:
        root = request.getfixturevalue("deepmd_models_root") / "deepmd" / "tiny-test"
        check_record_and_halt(tmp_path, [str(root)], steps=200, every=10, halt_delay=1)


@pytest.mark.slow
def test_gap_committee_md_records_and_halts(gap_root, tmp_path):
    members = [str(p) for p in sorted(gap_root.iterdir())]  # the seed dirs, one by one
    check_record_and_halt(tmp_path, members, steps=60, every=5, halt_delay=0)


def _odd_gap(root: Path, cutoff: float | None = None) -> Path:
    """A GAP trained on ethane only (other species), or on the usual set with another cutoff."""
    root.mkdir()
    data = root / "train.extxyz"
    if cutoff is None:
        rng = np.random.default_rng(0)
        ethane = molecule("C2H6")
        frames = [label(Atoms(ethane.symbols, ethane.positions
                              + rng.normal(0, 0.08, (8, 3))), "sm") for _ in range(6)]
        frames += [label(Atoms(el, positions=[[0.0, 0.0, 0.0]]), "e0") for el in "HC"]
        write(data, frames, format="extxyz")
    else:
        make_training_set(data)
    argv = ["train", "--arch", "gap", "--recipe", "odd", "--train", str(data), "--seeds", "0",
            "--preset", "tiny", "--set", f"n_sparse_soap={TEST_HYPER['n_sparse_soap']}",
            "--out", str(root / "models")]  # fmt: skip
    if cutoff is not None:
        argv += ["--set", f"soap_cutoff={cutoff}", "--set", f"cutoff_2b={cutoff}"]
    assert _xfer(argv).returncode == 0
    return root / "models" / "gap" / "odd" / "seed0"


def _xfer(argv: list[str]) -> subprocess.CompletedProcess:
    """``xfer`` in its own process, so the odd models never enter this one (they once left
    quippy evaluating the session GAP model wrongly, by eV; xfer.backends.quippy_eval now
    isolates models with other descriptors, tests/test_gap_quippy_isolation.py)."""
    return subprocess.run([sys.executable, "-m", "xfer.cli", *argv], capture_output=True,
                          text=True, timeout=600)


def test_committee_md_errors(gap_root, deepmd_models_root, tmp_path):
    """Committees that cannot work stop before LAMMPS with one line and exit code 2."""
    seed0, seed1 = sorted(gap_root.iterdir())
    deepmd_seed0 = deepmd_models_root / "deepmd" / "tiny-test" / "seed0"
    odd_species = _odd_gap(tmp_path / "ethane")
    odd_cutoff = _odd_gap(tmp_path / "cut", cutoff=3.5)
    base = ["md", "--mix", "EC:1", "--time-ps", "0.01"]
    cases = [
        (["--committee", str(seed0)], "at least two models"),
        (["--model", str(seed0), "--committee", str(seed0)], "at least two models"),
        (["--committee", str(seed0), "--committee", str(deepmd_seed0)], "one architecture"),
        (["--committee", str(seed0), "--committee", str(odd_species)], "disagree on species"),
        (["--committee", str(seed0), "--committee", str(odd_cutoff)], "disagree on the cutoff"),
        (["--max-force-deviation", "0.3", "--potential", "ml", "--model", str(seed1)],
         "needs a committee"),
    ]  # fmt: skip
    for k, (extra, message) in enumerate(cases):
        out = tmp_path / f"run{k}"
        proc = _xfer([*base, "--out", str(out), *extra])
        assert proc.returncode == 2
        err = proc.stderr
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not (out / "result.json").exists() and not (out / "log.lammps").exists()


def test_committee_root_and_driving_model(gap_root):
    """A committee root gives its seeds; --model drives (first) and is not counted twice."""
    seed0, seed1 = sorted(gap_root.iterdir())
    driving, members = resolve_committee(None, [gap_root])
    assert driving.meta["seed"] == 0 and [m.meta["seed"] for m in members] == [0, 1]
    driving, members = resolve_committee(seed1, [gap_root])
    assert [m.meta["seed"] for m in members] == [1, 0] and driving.path == members[0].path
    with pytest.raises(InputError, match="at least two"):
        check_committee(load_committee(gap_root)[:1])


@pytest.mark.slow
def test_committee_through_run_md_settings(gap_root, tmp_path):
    """The Python API: MDSettings fields, no CLI; record only (no threshold)."""
    from fixtures.committee_md import dump_frames, read_csv

    from xfer.backends.committee_pair import committee_spec
    from xfer.md import MDSettings, run_md
    from xfer.training import export_model

    members = load_committee(gap_root)
    settings = MDSettings(
        potential="ml", pair=export_model(members[0].path)[1], mix={"EC": 2, "EMC": 2},
        ensemble="nvt", temperature=100.0, timestep_fs=0.25, time_ps=0.0075,
        bond_stretch_max=5.0, dump_every=10, committee=committee_spec(members),
        deviation_every=5,
    )  # fmt: skip
    result = run_md(settings, tmp_path / "run")
    assert not result["halted"] and result["n_steps_done"] == 30
    assert result["committee"]["deviation_every"] == 5
    assert result["committee"]["members"] == [str(m.path) for m in members]
    rows = read_csv(tmp_path / "run" / "model_devi.csv")
    assert [int(r["step"]) for r in rows] == [0, 5, 10, 15, 20, 25, 30]
    largest = max(r["max_devi_f"] for r in rows)
    assert result["committee"]["largest_max_devi_f"] == pytest.approx(largest, rel=1e-9)
    assert all("devi_f" in cols for _, cols in dump_frames(tmp_path / "run" / "traj.dump"))
    assert run_md(settings, tmp_path / "run") == result  # finished work is reused
