"""``xfer md`` on two MPI ranks: ``--nprocs 2`` (xfer starts mpiexec) and ``mpiexec -n 2 xfer
md`` (every rank runs xfer, mpi4py) follow the one-rank trajectory to round-off, halt as
one rank does, resume from checkpoints and write the same result.json; every ML pair
style's committee halts on its deviation on two ranks.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures.committee_md import check_record_and_halt
from fixtures.gap import TEST_HYPER

from xfer.testing.interrupt import kill_when

pytest_plugins = ["fixtures.mace"]
CI = [pytest.mark.slow, pytest.mark.ci]
XFER = [sys.executable, "-m", "xfer.cli"]
MPIEXEC = [str(Path(sys.executable).parent / "mpiexec"), "-launcher", "fork", "-n", "2"]
BOX = ["--mix", "EC:4,EMC:8", "--density", "1.0", "--ensemble", "nvt", "--seed", "2"]
# how the two ranks are started: by xfer (--nprocs 2) or around xfer (mpiexec -n 2 xfer)
LAUNCHES = {"nprocs": (XFER, ["--nprocs", "2"]), "mpiexec": ([*MPIEXEC, *XFER], [])}
# keys of result.json that may differ between rank counts (how long, on what)
RESOURCES = {"wall_s", "parts", "nprocs", "threads"}


def xfer_md(out: Path, *args: str, launch: str | None = None) -> dict:
    prefix, extra = LAUNCHES[launch] if launch else (XFER, [])
    command = [*prefix, "md", "--out", str(out), *BOX, *args, *extra]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return json.loads((out / "result.json").read_text())


def thermo(run: Path) -> np.ndarray:
    return np.genfromtxt(run / "thermo.csv", delimiter=",", skip_header=1)


def same_result(one: dict, two: dict) -> None:
    assert two["nprocs"] == 2 and one["nprocs"] == 1
    assert {k: v for k, v in one.items() if k not in RESOURCES} == {
        k: v for k, v in two.items() if k not in RESOURCES
    }


@pytest.fixture(scope="module")
def one_rank(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one") / "run"
    xfer_md(out, "--time-ps", "0.02", "--thermo-every", "1", "--dump-every", "10")
    return out


@pytest.mark.parametrize("launch", [pytest.param("nprocs", marks=CI),
                                    pytest.param("mpiexec", marks=pytest.mark.slow)])
def test_two_ranks_follow_the_one_rank_trajectory(one_rank, launch, tmp_path):
    """OPLS-AA (PPPM Coulomb), 40 steps: every thermo row agrees to round-off."""
    out = tmp_path / "run"
    two = xfer_md(out, "--time-ps", "0.02", "--thermo-every", "1", "--dump-every", "10",
                  launch=launch)  # fmt: skip
    one = json.loads((one_rank / "result.json").read_text())
    same_result(one, two)
    a, b = thermo(one_rank), thermo(out)
    assert a.shape == b.shape == (41, 7)
    assert np.allclose(a, b, rtol=1e-7, atol=1e-7), np.abs(a - b).max(axis=0)
    assert "on 2 procs for 40 steps" in (out / "log.lammps").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("launch", ["nprocs", "mpiexec"])
def test_bond_halt_on_two_ranks_is_the_one_rank_halt(launch, tmp_path):
    """A 0.02 A stretch limit halts at the first check, on the same bond, with the same
    last frame (gathered from both ranks)."""
    args = ("--time-ps", "0.05", "--bond-stretch-max", "0.02", "--check-every", "5")
    one = xfer_md(tmp_path / "one", *args)
    two = xfer_md(tmp_path / "two", *args, launch=launch)
    assert one["halted"] and one["halt_reason"] == "bond" and one["n_steps_done"] == 5
    same_result({**one, "halt_detail": None}, {**two, "halt_detail": None})
    d1, d2 = one["halt_detail"], two["halt_detail"]
    assert d1["atom_ids"] == d2["atom_ids"] and d1["bond_type"] == d2["bond_type"]
    assert d1["length_A"] == pytest.approx(d2["length_A"], abs=1e-8)
    frames = [(tmp_path / r / "last_frame.dump").read_text().splitlines() for r in ("one", "two")]
    assert len(frames[0]) == len(frames[1]) == 9 + 160
    assert frames[0][:9] == frames[1][:9]


@pytest.mark.slow
def test_nprocs_run_killed_by_sigterm_resumes_on_two_ranks(tmp_path):
    """SIGTERM reaches the ranks; the rerun continues from the 2-rank checkpoint."""
    out = tmp_path / "run"
    command = [*XFER, "md", "--out", str(out), *BOX, "--time-ps", "0.2", "--thermo-every",
               "10", "--checkpoint-every", "100", "--nprocs", "2"]  # fmt: skip
    assert kill_when(command, out / "thermo.csv", 150, sig=signal.SIGTERM) == 143
    assert not (out / "result.json").exists()
    assert subprocess.run(["pgrep", "-f", str(out)], capture_output=True).returncode == 1
    result = xfer_md(out, "--time-ps", "0.2", "--thermo-every", "10", "--checkpoint-every",
                     "100", launch="nprocs")  # fmt: skip
    assert [p["start_step"] for p in result["parts"]] == [0, 100]
    assert thermo(out)[:, 0].astype(int).tolist() == list(range(0, 401, 10))


def test_nprocs_inside_an_mpi_launch_is_refused(tmp_path):
    proc = subprocess.run([*MPIEXEC, *XFER, "md", "--out", str(tmp_path / "r"), *BOX,
                           "--time-ps", "0.01", "--nprocs", "4"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 2
    assert "--nprocs 4 inside an MPI launch of 2 ranks" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r" / "result.json").exists()


@pytest.mark.slow
def test_deepmd_two_ranks_follow_the_one_rank_trajectory(deepmd_model, tmp_path):
    """pair deepmd, 20 steps: thermo rows agree to round-off on 1 and 2 ranks."""
    args = ("--potential", "ml", "--model", str(deepmd_model.path), "--time-ps", "0.005",
            "--timestep-fs", "0.25", "--thermo-every", "1", "--bond-stretch-max", "5.0")
    small = ("--mix", "EC:2,EMC:2")  # overrides BOX's mix: argparse keeps the last
    one = xfer_md(tmp_path / "one", *args, *small)
    two = xfer_md(tmp_path / "two", *args, *small, launch="nprocs")
    same_result(one, two)
    a, b = thermo(tmp_path / "one"), thermo(tmp_path / "two")
    assert a.shape == b.shape == (21, 7)
    assert np.allclose(a, b, rtol=1e-7, atol=1e-7), np.abs(a - b).max(axis=0)


@pytest.mark.parametrize("name", [pytest.param("mace", marks=pytest.mark.slow),
                                  pytest.param("deepmd", marks=CI)])
def test_committee_halts_on_two_ranks(name, request, tmp_path):
    """MACE (domain-decomposed graph) halts on the deviation step, DeePMD (chunked runs,
    the leader reads the deviation file) one step after it."""
    if name == "mace":
        root = request.getfixturevalue("mace_committee_root")
        check_record_and_halt(tmp_path, [str(root)], steps=60, every=10, halt_delay=0,
                              extra=("--nprocs", "2"))  # fmt: skip
    else:
        root = request.getfixturevalue("deepmd_models_root") / "deepmd" / "tiny-test"
        check_record_and_halt(tmp_path, [str(root)], steps=200, every=10, halt_delay=1,
                              extra=("--nprocs", "2"))  # fmt: skip


@pytest.mark.slow
def test_gap_committee_halts_on_two_ranks(gap_train_file, tmp_path):
    """pair quip on two ranks (one QUIP potential per rank process)."""
    from xfer.cli import main

    root = tmp_path / "models"
    argv = ["train", "--arch", "gap", "--recipe", "tiny-test", "--train", str(gap_train_file),
            "--seeds", "0-1", "--preset", "tiny", "--set",
            f"n_sparse_soap={TEST_HYPER['n_sparse_soap']}", "--out", str(root)]  # fmt: skip
    assert main(argv) == 0
    members = [str(p) for p in sorted((root / "gap" / "tiny-test").iterdir())]
    check_record_and_halt(tmp_path, members, steps=30, every=5, halt_delay=0,
                          extra=("--nprocs", "2"))  # fmt: skip
