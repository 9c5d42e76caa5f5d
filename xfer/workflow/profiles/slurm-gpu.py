"""Execution profile ``slurm-gpu``: the paper-scale campaign on a Slurm GPU cluster.

Two Parsl executors, both HighThroughputExecutors whose workers Slurm starts:

* ``gpu``: training and validation MD, one worker per GPU (Parsl pins each worker to one
  device through CUDA_VISIBLE_DEVICES, so every train/md task has exactly one GPU);
* ``cpu``: dataset labelling, recipe files and analysis, one worker per core.

xfer routes tasks by these labels (see ``xfer.workflow.tasks.app_for``). Edit SITE below
or set the XFER_SLURM_* variables before ``xfer campaign run FILE --parsl slurm-gpu``.

What a site must provide (on every compute node, at the same paths as on the login node):

1. A shared file system holding the campaign's results directory (``campaign.out``).
2. A Python 3.11 environment with xfer installed (``scripts/bootstrap.sh`` or pip install
   of this repository with its pinned requirements) and a CUDA build of torch 2.11 (the
   version deepmd-kit 3.2.0's LAMMPS plugin is built against), activated by worker_init.
3. A LAMMPS Python module (``import lammps``) built with Kokkos/CUDA (``-D PKG_KOKKOS=on
   -D Kokkos_ENABLE_CUDA=on``) plus MOLECULE, KSPACE, EXTRA-MOLECULE, RIGID (the OPLS-AA
   engine), PLUGIN, and the ML pair styles the campaign uses:
   ``pair_style deepmd`` (deepmd-kit's LAMMPS plugin, CUDA build: runs on the GPU),
   ``pair_style mace`` (xfer's plugin from plugins/mace compiled against the site's CUDA
   torch) and ``pair_style quip`` (xfer's plugin from plugins/quip; QUIP runs on CPU
   cores of the GPU node). Point LAMMPS_PLUGIN_PATH at the plugin libraries in worker_init.
   Note: xfer starts LAMMPS without ``-k on g 1 -sf kk``; styles that are GPU-aware by
   themselves (deepmd) use the GPU, others run on the node's cores.
4. CUDA/MPI runtime modules loaded by worker_init (``module load ...``) and
   ``OMP_NUM_THREADS`` set to the cores per GPU worker if you want threaded CPU parts.
"""

from __future__ import annotations

import os
from pathlib import Path

from parsl.addresses import address_by_hostname
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import SlurmProvider

SITE = {
    "gpu_partition": os.environ.get("XFER_SLURM_GPU_PARTITION", "gpu"),
    "cpu_partition": os.environ.get("XFER_SLURM_CPU_PARTITION", "cpu"),
    "account": os.environ.get("XFER_SLURM_ACCOUNT"),
    "gpus_per_node": int(os.environ.get("XFER_SLURM_GPUS_PER_NODE", "4")),
    "cores_per_node": int(os.environ.get("XFER_SLURM_CORES_PER_NODE", "32")),
    "max_gpu_nodes": int(os.environ.get("XFER_SLURM_MAX_GPU_NODES", "8")),
    "max_cpu_nodes": int(os.environ.get("XFER_SLURM_MAX_CPU_NODES", "2")),
    "walltime": os.environ.get("XFER_SLURM_WALLTIME", "24:00:00"),
    # Shell lines run before each worker pool starts: modules, the Python environment,
    # the plugin path of the site's LAMMPS.
    "worker_init": os.environ.get(
        "XFER_WORKER_INIT",
        "module load cuda\n"
        "source $HOME/xfer/.venv/bin/activate\n"
        "export LAMMPS_PLUGIN_PATH=$HOME/xfer/plugins/lib:$LAMMPS_PLUGIN_PATH\n"
        "export OMP_NUM_THREADS=1",
    ),
}


def _gpu_executor(run_dir: Path) -> HighThroughputExecutor:
    gpus = SITE["gpus_per_node"]
    return HighThroughputExecutor(
        label="gpu",
        address=address_by_hostname(),
        available_accelerators=gpus,  # one worker per GPU, pinned with CUDA_VISIBLE_DEVICES
        max_workers_per_node=gpus,
        cores_per_worker=max(1, SITE["cores_per_node"] // gpus),
        worker_logdir_root=str(run_dir),
        provider=SlurmProvider(
            partition=SITE["gpu_partition"],
            account=SITE["account"],
            nodes_per_block=1,
            gpus_per_node=gpus,
            init_blocks=0,
            min_blocks=0,
            max_blocks=SITE["max_gpu_nodes"],
            walltime=SITE["walltime"],
            worker_init=SITE["worker_init"],
            exclusive=True,
        ),
    )


def _cpu_executor(run_dir: Path) -> HighThroughputExecutor:
    return HighThroughputExecutor(
        label="cpu",
        address=address_by_hostname(),
        max_workers_per_node=SITE["cores_per_node"],
        cores_per_worker=1,
        worker_logdir_root=str(run_dir),
        provider=SlurmProvider(
            partition=SITE["cpu_partition"],
            account=SITE["account"],
            nodes_per_block=1,
            init_blocks=0,
            min_blocks=0,
            max_blocks=SITE["max_cpu_nodes"],
            walltime=SITE["walltime"],
            worker_init=SITE["worker_init"],
            exclusive=True,
        ),
    )


def make_config(run_dir: Path, workers: int | None = None) -> Config:
    """GPU executor for train/md, CPU executor for the rest (``workers`` is ignored)."""
    return Config(
        executors=[_gpu_executor(run_dir), _cpu_executor(run_dir)],
        run_dir=str(run_dir),
        retries=1,
        usage_tracking=0,
    )
