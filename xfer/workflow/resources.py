"""Cores per campaign task: the MPI ranks and threads each task kind gets from the profile.

An execution profile file may define ``TASK_RESOURCES``, e.g.
``{"md": {"ranks": 4, "threads": 1}, "train": {"threads": 8}}``. A kind it leaves out runs
on one rank with the cores Parsl reserves per worker of the executor it is routed to
(``cores_per_worker`` of a HighThroughputExecutor, e.g. cores per GPU in ``slurm-gpu``;
1 for a thread pool). The task's worker process gets them as ``XFER_THREADS`` (torch,
OpenMP and deepmd threads per rank) and ``XFER_TASK_RANKS`` (MPI ranks of the LAMMPS run
of an ``md`` or ``al_explore`` task, :func:`md_run_resources`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from xfer.errors import InputError
from xfer.runtime import THREADS_ENV, default_threads

RANKS_ENV = "XFER_TASK_RANKS"


@dataclass(frozen=True)
class TaskResources:
    """What one task of a kind may use: ``ranks`` MPI ranks of ``threads`` threads each."""

    ranks: int = 1
    threads: int = 1

    def environment(self) -> dict[str, str]:
        """Variables that hand these resources to the task's worker process."""
        return {RANKS_ENV: str(self.ranks), THREADS_ENV: str(self.threads)}

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def task_ranks() -> int:
    """MPI ranks this task's worker was given (1 outside a campaign)."""
    return max(1, int(os.environ.get(RANKS_ENV, "1") or 1))


def md_run_resources() -> dict[str, int]:
    """``nprocs`` and ``threads`` of the LAMMPS run of this task's worker (an ``md`` or an
    ``al_explore`` task): the ranks it was given, each with its threads."""
    ranks = task_ranks()
    return {"nprocs": ranks, "threads": default_threads(ranks)}


def resources_for(kind: str, declared: dict[str, Any], executor: Any | None) -> TaskResources:
    """``declared[kind]`` (a profile's TASK_RESOURCES) over the executor's cores per worker."""
    cores = getattr(executor, "cores_per_worker", 1) or 1
    default = TaskResources(threads=max(1, int(cores)))
    entry = declared.get(kind)
    if entry is None:
        return default
    unknown = set(entry) - {"ranks", "threads"}
    values = {**default.as_dict(), **entry}
    if unknown or not all(isinstance(v, int) and v >= 1 for v in values.values()):
        raise InputError(
            f"TASK_RESOURCES[{kind!r}] must map ranks/threads to integers >= 1, got {entry!r}"
        )
    return TaskResources(**values)
