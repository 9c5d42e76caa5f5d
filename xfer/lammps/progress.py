"""Follow a running LAMMPS simulation from another thread through its thermo.csv.

LAMMPS runs inside a ctypes call, which releases the GIL, so a watcher thread can read
the last line of ``thermo.csv`` and report the current step (progress bars, campaign logs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path


class ThermoWatcher:
    """Call ``callback(step)`` every ``interval`` seconds while the context is active."""

    def __init__(self, path: Path, callback: Callable[[int], None], interval: float = 0.5):
        self.path, self.callback, self.interval = Path(path), callback, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _last_step(self) -> int | None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(0, 2)
                fh.seek(max(0, fh.tell() - 512))
                lines = fh.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            head = line.split(",", 1)[0]
            if head.isdigit():
                return int(head)
        return None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            step = self._last_step()
            if step is not None:
                self.callback(step)

    def __enter__(self) -> ThermoWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        step = self._last_step()
        if step is not None:
            self.callback(step)
