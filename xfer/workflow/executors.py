"""Parsl executors shared by the bundled execution profiles (local, slurm-cpu, slurm-gpu, pbs).

Every profile runs HighThroughputExecutors whose interchange and worker pools are started
with this interpreter's own Parsl scripts (absolute paths next to ``sys.executable``), so
neither the driver nor a batch job needs xfer's environment on PATH; on a cluster that
environment must sit at the same path on every node (a shared file system).

Site settings of the batch profiles come from ``XFER_<SCHEDULER>_*`` environment variables
(:func:`site_settings`), so one profile file serves every site.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.executors.high_throughput.executor import DEFAULT_LAUNCH_CMD
from parsl.providers.base import ExecutionProvider

BIN = Path(sys.executable).parent

# settings of a batch profile; each can be set as XFER_<SCHEDULER>_<KEY>
SITE_DEFAULTS: dict[str, Any] = {
    "gpu_partition": "gpu",
    "cpu_partition": "cpu",
    "account": None,
    "gpus_per_node": 4,
    "cores_per_node": 32,
    "max_gpu_nodes": 8,
    "max_cpu_nodes": 2,
    "walltime": "24:00:00",
}


def site_settings(scheduler: str, worker_init: str = "") -> dict[str, Any]:
    """:data:`SITE_DEFAULTS`, each overridden by its variable ``XFER_<SCHEDULER>_<KEY>``,
    plus ``worker_init`` (shell lines run before each worker pool starts: modules,
    environment variables) from ``XFER_WORKER_INIT`` or the profile's default."""
    prefix = f"XFER_{scheduler.upper()}_"
    site: dict[str, Any] = {}
    for key, default in SITE_DEFAULTS.items():
        raw = os.environ.get(prefix + key.upper())
        site[key] = default if raw is None else (int(raw) if isinstance(default, int) else raw)
    site["worker_init"] = os.environ.get("XFER_WORKER_INIT", worker_init)
    return site


def driver_address() -> str:
    """Where worker pools reach the interchange: ``XFER_PARSL_ADDRESS`` or this host's name."""
    from parsl.addresses import address_by_hostname

    return os.environ.get("XFER_PARSL_ADDRESS") or address_by_hostname()


def htex(
    label: str,
    provider: ExecutionProvider,
    run_dir: Path,
    workers: int,
    address: str,
    gpus: int = 0,
    cores_per_worker: float = 1.0,
    heartbeat_s: int = 30,
) -> HighThroughputExecutor:
    """A HighThroughputExecutor with ``workers`` workers per block (one per GPU if ``gpus``:
    Parsl pins each worker to one device through CUDA_VISIBLE_DEVICES)."""
    return HighThroughputExecutor(
        label=label,
        address=address,
        interchange_launch_cmd=[sys.executable, str(BIN / "interchange.py")],
        launch_cmd=DEFAULT_LAUNCH_CMD.replace(
            "process_worker_pool.py", f"{sys.executable} {BIN / 'process_worker_pool.py'}", 1
        ),
        available_accelerators=gpus or (),
        max_workers_per_node=workers,
        cores_per_worker=cores_per_worker,
        worker_logdir_root=str(run_dir),
        heartbeat_period=heartbeat_s,
        heartbeat_threshold=4 * heartbeat_s,
        provider=provider,
    )


def slurm_executor(
    label: str, site: dict[str, Any], run_dir: Path, gpus: int = 0
) -> HighThroughputExecutor:
    """Workers on whole Slurm nodes of the site's GPU (``gpus`` > 0) or CPU partition,
    one block per node, up to the site's node limit."""
    from parsl.providers import SlurmProvider

    cores = site["cores_per_node"]
    provider = SlurmProvider(
        partition=site["gpu_partition" if gpus else "cpu_partition"],
        account=site["account"],
        nodes_per_block=1,
        gpus_per_node=gpus or None,
        init_blocks=0,
        min_blocks=0,
        max_blocks=site["max_gpu_nodes" if gpus else "max_cpu_nodes"],
        walltime=site["walltime"],
        worker_init=site["worker_init"],
        exclusive=True,
    )
    return htex(
        label,
        provider,
        run_dir,
        workers=gpus or cores,
        address=driver_address(),
        gpus=gpus,
        cores_per_worker=max(1, cores // gpus) if gpus else 1,
    )


def batch_config(run_dir: Path, executors: list[HighThroughputExecutor]) -> Config:
    """The Config of a batch profile: a task that lost its node is tried once more."""
    return Config(executors=executors, run_dir=str(run_dir), retries=1, usage_tracking=0)
