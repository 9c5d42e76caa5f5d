"""Units of work of a campaign and the Parsl apps that run them.

Kinds: ``dataset`` (build and label, or adopt an existing dataset), ``recipe`` (training and
validation files), ``train`` (one model of one seed, exported for LAMMPS), ``md`` (one
validation run) and ``analyze`` (one run's stability, density or diffusivity), plus the
active-learning kinds of :mod:`xfer.workflow.al_tasks`.

Each Parsl app (:func:`app_for`) takes the task's inputs as a JSON dict, the futures of
the tasks it depends on as ``inputs`` and its ``done.json`` as ``outputs``; Parsl starts
it when its inputs are finished. The app holds the task's lock and runs the work in a
fresh worker process (``python -m xfer.workflow.worker``): LAMMPS, QUIP (one model per
process) and the ML libraries keep global state, and a separate process group lets a
restarted campaign clean up after a killed one. The work functions below run inside that
worker; they return a JSON result whose paths are relative to the task directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xfer.atomic import write_json
from xfer.errors import InputError, XferError
from xfer.progress import PROGRESS, PROGRESS_ENV
from xfer.workflow.al_tasks import AL_KINDS, AL_WORK
from xfer.workflow.diag_tasks import DIAG_KINDS, DIAG_WORK
from xfer.workflow.resources import TaskResources, md_run_resources
from xfer.workflow.store import (
    DONE,
    FAILED,
    TASK,
    TaskStore,
    locked,
    next_attempt,
    now,
    read_done,
    record_attempt,
    stop_stragglers,
)
from xfer.workflow.task_io import adopt_unfinished_run, md_progress, pair_from_result, rel

KINDS = ("dataset", "recipe", "train", "md", "analyze", *AL_KINDS, *DIAG_KINDS)
OUTPUTS = "outputs.json"
ERROR = "error.json"
GPU_KINDS = ("train", "md", "al_explore")


class TaskFailed(XferError):
    """A task's worker failed; the message is the one-line reason."""


# ---------------------------------------------------------------- work (inside the worker)


