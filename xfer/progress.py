"""Progress of a running task, reported through a file so a driver on another node sees it.

The contract: a campaign task's try writes ``<task>/attempt-<n>/progress.json`` (its path is
in ``XFER_PROGRESS_FILE``, set by the campaign for the try's worker process), replaced
atomically, at most once per :data:`MIN_INTERVAL_S`::

    {"phase": "label opls",     what the task does now (labelling a group, train, md, ...)
     "done": 12, "total": 40,   work units done / to do in this phase (null if unknown)
     "unit": "frames",          frames, epochs, steps, ...
     "detail": "0.20/1 ps",     more facts of the phase, shown as they are
     "elapsed_s": 61.2,         since the try started
     "eta_s": 180.0,            estimate of this phase's time left (null until known)
     "updated": "2026-12-01T10:00:00+00:00"}

Library code calls :func:`report` (a no-op outside a campaign task, so ``xfer md`` and
friends are unaffected); :class:`TailWatcher` follows a log another process writes (LAMMPS'
thermo.csv, a trainer's log) and turns its last lines into reports. The driver reads the
file with :func:`read_progress`. The time estimate is the writer's: rate since the phase
began, so clocks of different nodes never meet.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xfer.atomic import write_json

PROGRESS = "progress.json"
PROGRESS_ENV = "XFER_PROGRESS_FILE"
MIN_INTERVAL_S = 1.0

_clock = time.monotonic
_lock = threading.Lock()
_started = _clock()
_phase: dict[str, Any] = {"name": None, "t0": 0.0, "done0": None, "written": 0.0}


def report(
    phase: str,
    done: int | None = None,
    total: int | None = None,
    unit: str = "",
    detail: str = "",
) -> None:
    """Record that the task is in ``phase`` with ``done`` of ``total`` ``unit``s finished."""
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return
    now = _clock()
    with _lock:
        counting = _phase["done0"] is None and done is not None
        if _phase["name"] != phase or counting:  # a new phase (or its first count): rate from here
            _phase.update(name=phase, t0=now, done0=done, written=0.0)
        elif now - _phase["written"] < MIN_INTERVAL_S and done != total:
            return
        _phase["written"] = now
        record = {
            "phase": phase,
            "done": done,
            "total": total,
            "unit": unit,
            "detail": detail,
            "elapsed_s": round(now - _started, 1),
            "eta_s": _eta(done, total, now),
            "updated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        try:
            write_json(Path(path), record)
        except OSError:  # progress is a courtesy: never fail the task over it
            pass


def _eta(done: int | None, total: int | None, now: float) -> float | None:
    done0, seconds = _phase["done0"], now - _phase["t0"]
    if done is None or total is None or done0 is None or done <= done0 or seconds <= 0:
        return None
    return round((total - done) * seconds / (done - done0), 1)


def read_progress(path: Path) -> dict[str, Any] | None:
    """The progress record at ``path`` (None if absent or unreadable mid-replace)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def tail_lines(path: Path, size: int = 4096) -> list[str]:
    """The last complete-looking lines of a file another process is writing."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - size))
            return fh.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return []


class TailWatcher:
    """While the context is active, every ``interval`` s: ``callback(parse(last lines))``
    when ``parse`` finds something; once more on exit."""

    def __init__(
        self,
        path: Path,
        parse: Callable[[list[str]], Any],
        callback: Callable[[Any], None],
        interval: float = 0.5,
    ) -> None:
        self.path, self.parse, self.callback, self.interval = Path(path), parse, callback, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _poll(self) -> None:
        value = self.parse(tail_lines(self.path))
        if value is not None:
            self.callback(value)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._poll()

    def __enter__(self) -> TailWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()
