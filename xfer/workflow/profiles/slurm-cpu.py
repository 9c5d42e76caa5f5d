"""Execution profile ``slurm-cpu``: a Slurm cluster's CPU nodes run every task.

One HighThroughputExecutor ``cpu`` whose worker pools Slurm starts (whole nodes, one block
per node, one single-threaded worker per core); labelling, training, MD and analysis all
run there. The same code and site settings as ``slurm-gpu`` (see its docstring for what a
site must provide, less the GPUs): ``XFER_SLURM_CPU_PARTITION``, ``XFER_SLURM_ACCOUNT``,
``XFER_SLURM_CORES_PER_NODE``, ``XFER_SLURM_MAX_CPU_NODES``, ``XFER_SLURM_WALLTIME``,
``XFER_WORKER_INIT``. This is the profile xfer's tests run on a real one-node Slurm cluster
(tests/test_slurm_campaign.py).
"""

from __future__ import annotations

from pathlib import Path

from parsl.config import Config

from xfer.workflow.executors import batch_config, site_settings, slurm_executor


def make_config(run_dir: Path, workers: int | None = None) -> Config:
    """CPU-partition executor for every task (``workers`` is ignored)."""
    site = site_settings("slurm")
    return batch_config(run_dir, [slurm_executor("cpu", site, run_dir)])
