"""Child processes that end with the run that started them, and signals held off briefly.

A killed run (Ctrl-C, SIGTERM, even SIGKILL) must leave no child computing and writing into
its directories: a restarted run would race it, and a training would hold the cores.

* :func:`die_with_parent`: first thing in a Python child (a worker pool's process), the
  kernel kills it when its parent dies (Linux ``PR_SET_PDEATHSIG``).
* :func:`end_with_parent`: the same as a ``preexec_fn`` for any other child (``mpiexec``,
  ``dp``, ``gap_fit``).
* :func:`run_in_group`: run a tool to its end in a process group of its own; Ctrl-C,
  SIGTERM or any error in the caller ends that whole group before it goes on.
* :func:`held_signals`: Ctrl-C and SIGTERM wait until a short critical section (one log
  append and its bookkeeping) is over.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1
STOPPING = (signal.SIGINT, signal.SIGTERM)
POLL_S = 0.2  # how often a waiting parent looks at its child (and lets signals in)
GRACE_S = 10.0  # SIGTERM to SIGKILL when a child group is stopped


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> None:
    """Have the kernel send ``sig`` to this process when its parent ``parent`` dies.

    The parent is the thread that started this process; exits at once if it is already
    gone. Not Linux: nothing (a restarted run then cleans up after stragglers itself).
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig))
    except (AttributeError, OSError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def end_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` giving the child ``sig`` when this process dies (SIGTERM, so that
    ``mpiexec`` passes it on to its ranks)."""
    return partial(die_with_parent, os.getpid(), sig)


def run_in_group(
    command: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    output: IO[bytes],
    answer: bytes = b"",
) -> int:
    """Run ``command`` in a process group of its own to its end; its exit code.

    ``answer`` goes to its stdin (then closed). The wait is polled, so Ctrl-C and SIGTERM
    (a KeyboardInterrupt from the CLI) reach the caller at once; then, or on any other
    exception, the whole group is stopped before the exception goes on. If the caller dies
    outright, the child gets SIGTERM from the kernel.
    """
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.PIPE,
        process_group=0,
        preexec_fn=end_with_parent(),
    )
    try:
        with contextlib.suppress(BrokenPipeError):  # it ended (or closed stdin) already
            assert proc.stdin is not None
            proc.stdin.write(answer)
            proc.stdin.close()
        while (code := proc.poll()) is None:
            time.sleep(POLL_S)
    except BaseException:
        stop_group(proc)
        raise
    return code


def stop_group(proc: subprocess.Popen, grace_s: float = GRACE_S) -> None:
    """SIGTERM ``proc``'s process group, SIGKILL it if it outlasts ``grace_s``; reap it."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait_s)
            return


@contextmanager
def held_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block; the first one that came is raised after it
    with the handlers of before (outside the main thread this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {sig: signal.signal(sig, lambda n, _frame: held.append(n)) for sig in STOPPING}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(sig, handler)
        if held:
            signal.raise_signal(held[0])
