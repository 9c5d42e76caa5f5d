"""Execution profile ``local-threads``: a Parsl ThreadPoolExecutor in the campaign process.

For tests and quick looks: no worker processes to start, so it comes up instantly. The
work of every task still runs in its own child process (see xfer.workflow.tasks), so
``workers`` threads mean ``workers`` tasks at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from parsl.config import Config
from parsl.executors import ThreadPoolExecutor


def make_config(run_dir: Path, workers: int | None = None) -> Config:
    """Thread pool with ``workers`` threads (default: ``XFER_PARSL_WORKERS`` or 2)."""
    n = workers or int(os.environ.get("XFER_PARSL_WORKERS", 0)) or 2
    return Config(
        executors=[ThreadPoolExecutor(label="threads", max_threads=n)],
        run_dir=str(run_dir),
        strategy="none",
        usage_tracking=0,
    )
