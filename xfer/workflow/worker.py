"""Worker process of one task try: ``python -m xfer.workflow.worker TASK_DIR ATTEMPT PARENT_PID``.

Runs with the threads its task kind gets from the execution profile (``XFER_THREADS``, see
:mod:`xfer.workflow.resources`).

Dies with its parent (Linux ``PR_SET_PDEATHSIG``), so a SIGKILLed campaign leaves no
worker writing into a task directory. Reports its progress to ``XFER_PROGRESS_FILE``
(``<attempt>/progress.json``, see :mod:`xfer.progress`). Writes ``<attempt>/outputs.json``
on success and ``<attempt>/error.json`` (one-line message plus traceback) on failure.

A task with an upstream result marked ``stopped`` (an active-learning loop whose gate met
its targets, :mod:`xfer.workflow.al_tasks`) does no work: its result passes the mark on,
so the rest of that loop finishes at once and a restarted campaign finds it done.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import xfer  # noqa: F401  (runtime set-up: MPI preload, plugin path, one thread)
from xfer.atomic import write_json
from xfer.children import die_with_parent
from xfer.errors import XferError
from xfer.progress import report
from xfer.runtime import THREADS_ENV, default_threads, set_threads
from xfer.workflow.store import TASK
from xfer.workflow.tasks import ERROR, OUTPUTS, WORK, dependency_results


def main(argv: list[str]) -> int:
    task_dir, attempt_name, parent = Path(argv[0]), argv[1], int(argv[2])
    die_with_parent(parent)
    attempt = task_dir / attempt_name
    if os.environ.get(THREADS_ENV):  # the cores the execution profile gives this task
        set_threads(default_threads())
    try:
        task = json.loads((task_dir / TASK).read_text())
        report(task["kind"], detail="setting up")  # until the work reports its phases
        root = task_dir.parents[2]
        deps = dependency_results(root, task["deps"])
        stopped = next((r["stopped"] for r in deps.values() if r.get("stopped")), None)
        if stopped is not None:  # downstream of an AL loop's stop: nothing left to do
            result = {"stopped": stopped, "note": "not needed: the loop stopped after "
                      f"generation {stopped['generation']} ({stopped['reason']})"}  # fmt: skip
        else:
            result = WORK[task["kind"]](task["spec"], deps, attempt, task_dir)
    except XferError as exc:
        write_json(attempt / ERROR, {"message": str(exc), "traceback": traceback.format_exc()})
        return 3
    except Exception as exc:  # a bug or a library failure: keep the whole traceback
        message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        write_json(attempt / ERROR, {"message": message, "traceback": traceback.format_exc()})
        traceback.print_exc()
        return 1
    write_json(attempt / OUTPUTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
