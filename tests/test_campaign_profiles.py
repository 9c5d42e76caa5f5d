"""The execution profiles users run at scale, on real schedulers: the ``local``
HighThroughputExecutor (what ``make demo`` uses) and ``slurm-cpu`` on a real one-node Slurm
cluster (Debian's slurm-wlm, started by tests/fixtures/slurm.py). Each runs the tiny
campaign (two GAP models, four short LAMMPS runs, their analyses), has its driver SIGKILLed
once an MD task is done, and is restarted: the restart reuses every finished task (0
redone) and finishes the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from fixtures.campaign import (
    campaign_command,
    done_markers,
    sigkill_then_restart,
    write_campaign,
    write_dataset_dir,
)
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


def _processes_in(directory: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every process working in ``directory`` or below."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd.startswith(str(directory)):
            found.append((int(proc.name), cmdline))
    return found


@pytest.mark.slow
def test_ctrl_c_of_a_local_campaign_stops_its_deepmd_training(dataset, out, tmp_path):
    """Ctrl-C of the driver while dp trains in a HighThroughputExecutor worker: the campaign
    exits 130 and leaves no process working in its results (dp kept training before)."""
    campaign = write_campaign(tmp_path, dataset, parsl="local")
    campaign.write_text(campaign.read_text().replace('gap = { preset = "tiny" }',
                                                     'deepmd = { preset = "tiny" }')
                        .replace('arch = "gap"', 'arch = "deepmd"'))  # fmt: skip
    env = dict(os.environ, XFER_PARSL_WORKERS="1")
    with open(tmp_path / "driver.log", "wb") as log:
        proc = subprocess.Popen(campaign_command(campaign, out), stdout=log,
                                stderr=subprocess.STDOUT, env=env)  # fmt: skip
    deadline = time.monotonic() + 900
    while not any("xfer.backends.deepmd" in cmd for _, cmd in _processes_in(out / "tasks")):
        assert proc.poll() is None, (tmp_path / "driver.log").read_text()
        assert time.monotonic() < deadline, "dp never started"
        time.sleep(0.2)
    time.sleep(3)  # dp is training
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=300) == 130
    deadline = time.monotonic() + 30
    while (left := _processes_in(out)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid, _ in left:  # no stray training for the next tests
        os.kill(pid, signal.SIGKILL)
    assert not left, left
