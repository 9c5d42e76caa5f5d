"""Cores per campaign task from the execution profile: ranks and threads per task kind
(``TASK_RESOURCES`` or the executor's cores per worker), applied in the task's worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xfer.errors import InputError
from xfer.workflow.execution import load_profile
from xfer.workflow.runner import task_resources

USER_PROFILE = '''
from parsl.config import Config
from parsl.executors import ThreadPoolExecutor

TASK_RESOURCES = {RESOURCES}


def make_config(run_dir, workers=None):
    return Config(executors=[ThreadPoolExecutor(label="threads", max_threads=2)],
                  run_dir=str(run_dir), usage_tracking=0)
'''


def _profile(tmp_path: Path, resources: str) -> str:
    path = tmp_path / "mine.py"
    path.write_text(USER_PROFILE.replace("{RESOURCES}", resources))
    return str(path)


def test_declared_resources_override_the_executor_cores(tmp_path):
    profile = _profile(tmp_path, '{"md": {"ranks": 2}, "train": {"threads": 3}}')
    got = task_resources(profile, load_profile(profile, tmp_path / "run"))
    assert got["md"] == {"ranks": 2, "threads": 1}
    assert got["train"] == {"ranks": 1, "threads": 3}
    assert got["analyze"] == {"ranks": 1, "threads": 1}


def test_gpu_profile_gives_train_and_md_the_cores_per_gpu(tmp_path, monkeypatch):
    monkeypatch.setenv("XFER_SLURM_CORES_PER_NODE", "32")
    monkeypatch.setenv("XFER_SLURM_GPUS_PER_NODE", "4")
    got = task_resources("slurm-gpu", load_profile("slurm-gpu", tmp_path / "run"))
    assert got["train"] == got["md"] == {"ranks": 1, "threads": 8}
    assert got["dataset"] == {"ranks": 1, "threads": 1}


@pytest.mark.parametrize("bad", ['{"md": {"ranks": 0}}', '{"md": {"cores": 2}}', '[1]'])
def test_bad_task_resources_are_one_line_errors(bad, tmp_path):
    profile = _profile(tmp_path, bad)
    with pytest.raises(InputError, match="TASK_RESOURCES"):
        task_resources(profile, load_profile(profile, tmp_path / "run"))


@pytest.mark.slow
@pytest.mark.ci
def test_md_task_runs_on_the_ranks_and_threads_it_is_given(tmp_path):
    from xfer.workflow.store import Task, TaskStore
    from xfer.workflow.tasks import execute

    settings = {"potential": "opls", "mix": {"EC": 4, "EMC": 8}, "ensemble": "nvt",
                "time_ps": 0.005, "thermo_every": 5, "dump_every": 10}  # fmt: skip
    task = Task("md", "opls md", {"settings": settings}).as_dict()
    root = tmp_path / "campaign"
    done = execute(str(root), task, {"ranks": 2, "threads": 1})
    run = TaskStore(root).task_dir("md", task["key"]) / done["output"] / "run"
    result = json.loads((run / "result.json").read_text())
    assert result["nprocs"] == 2 and result["threads"] == 1 and result["n_steps_done"] == 10


def test_al_explore_runs_on_the_ranks_and_threads_it_is_given(gap_model, tmp_path, monkeypatch):
    """Like an md task, an exploration run takes the profile's ranks and threads (given to
    its worker as XFER_TASK_RANKS / XFER_THREADS), not one rank."""
    from dataclasses import asdict

    from xfer.backends import get_backend
    from xfer.runtime import THREADS_ENV
    from xfer.workflow.al_tasks import explore_run_settings
    from xfer.workflow.resources import RANKS_ENV

    member = {"model": str(gap_model.path),
              "pair": asdict(get_backend("gap").pair_spec(gap_model))}  # fmt: skip
    deps = {"member0": member, "member1": member,
            "starts": {"starts": str(tmp_path), "frames": ["start.data"]}}  # fmt: skip
    settings = {"potential": "ml", "ensemble": "npt", "temperature": 300.0, "time_ps": 0.01,
                "thermo_every": 5, "dump_every": 5, "max_force_deviation": 0.5,
                "deviation_every": 5}  # fmt: skip
    spec = {"settings": settings, "start": 0}
    monkeypatch.setenv(RANKS_ENV, "2")
    monkeypatch.setenv(THREADS_ENV, "3")
    run = explore_run_settings(spec, deps)
    assert (run.nprocs, run.threads) == (2, 3)
    assert run.data == tmp_path / "start.data" and run.committee is not None
    monkeypatch.delenv(RANKS_ENV)
    monkeypatch.setenv(THREADS_ENV, "1")
    single = explore_run_settings(spec, deps)
    assert (single.nprocs, single.threads) == (1, 1)
