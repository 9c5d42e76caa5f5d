"""Tools run by the backends (dp, mace_run_train, gap_fit) end with the run that started
them: an interrupted caller stops the tool's whole process group, and a killed caller's
tool gets SIGTERM from the kernel. Real processes: a Python caller and a shell tool that
starts a process of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# the caller: runs a shell "tool" (itself and a background child) through run_in_group,
# with SIGINT and SIGTERM raised as KeyboardInterrupt, as the xfer CLI does (installed
# explicitly: a caller started in the background inherits SIGINT ignored)
CALLER = """
import signal, sys
from pathlib import Path
from xfer.children import run_in_group

def stop(signum, frame):
    raise KeyboardInterrupt

signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
out = Path(sys.argv[1])
tool = ["sh", "-c", f"sleep 300 & echo $$ $! > {out / 'pids.tmp'}; mv {out / 'pids.tmp'} "
        f"{out / 'pids'}; wait"]
try:
    with open(out / "tool.log", "wb") as log:
        run_in_group(tool, out, {"PATH": "/usr/bin:/bin"}, log, answer=b"\\n")
except KeyboardInterrupt:
    sys.exit(130)
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    """The caller, and the pids of its tool and the tool's child once both run."""
    proc = subprocess.Popen([sys.executable, "-c", CALLER, str(tmp_path)],
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    pids = tmp_path / "pids"
    deadline = time.monotonic() + 120
    while not pids.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc, [int(p) for p in pids.read_text().split()]


def _gone(pids: list[int], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_alive(p) for p in pids)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_caller_stops_the_tool_and_its_children(tmp_path, sig):
    proc, pids = _start(tmp_path)
    assert all(_alive(p) for p in pids)
    proc.send_signal(sig)  # to the caller only: the tool is in a process group of its own
    proc.communicate(timeout=60)
    assert proc.returncode == 130  # the KeyboardInterrupt went on after the stop
    assert _gone(pids), "the tool or its child outlived the interrupted caller"


def test_a_killed_callers_tool_gets_sigterm(tmp_path):
    """Only the tool itself: a child of the tool that the tool does not end on SIGTERM
    (here the shell's ``sleep``) is the tool's to stop, so the test ends it."""
    proc, (tool, child) = _start(tmp_path)
    proc.kill()
    proc.wait()
    try:
        assert _gone([tool]), "the tool outlived its SIGKILLed caller"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
