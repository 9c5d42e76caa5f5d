"""Content-addressed task directories: resume, provenance and task states.

A task lives in ``<out>/tasks/<kind>/<key>/`` where ``key`` hashes its kind, inputs, the
keys of the tasks it depends on and :data:`CODE_VERSION` (a Merkle DAG: changing a
dataset changes every key downstream). Inside:

* ``task.json``   the inputs (written before any work),
* ``attempt-<n>/`` the outputs of the n-th try (a fresh directory per try, so a killed
  try's leftovers, or a straggling process of it, never mix with a new one),
* ``done.json``   written atomically and last: the task is finished only when it exists;
  it names the attempt directory that holds the outputs,
* ``failed.json`` the reason of the last failed try (removed when a later try succeeds),
* ``lock``        ``flock``-ed while a try runs: a live lock means *running*, and a
  restarted campaign waits for it instead of running the same task twice.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xfer import __version__
from xfer.atomic import write_json

CODE_VERSION = f"xfer-{__version__}/tasks-1"  # bump the suffix when a task's meaning changes
DONE = "done.json"
FAILED = "failed.json"
TASK = "task.json"
LOCK = "lock"
ATTEMPT = "attempt.json"


@dataclass(frozen=True)
class Task:
    """One unit of work: ``kind`` plus JSON inputs plus named upstream task keys."""

    kind: str
    label: str
    spec: dict[str, Any]
    deps: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        body = {"kind": self.kind, "spec": self.spec, "deps": self.deps, "code": CODE_VERSION}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "key": self.key,
            "spec": self.spec,
            "deps": self.deps,
            "code_version": CODE_VERSION,
        }


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")


class TaskStore:
    """The ``tasks/`` tree of one campaign results directory."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)

    def task_dir(self, kind: str, key: str) -> Path:
        return self.out / "tasks" / kind / key

    def dir_of(self, task: Task) -> Path:
        return self.task_dir(task.kind, task.key)

    def done(self, task: Task) -> dict[str, Any] | None:
        """The done marker of ``task`` if it finished (and its outputs are there)."""
        return read_done(self.dir_of(task))

    def outputs(self, kind: str, key: str) -> dict[str, Any]:
        """Result of a finished task with absolute paths; KeyError if unfinished."""
        directory = self.task_dir(kind, key)
        done = read_done(directory)
        if done is None:
            raise KeyError(f"task {kind}/{key} has not finished")
        return absolute(done["result"], directory)

    def state(self, task: Task) -> tuple[str, str]:
        """(``done``|``running``|``failed``|``interrupted``|``pending``, detail)."""
        directory = self.dir_of(task)
        done = read_done(directory)
        if done is not None:
            return "done", done.get("note", "")
        if not directory.exists():
            return "pending", ""
        if is_locked(directory / LOCK):
            return "running", ""
        failed = directory / FAILED
        if failed.exists():
            try:
                return "failed", json.loads(failed.read_text()).get("reason", "")
            except ValueError:
                return "failed", "unreadable failed.json"
        if any(directory.glob("attempt-*")):
            return "interrupted", "will be redone"
        return "pending", ""


PATH_KEYS = (
    "dataset", "train", "valid", "model", "exported", "run", "analysis", "halt", "starts",
    "selected", "picks", "scans", "table", "forces", "summary",
)  # fmt: skip


def absolute(result: dict[str, Any], task_dir: Path) -> dict[str, Any]:
    """``result`` with its path entries (relative to the task directory) made absolute."""
    out = dict(result)
    for k in PATH_KEYS:
        if isinstance(out.get(k), str):
            out[k] = str((Path(task_dir) / out[k]).resolve())
    return out


def read_done(directory: Path) -> dict[str, Any] | None:
    """Parsed ``done.json`` whose output directory exists, else None."""
    path = Path(directory) / DONE
    try:
        done = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(done, dict) or not (Path(directory) / str(done.get("output"))).is_dir():
        return None
    return done


def is_locked(path: Path) -> bool:
    """True if another process holds ``path``'s flock."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the task's lock (waits for a straggling try of an earlier campaign process)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def next_attempt(directory: Path) -> tuple[int, Path]:
    """Number and fresh directory of the next try."""
    numbers = [int(p.name.split("-")[1]) for p in directory.glob("attempt-*") if p.is_dir()]
    n = max(numbers, default=0) + 1
    path = directory / f"attempt-{n}"
    path.mkdir()
    return n, path


def stop_stragglers(directory: Path) -> None:
    """Kill the process group of an earlier try whose owner died (e.g. a SIGKILLed campaign).

    Only reached with the task lock held, so that try is not running under a live owner;
    its workers were started in their own session whose id is recorded in attempt.json.
    """
    try:
        info = json.loads((directory / ATTEMPT).read_text())
    except (OSError, ValueError):
        return
    pgid = info.get("pgid")
    if not isinstance(pgid, int) or pgid <= 1 or info.get("host") != os.uname().nodename:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def record_attempt(directory: Path, number: int, pgid: int | None) -> None:
    write_json(
        directory / ATTEMPT,
        {"attempt": number, "pgid": pgid, "host": os.uname().nodename, "started": now()},
    )
