"""What the work functions of tasks share: relative paths, pair lines from results, MD
progress and adopting a killed try's checkpointed run."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xfer.lammps.pair import PairSpec
from xfer.progress import report


def rel(path: Path, task_dir: Path) -> str:
    """``path`` relative to the task directory (results hold relative paths)."""
    return os.path.relpath(path, task_dir)


def pair_from_result(raw: dict[str, Any]) -> PairSpec:
    """The :class:`PairSpec` a train task stored as JSON (tuples came back as lists)."""
    fields = dict(raw)
    fields["elements"] = tuple(fields["elements"])
    fields["extra_commands"] = tuple(fields.get("extra_commands", ()))
    return PairSpec(**fields)


def md_progress(phase: str, steps: int, timestep_fs: float) -> Callable[[int], None]:
    """A ``run_md`` progress callback reporting steps and simulated ps of ``steps``."""
    total_ps = steps * timestep_fs / 1000

    def progress(step: int) -> None:
        report(phase, step, steps, "steps", f"{step * timestep_fs / 1000:.4g}/{total_ps:.4g} ps")

    return progress


def adopt_unfinished_run(task_dir: Path, run: Path) -> None:
    """Move the newest checkpointed run of an earlier, killed try into this try's ``run``.

    Every try has its own attempt directory; without this a scheduler's kill of an MD task
    would restart it from step 0. The earlier try's workers are stopped (its lock is ours).
    """
    from xfer.lammps.checkpoint import STATE

    earlier = sorted(
        (p.parent for p in task_dir.glob(f"attempt-*/run/{STATE}") if p.parent != run),
        key=lambda p: int(p.parent.name.split("-")[1]),
    )
    if earlier and not run.exists():
        os.replace(earlier[-1], run)
