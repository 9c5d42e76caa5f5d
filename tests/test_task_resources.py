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
