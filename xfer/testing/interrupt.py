"""Kill a running ``xfer md`` at a chosen step, as a scheduler or a user would.

Used by the checkpoint tests and benchmark: the signal is sent once ``thermo.csv`` shows
the run at or past a step, so the kill lands after a known checkpoint.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path


def last_step(thermo: Path) -> int:
    """Step of the last row of ``thermo`` (-1 while it has none)."""
    try:
        lines = thermo.read_text().strip().splitlines()
    except OSError:
        return -1
    head = lines[-1].split(",", 1)[0] if lines else ""
    return int(head) if head.isdigit() else -1


def kill_when(command: list[str], thermo: Path, step: int, sig: int = signal.SIGKILL,
              timeout: float = 600) -> int:
    """Start ``command``; send ``sig`` once ``thermo`` has a row at ``step`` or later.

    Returns the exit status; fails if the command ends first or ``timeout`` s pass.
    """
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while last_step(thermo) < step:
        if proc.poll() is not None:
            raise AssertionError(f"ended before step {step}: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"step {step} not reached in {timeout} s")
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.wait(timeout=120)
    return proc.returncode