def work_dataset(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """Build (resumably, in ``<task>/build``) or adopt the training-set dataset."""
    from xfer.data.store import Dataset

    if spec["source"] == "path":
        dataset = Dataset.open(spec["path"])
        stale = dataset.verify()
        if stale:
            raise InputError(f"dataset {spec['path']} changed since its manifest: {stale}")
        return {"dataset": str(Path(spec["path"]).resolve()), "frames": _frames(dataset)}
    from xfer.data.build import build_dataset
    from xfer.data.config import BuildConfig

    config = BuildConfig.model_validate(spec["config"])
    dataset = build_dataset(config, task_dir / "build", progress=False)
    return {"dataset": "build", "frames": _frames(dataset)}


def _frames(dataset: Any) -> int:
    return int(dataset.manifest["total_frames"])


def work_recipe(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """Training and validation extxyz of one recipe (the split is the same for every arch)."""
    from xfer.data.recipes import Recipe, apply_recipe
    from xfer.data.store import Dataset, write_frames

    recipe = Recipe.model_validate(spec["recipe"])
    dataset = Dataset.open(deps["dataset"]["dataset"])
    result = apply_recipe(dataset.frames(), recipe, spec["valid_fraction"], spec["split_seed"])
    if not result.train:
        raise InputError(f"recipe {recipe.name} selects no training frames from the dataset")
    write_frames(attempt / "train.extxyz", result.train)
    valid = None
    if result.valid:
        write_frames(attempt / "valid.extxyz", result.valid)
        valid = rel(attempt / "valid.extxyz", task_dir)
    write_json(attempt / "summary.json", result.summary)
    return {
        "train": rel(attempt / "train.extxyz", task_dir),
        "valid": valid,
        "train_frames": len(result.train),
        "valid_frames": len(result.valid),
    }


def work_train(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """Train one seed of one architecture on a recipe (from an earlier model's weights when it
    depends on one, ``init``), then export it for LAMMPS."""
    from dataclasses import asdict

    from xfer.backends.base import get_backend
    from xfer.training import export_model, train

    files = deps["recipe"]
    hyper = spec["hyper"]
    if "init" in deps:  # warm start (AL init = "previous"): from the earlier model's weights
        hyper = {**hyper, **get_backend(spec["arch"]).warm_start(Path(deps["init"]["model"]))}
    [model] = train(
        spec["arch"],
        spec["recipe"],
        Path(files["train"]),
        Path(files["valid"]) if files.get("valid") else None,
        [spec["seed"]],
        hyper,
        attempt / "models",
    )
    exported, pair = export_model(model.path)
    errors = model.meta.get("validation_errors") or {}
    return {
        "model": rel(model.path, task_dir),
        "exported": rel(exported, task_dir),
        "pair": asdict(pair),
        "validation_errors": errors,
        "validation_set": model.meta.get("validation_set"),
        "note": _errors_note(errors),
    }


def _errors_note(errors: dict) -> str:
    f = errors.get("force_rmse_meV_per_A")
    return "" if f is None else f"valid F RMSE {f:.0f} meV/A"


def work_md(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """One validation run; a halted run is a result (t_stab), not a failure."""
    from xfer.md import MDSettings, run_md

    pair = pair_from_result(deps["model"]["pair"]) if "model" in deps else None
    settings = MDSettings(**spec["settings"], pair=pair, **md_run_resources())
    progress = md_progress("md", settings.n_steps, settings.timestep_fs)
    adopt_unfinished_run(task_dir, attempt / "run")
    result = run_md(settings, attempt / "run", progress=progress)
    note = f"t_stab {result['t_stab_ps']:g} ps"
    if result["halted"]:
        note = f"halted ({result['halt_reason']}) at {result['t_stab_ps']:g} ps"
    return {
        "run": rel(attempt / "run", task_dir),
        "halted": result["halted"],
        "halt_reason": result["halt_reason"],
        "t_stab_ps": result["t_stab_ps"],
        "pair_style": result["pair_style"],
        "lammps_version": result["lammps_version"],
        "note": note,
    }


def work_analyze(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """Stability plus density (NPT) or COM diffusivity (NVT) of one run."""
    from xfer.analysis.pipeline import analyze_run, write_run_outputs
    from xfer.analysis.settings import AnalysisSettings

    analysis = analyze_run(deps["md"]["run"], AnalysisSettings.model_validate(spec["settings"]))
    write_run_outputs(attempt, analysis)
    note = "stable" if analysis.stability.stable else f"unstable: {analysis.stability.reason}"
    result = {"analysis": rel(attempt / "analysis.json", task_dir), "note": note}
    if analysis.stability.halted:  # how it failed: halt.json, last frames, picture
        from xfer.analysis.triage_files import HALT_FILE, write_halt_triage

        try:
            halt = write_halt_triage(deps["md"]["run"], attempt / "halt")
        except InputError as exc:  # e.g. lost atoms: the analysis stands without a triage
            result["note"] = f"{note}; not triaged: {exc}"
        else:
            result["halt"] = rel(attempt / "halt" / HALT_FILE, task_dir)
            result["note"] = f"{note}; {halt.mode}"
    return result


WORK: dict[str, Callable[[dict, dict, Path, Path], dict]] = {
    "dataset": work_dataset,
    "recipe": work_recipe,
    "train": work_train,
    "md": work_md,
    "analyze": work_analyze,
    **AL_WORK,
    **DIAG_WORK,
}


def dependency_results(root: Path, deps: dict[str, str]) -> dict[str, dict]:
    """Results of finished upstream tasks with their relative paths made absolute."""
    store = TaskStore(root)
    out = {}
    for name, ref in deps.items():
        kind, key = ref.split("/")
        try:
            out[name] = store.outputs(kind, key)
        except KeyError:
            raise InputError(f"upstream task {ref} has not finished") from None
    return out


# ---------------------------------------------------------------- the app (around the worker)


_RUNNING: set[subprocess.Popen] = set()  # workers started by this process, still running
_STOPPING = threading.Event()


def stop_running_workers() -> None:
    """End every task worker this process runs (the campaign got Ctrl-C or SIGTERM).

    Thread-pool tasks would otherwise keep the interrupted campaign alive until each one
    finished; the tasks count as interrupted (redone on the next run), not failed.
    """
    _STOPPING.set()  # and start no more (cleared by allow_workers)
    for proc in list(_RUNNING):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the worker's own session: its children too


def allow_workers() -> None:
    """Undo :func:`stop_running_workers` for the next campaign run in this process."""
    _STOPPING.clear()


def execute(root: str, task: dict[str, Any], resources: dict[str, int] | None = None
            ) -> dict[str, Any]:
    """Run ``task`` unless it is done; return its done marker (raises TaskFailed).

    ``resources`` (ranks, threads: :class:`xfer.workflow.resources.TaskResources`) go to
    the worker process through its environment.
    """
    directory = TaskStore(Path(root)).task_dir(task["kind"], task["key"])
    if _STOPPING.is_set():
        raise TaskFailed(f"{task['label']}: interrupted before it started")
    with locked(directory):
        done = read_done(directory)
        if done is not None:
            return done
        stop_stragglers(directory)
        write_json(directory / TASK, task)
        number, attempt = next_attempt(directory)
        started, clock = now(), time.perf_counter()
        env = dict(os.environ, **{PROGRESS_ENV: str(attempt / PROGRESS)},
                   **TaskResources(**(resources or {})).environment())
        with open(attempt / "worker.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "xfer.workflow.worker", str(directory), attempt.name,
                 str(os.getpid())],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=env,
            )  # fmt: skip
            record_attempt(directory, number, proc.pid)
            _RUNNING.add(proc)
            try:
                code = proc.wait()
            finally:
                _RUNNING.discard(proc)
        if _STOPPING.is_set():  # ended by stop_running_workers: interrupted, not failed
            raise TaskFailed(f"{task['label']}: interrupted")
        if code == 0 and (attempt / OUTPUTS).is_file():
            result = json.loads((attempt / OUTPUTS).read_text())
            done = {
                "key": task["key"],
                "kind": task["kind"],
                "label": task["label"],
                "output": attempt.name,
                "attempt": number,
                "started": started,
                "finished": now(),
                "wall_s": round(time.perf_counter() - clock, 3),
                "host": os.uname().nodename,
                "batch_job": batch_job(),
                "code_version": task["code_version"],
                "note": result.pop("note", ""),
                "result": result,
            }
            write_json(directory / DONE, done)
            (directory / FAILED).unlink(missing_ok=True)
            return done
        reason = _failure_reason(attempt, code)
        write_json(
            directory / FAILED,
            {"reason": reason, "attempt": number, "log": f"{attempt.name}/worker.log"},
        )
        raise TaskFailed(f"{task['label']}: {reason}")


def batch_job() -> str | None:
    """The Slurm or PBS job this task ran in (None outside a batch job)."""
    return os.environ.get("SLURM_JOB_ID") or os.environ.get("PBS_JOBID")


def _failure_reason(attempt: Path, code: int) -> str:
    try:
        return json.loads((attempt / ERROR).read_text())["message"]
    except (OSError, ValueError, KeyError):
        tail = (attempt / "worker.log").read_text(errors="replace").strip().splitlines()[-1:]
        return f"worker exited with code {code}" + (f": {tail[0]}" if tail else "")


def run_dataset(root: str, task: dict, resources: dict | None = None, inputs=(),
                outputs=()) -> dict:
    """Parsl app body: build or adopt the dataset."""
    return execute(root, task, resources)


def run_recipe(root: str, task: dict, resources: dict | None = None, inputs=(),
               outputs=()) -> dict:
    """Parsl app body: write a recipe's training/validation files."""
    return execute(root, task, resources)


def run_train(root: str, task: dict, resources: dict | None = None, inputs=(),
              outputs=()) -> dict:
    """Parsl app body: train and export one model."""
    return execute(root, task, resources)


def run_md(root: str, task: dict, resources: dict | None = None, inputs=(),
           outputs=()) -> dict:
    """Parsl app body: one validation MD run."""
    return execute(root, task, resources)


def run_analyze(root: str, task: dict, resources: dict | None = None, inputs=(),
                outputs=()) -> dict:
    """Parsl app body: analyze one run."""
    return execute(root, task, resources)


def run_al(root: str, task: dict, resources: dict | None = None, inputs=(),
           outputs=()) -> dict:
    """Parsl app body: one active-learning task (start boxes, explore, select, label)."""
    return execute(root, task, resources)


def run_diag(root: str, task: dict, resources: dict | None = None, inputs=(),
             outputs=()) -> dict:
    """Parsl app body: one diagnostics task (user model, scans, volume scan, along)."""
    return execute(root, task, resources)


_BODIES = {
    "dataset": run_dataset,
    "recipe": run_recipe,
    "train": run_train,
    "md": run_md,
    "analyze": run_analyze,
    **dict.fromkeys(AL_KINDS, run_al),
    **dict.fromkeys(DIAG_KINDS, run_diag),
}


def app_for(kind: str, executor_labels: list[str]):
    """The Parsl python_app of ``kind``, routed to ``gpu``/``cpu`` executors if the config
    defines executors with those labels (training and MD on GPUs), else to any executor."""
    from parsl import python_app

    label = executor_label(kind, executor_labels)
    return python_app(_BODIES[kind], executors=[label] if label else "all")


def executor_label(kind: str, executor_labels: list[str]) -> str | None:
    """The executor tasks of ``kind`` go to (None: any of them)."""
    if {"gpu", "cpu"} <= set(executor_labels):
        return "gpu" if kind in GPU_KINDS else "cpu"
    return None
