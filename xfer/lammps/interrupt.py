"""Let Ctrl-C and SIGTERM stop a LAMMPS run that is inside one long library call.

Python runs signal handlers only between bytecodes, so a ``KeyboardInterrupt`` would wait
for ``lmp.file()`` to return, i.e. for the whole run. While the context is active, the
signal's wake-up byte (``signal.set_wakeup_fd``) is read by a thread that asks LAMMPS for a
soft stop (``force_timeout``); the call returns at the next step and the pending handler
then raises in the main thread as usual. Outside the main thread this does nothing.
"""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOPPING = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signal(stop: Callable[[], None]) -> Iterator[None]:
    """Call ``stop()`` from a helper thread when SIGINT or SIGTERM arrives in the context."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wake_r, wake_w = os.pipe()
    quit_r, quit_w = os.pipe()
    os.set_blocking(wake_w, False)
    previous = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)

    def watch() -> None:
        while True:
            ready, _, _ = select.select([wake_r, quit_r], [], [])
            if quit_r in ready:
                return
            if any(b in STOPPING for b in os.read(wake_r, 64)):
                stop()

    thread = threading.Thread(target=watch, name="xfer-lammps-stop", daemon=True)
    thread.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        os.write(quit_w, b"x")
        thread.join()
        for fd in (wake_r, wake_w, quit_r, quit_w):
            os.close(fd)
