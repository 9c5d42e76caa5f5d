"""Execution profile ``pbs``: a PBS Pro cluster with GPU nodes (same layout as slurm-gpu).

Executors ``gpu`` (training and MD, one worker per GPU) and ``cpu`` (labelling, recipes,
analysis). A site must provide what xfer/workflow/profiles/slurm-gpu.py lists (shared file system,
xfer's Python environment with CUDA torch, a Kokkos/CUDA LAMMPS with the ML pair styles);
edit SITE or set the XFER_PBS_* variables.
"""

from __future__ import annotations

import os
from pathlib import Path

from parsl.addresses import address_by_hostname
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import PBSProProvider

SITE = {
    "gpu_queue": os.environ.get("XFER_PBS_GPU_QUEUE", "gpu"),
    "cpu_queue": os.environ.get("XFER_PBS_CPU_QUEUE", "workq"),
    "account": os.environ.get("XFER_PBS_ACCOUNT"),
    "gpus_per_node": int(os.environ.get("XFER_PBS_GPUS_PER_NODE", "4")),
    "cores_per_node": int(os.environ.get("XFER_PBS_CORES_PER_NODE", "32")),
    "max_gpu_nodes": int(os.environ.get("XFER_PBS_MAX_GPU_NODES", "8")),
    "max_cpu_nodes": int(os.environ.get("XFER_PBS_MAX_CPU_NODES", "2")),
    "walltime": os.environ.get("XFER_PBS_WALLTIME", "24:00:00"),
    "worker_init": os.environ.get(
        "XFER_WORKER_INIT",
        "module load cuda\n"
        "source $HOME/xfer/.venv/bin/activate\n"
        "export LAMMPS_PLUGIN_PATH=$HOME/xfer/plugins/lib:$LAMMPS_PLUGIN_PATH\n"
        "export OMP_NUM_THREADS=1",
    ),
}


def _provider(queue: str, cores: int, gpus: int, max_nodes: int) -> PBSProProvider:
    select = f"ngpus={gpus}" if gpus else ""
    return PBSProProvider(
        account=SITE["account"],
        queue=queue,
        cpus_per_node=cores,
        select_options=select,
        nodes_per_block=1,
        init_blocks=0,
        min_blocks=0,
        max_blocks=max_nodes,
        walltime=SITE["walltime"],
        worker_init=SITE["worker_init"],
    )


def make_config(run_dir: Path, workers: int | None = None) -> Config:
    """GPU executor for train/md, CPU executor for the rest (``workers`` is ignored)."""
    gpus, cores = SITE["gpus_per_node"], SITE["cores_per_node"]
    gpu = HighThroughputExecutor(
        label="gpu",
        address=address_by_hostname(),
        available_accelerators=gpus,
        max_workers_per_node=gpus,
        cores_per_worker=max(1, cores // gpus),
        worker_logdir_root=str(run_dir),
        provider=_provider(SITE["gpu_queue"], cores, gpus, SITE["max_gpu_nodes"]),
    )
    cpu = HighThroughputExecutor(
        label="cpu",
        address=address_by_hostname(),
        max_workers_per_node=cores,
        worker_logdir_root=str(run_dir),
        provider=_provider(SITE["cpu_queue"], cores, 0, SITE["max_cpu_nodes"]),
    )
    return Config(executors=[gpu, cpu], run_dir=str(run_dir), retries=1, usage_tracking=0)
