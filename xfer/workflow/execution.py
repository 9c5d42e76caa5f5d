"""Execution profiles: Parsl configurations picked by name or by file.

A name (``local``, ``local-threads``, ``slurm-gpu``, ``pbs``) means
``xfer/workflow/profiles/<name>.py``, package data found with :mod:`importlib.resources`
(so an installed xfer has them); anything else is a path to the
user's own Python file. Either file defines ``make_config(run_dir) -> parsl.config.Config``
(``run_dir`` is where Parsl keeps its logs, inside the campaign's results directory), and
may define ``TASK_RESOURCES`` (ranks and threads per task kind, see
:mod:`xfer.workflow.resources`).
"""

from __future__ import annotations

import importlib.util
from importlib.resources import files
from pathlib import Path
from typing import Any

from xfer.errors import InputError

CONFIG_DIR = Path(str(files("xfer.workflow").joinpath("profiles")))


def profile_names() -> list[str]:
    """Names of the bundled execution profiles."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.py") if not p.name.startswith("_"))


def profile_path(name_or_path: str) -> Path:
    """The config file of a profile name or path."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix == ".py" or "/" in name_or_path:
        if not candidate.is_file():
            raise InputError(f"parsl config file {candidate} does not exist")
        return candidate.resolve()
    bundled = CONFIG_DIR / f"{name_or_path}.py"
    if not bundled.is_file():
        raise InputError(
            f"unknown execution profile {name_or_path!r}; allowed: "
            f"{', '.join(profile_names())} or a path to a Python file defining make_config"
        )
    return bundled


def load_profile(name_or_path: str, run_dir: Path, workers: int | None = None):
    """The ``parsl.config.Config`` of the profile's ``make_config(run_dir[, workers])``."""
    path, module = _module(name_or_path)
    make = getattr(module, "make_config", None)
    if make is None:
        raise InputError(f"parsl config {path} defines no make_config(run_dir)")
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    return make(Path(run_dir)) if workers is None else make(Path(run_dir), workers=workers)


def declared_resources(name_or_path: str) -> dict[str, Any]:
    """The profile's ``TASK_RESOURCES`` (kind -> ranks/threads; empty if it has none)."""
    path, module = _module(name_or_path)
    declared = getattr(module, "TASK_RESOURCES", {})
    if not isinstance(declared, dict):
        raise InputError(f"TASK_RESOURCES in {path} must be a dict of task kind -> resources")
    return declared


def _module(name_or_path: str) -> tuple[Path, Any]:
    """The profile file and its executed module."""
    path = profile_path(name_or_path)
    spec = importlib.util.spec_from_file_location(f"xfer_parsl_profile_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise InputError(
            f"parsl config {path} failed to load: {type(exc).__name__}: {exc}"
        ) from None
    return path, module
