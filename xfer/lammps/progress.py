"""Follow a running LAMMPS simulation from another thread through its thermo.csv.

LAMMPS runs inside a ctypes call, which releases the GIL, so a watcher thread can read
the last line of ``thermo.csv`` and report the current step (progress bars, campaign logs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from xfer.progress import TailWatcher


def last_thermo_step(lines: list[str]) -> int | None:
    """The step of the last data row of a thermo.csv tail (rows start with the step)."""
    for line in reversed(lines):
        head = line.split(",", 1)[0]
        if head.isdigit():
            return int(head)
    return None


class ThermoWatcher(TailWatcher):
    """Call ``callback(step)`` every ``interval`` seconds while the context is active."""

    def __init__(self, path: Path, callback: Callable[[int], None], interval: float = 0.5):
        super().__init__(path, last_thermo_step, callback, interval)
