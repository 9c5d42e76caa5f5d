"""The thread contract: every LAMMPS xfer starts for the user or a benchmark computes with
the threads ``xfer md`` gives itself (:func:`xfer.runtime.default_threads`), not the one
thread ``import xfer`` pins its own process to."""

import os
import subprocess
import sys

import pytest

from xfer.runtime import THREAD_VARIABLES, default_threads, lmp_environment
from xfer.workflow.bench import _child_env


@pytest.fixture
def three_threads(monkeypatch):
    """xfer md would use 3 threads; this process itself runs with 1."""
    monkeypatch.setenv("XFER_THREADS", "3")
    for var in THREAD_VARIABLES:
        monkeypatch.setenv(var, "1")
    assert default_threads() == 3


def test_lmp_environment_sets_the_threads_it_is_given(three_threads):
    assert all(lmp_environment(4)[var] == "4" for var in THREAD_VARIABLES)
    assert all(lmp_environment()[var] == "1" for var in THREAD_VARIABLES)


def test_bench_runs_get_the_threads_of_xfer_md(three_threads):
    env = _child_env("cpu")
    assert all(env[var] == "3" for var in THREAD_VARIABLES)
    assert env["CUDA_VISIBLE_DEVICES"] == ""


def test_bench_ranks_share_the_cores(monkeypatch):
    monkeypatch.delenv("XFER_THREADS", raising=False)
    cores = len(os.sched_getaffinity(0))
    assert _child_env("cpu", ranks=2)[THREAD_VARIABLES[0]] == str(max(1, cores // 2))
    assert _child_env("cpu")[THREAD_VARIABLES[0]] == str(cores)


def test_xfer_env_defaults_to_the_threads_of_xfer_md(three_threads):
    proc = subprocess.run([sys.executable, "-m", "xfer.cli", "env"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.removeprefix("export ").split("=", 1) for line in proc.stdout.splitlines())
    assert all(lines[var] == "3" for var in THREAD_VARIABLES)


def test_xfer_lmp_runs_lammps_with_the_threads_of_xfer_md(three_threads, tmp_path):
    (tmp_path / "in.threads").write_text(
        "".join(f"variable v{k} getenv {var}\n" for k, var in enumerate(THREAD_VARIABLES))
        + 'print "threads ' + " ".join(f"${{v{k}}}" for k in range(len(THREAD_VARIABLES)))
        + '"\n'
    )
    proc = subprocess.run([sys.executable, "-m", "xfer.cli", "lmp", "-in", "in.threads",
                           "-log", "log.threads"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    log = (tmp_path / "log.threads").read_text()
    assert "threads " + " ".join(["3"] * len(THREAD_VARIABLES)) in log.splitlines()
