"""The execution profiles users run at scale, on real schedulers: the ``local``
HighThroughputExecutor (what ``make demo`` uses) and ``slurm-cpu`` on a real one-node Slurm
cluster (Debian's slurm-wlm, started by tests/fixtures/slurm.py). Each runs the tiny
campaign (two GAP models, four short LAMMPS runs, their analyses), has its driver SIGKILLed
once an MD task is done, and is restarted: the restart reuses every finished task (0
redone) and finishes the rest."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from fixtures.campaign import done_markers, sigkill_then_restart, write_campaign, write_dataset_dir
from fixtures.slurm import PARTITION, one_node_cluster

from xfer.workflow.runner import stop_stale_executors

N_TASKS = 12  # dataset, recipe, 2 train, 4 md (npt + nvt per model), 4 analyze


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset_dir(tmp_path_factory.mktemp("dataset"))


@pytest.fixture
def out(tmp_path: Path):
    """The results directory; a failed test leaves no Parsl process of its campaign."""
    path = tmp_path / "out"
    yield path
    stop_stale_executors(path / "runinfo")


@pytest.mark.slow
@pytest.mark.ci
def test_local_htex_sigkill_restart_reuses_finished_tasks(dataset, out, tmp_path):
    campaign = write_campaign(tmp_path, dataset, parsl="local")
    env = dict(os.environ, XFER_PARSL_WORKERS="2")
    counts = sigkill_then_restart(campaign, out, tmp_path, N_TASKS, env=env)
    assert counts["ran"] >= 1
    assert all(m["batch_job"] is None for m in _markers(out))


@pytest.fixture
def slurm(tmp_path_factory: pytest.TempPathFactory):
    """A running one-node Slurm cluster; its daemons stop after the test (pass or fail)."""
    with one_node_cluster(tmp_path_factory.mktemp("slurm")) as env:
        yield env


@pytest.mark.slow
@pytest.mark.ci
def test_slurm_sigkill_restart_reuses_finished_tasks(dataset, out, tmp_path, slurm):
    campaign = write_campaign(tmp_path, dataset, parsl="slurm-cpu")
    env = dict(
        slurm,
        XFER_SLURM_CPU_PARTITION=PARTITION,
        XFER_SLURM_CORES_PER_NODE=str(os.cpu_count()),
        XFER_SLURM_MAX_CPU_NODES="1",
        XFER_SLURM_WALLTIME="00:20:00",
        XFER_PARSL_ADDRESS="127.0.0.1",
    )
    counts = sigkill_then_restart(campaign, out, tmp_path, N_TASKS, env=env)
    markers = _markers(out)
    jobs = {m["batch_job"] for m in markers}
    assert None not in jobs, "a task ran outside a Slurm job"
    assert len(jobs) >= 2, "the restart's tasks ran in the killed campaign's job"
    queue = subprocess.run(["squeue", "-h"], capture_output=True, text=True, env=slurm)
    assert queue.returncode == 0 and queue.stdout.strip() == "", queue.stdout
    assert counts["reused"] >= 1


def _markers(out: Path) -> list[dict]:
    return list(done_markers(out).values())
