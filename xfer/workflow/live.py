"""What ``campaign run`` shows while tasks run: which started, how far each one is, and when.

Tasks may run on other nodes, so everything comes from their task directories: a try has
started once ``attempt.json`` names a newer try than the one there at submission, and its
progress is that try's ``progress.json`` (the contract is in :mod:`xfer.progress`).

On a terminal a live table (rich) shows every running task with its own bar, phase, counts
and time left. Without one (a log file, a batch job's output) a line is printed when a
task starts and when it ends, and every ``heartbeat_s`` seconds a heartbeat: counts of done,
running and waiting tasks, then one line per running task with the same facts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from xfer.progress import PROGRESS, read_progress
from xfer.workflow.store import ATTEMPT, Task, TaskStore

HEARTBEAT_S = 60.0


def duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``2h07m``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def describe(progress: dict[str, Any] | None) -> str:
    """One phrase for a progress record: ``md 400/2000 steps (0.2/1 ps), ~1m05s left``."""
    if not progress or not progress.get("phase"):
        return "starting"
    text = str(progress["phase"])
    done, total = progress.get("done"), progress.get("total")
    if done is not None:
        text += f" {done}/{total}" if total is not None else f" {done}"
        if progress.get("unit"):
            text += f" {progress['unit']}"
    if progress.get("detail"):
        text += f" ({progress['detail']})"
    if progress.get("eta_s") is not None:
        text += f", ~{duration(progress['eta_s'])} left"
    return text


@dataclass
class Running:
    """A started try as the driver sees it."""

    task: Task
    attempt: int
    host: str
    seen: float = field(default_factory=time.monotonic)


def latest_attempt(store: TaskStore, task: Task) -> tuple[int, str]:
    """(number, host) of the task's latest try from its ``attempt.json``; (0, "") if none."""
    try:
        info = json.loads((store.dir_of(task) / ATTEMPT).read_text())
        return int(info["attempt"]), str(info.get("host", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return 0, ""


def attempt_progress(store: TaskStore, task: Task, attempt: int) -> dict[str, Any] | None:
    """The progress record of try ``attempt`` of ``task``."""
    return read_progress(store.dir_of(task) / f"attempt-{attempt}" / PROGRESS)


class TaskWatch:
    """Detects started tries of submitted tasks and reads their progress files."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store
        self.waiting: dict[str, tuple[Task, int]] = {}
        self.running: dict[str, Running] = {}

    def add(self, task: Task) -> None:
        """Follow ``task``; call before submitting it (its try may start at once)."""
        self.waiting[task.key] = (task, latest_attempt(self.store, task)[0])

    def poll(self) -> list[Running]:
        """Tries started since the last poll."""
        started = []
        for key, (task, before) in list(self.waiting.items()):
            number, host = latest_attempt(self.store, task)
            if number > before:
                del self.waiting[key]
                self.running[key] = run = Running(task, number, host)
                started.append(run)
        return started

    def finish(self, task: Task) -> None:
        self.waiting.pop(task.key, None)
        self.running.pop(task.key, None)

    def progress(self, run: Running) -> dict[str, Any] | None:
        return attempt_progress(self.store, run.task, run.attempt)


def start_line(run: Running) -> str:
    where = f" on {run.host}" if run.host else ""
    return f"started {escape(run.task.label)}{where} (try {run.attempt})"


class LogView:
    """Lines for a log: task starts, task ends, a heartbeat every ``heartbeat_s`` seconds."""

    def __init__(self, console: Console, total: int, done: int, heartbeat_s: float) -> None:
        self.console, self.total, self.done = console, total, done
        self.heartbeat_s = heartbeat_s
        self.clock = time.monotonic()
        self.last_beat = self.clock

    def __enter__(self) -> LogView:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def print(self, line: str) -> None:
        self.console.print(line, highlight=False, soft_wrap=True)

    def started(self, run: Running) -> None:
        self.print(start_line(run))

    def finished(self, line: str) -> None:
        self.done += 1
        self.print(line)

    def update(self, watch: TaskWatch) -> None:
        now = time.monotonic()
        if now - self.last_beat < self.heartbeat_s:
            return
        self.last_beat = now
        self.print(
            f"heartbeat {duration(now - self.clock)}: {self.done}/{self.total} done, "
            f"{len(watch.running)} running, {len(watch.waiting)} waiting"
        )
        for run in watch.running.values():
            self.print(
                f"  {escape(run.task.label)}: {escape(describe(watch.progress(run)))}; "
                f"running {duration(now - run.seen)}"
            )


class LiveView:
    """A live table on a terminal: the campaign's bar, then one row per running task."""

    def __init__(self, console: Console, total: int, done: int) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.total, self.done = total, done
        self.bar = self.progress.add_task("tasks", total=total, completed=done, status="")
        self.rows: dict[str, Any] = {}

    def __enter__(self) -> LiveView:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def started(self, run: Running) -> None:
        self.progress.console.print(start_line(run), highlight=False, soft_wrap=True)
        self.rows[run.task.key] = self.progress.add_task(
            f"  {escape(run.task.label)}", total=None, status="starting"
        )

    def finished(self, line: str) -> None:
        self.progress.console.print(line, highlight=False, soft_wrap=True)
        self.done += 1
        self.progress.advance(self.bar)

    def update(self, watch: TaskWatch) -> None:
        for key in [k for k in self.rows if k not in watch.running]:
            self.progress.remove_task(self.rows.pop(key))
        for key, run in watch.running.items():
            record = watch.progress(run) or {}
            self.progress.update(
                self.rows[key],
                total=record.get("total"),
                completed=record.get("done") or 0,
                status=escape(describe(record)),
            )
        self.progress.update(
            self.bar,
            status=f"{self.done}/{self.total} done, {len(watch.running)} running, "
            f"{len(watch.waiting)} waiting",
        )
