"""Execution profile ``local``: a Parsl HighThroughputExecutor on this machine's cores.

One worker per CPU core this process may use (``workers`` or ``XFER_PARSL_WORKERS``
overrides it); every task runs single-threaded in its own worker process, so the number
of workers is the number of tasks running at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from parsl.config import Config
from parsl.providers import LocalProvider

from xfer.workflow.executors import htex


def make_config(run_dir: Path, workers: int | None = None) -> Config:
    """HTEX with ``workers`` local workers (default: the usable CPU cores)."""
    n = workers or int(os.environ.get("XFER_PARSL_WORKERS", 0)) or len(os.sched_getaffinity(0))
    provider = LocalProvider(init_blocks=1, min_blocks=1, max_blocks=1)
    executor = htex("local", provider, run_dir, workers=n, address="127.0.0.1", heartbeat_s=5)
    return Config(
        executors=[executor],
        run_dir=str(run_dir),
        strategy="none",
        usage_tracking=0,
        initialize_logging=True,
    )
