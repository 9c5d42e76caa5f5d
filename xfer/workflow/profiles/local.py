"""Execution profile ``local``: a Parsl HighThroughputExecutor on this machine's cores.

One worker per CPU core this process may use (``workers`` or ``XFER_PARSL_WORKERS``
overrides it); every task runs single-threaded in its own worker process, so the number
of workers is the number of tasks running at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.executors.high_throughput.executor import DEFAULT_LAUNCH_CMD
from parsl.providers import LocalProvider

# Parsl's helper scripts sit next to this interpreter, which need not be on PATH
# (e.g. .venv/bin/xfer run without activating the environment).
BIN = Path(sys.executable).parent


def make_config(run_dir: Path, workers: int | None = None) -> Config:
    """HTEX with ``workers`` local workers (default: the usable CPU cores)."""
    n = workers or int(os.environ.get("XFER_PARSL_WORKERS", 0)) or len(os.sched_getaffinity(0))
    executor = HighThroughputExecutor(
        label="local",
        address="127.0.0.1",
        interchange_launch_cmd=[sys.executable, str(BIN / "interchange.py")],
        launch_cmd=DEFAULT_LAUNCH_CMD.replace(
            "process_worker_pool.py", f"{sys.executable} {BIN / 'process_worker_pool.py'}", 1
        ),
        max_workers_per_node=n,
        cores_per_worker=1,
        worker_logdir_root=str(run_dir),
        heartbeat_period=5,
        heartbeat_threshold=30,
        provider=LocalProvider(init_blocks=1, min_blocks=1, max_blocks=1),
    )
    return Config(
        executors=[executor],
        run_dir=str(run_dir),
        strategy="none",
        usage_tracking=0,
        initialize_logging=True,
    )
