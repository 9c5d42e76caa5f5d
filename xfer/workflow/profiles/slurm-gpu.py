"""Execution profile ``slurm-gpu``: the paper-scale campaign on a Slurm GPU cluster.

Two Parsl executors, both HighThroughputExecutors whose workers Slurm starts:

* ``gpu``: training and validation MD, one worker per GPU (Parsl pins each worker to one
  device through CUDA_VISIBLE_DEVICES, so every train/md task has exactly one GPU);
* ``cpu``: dataset labelling, recipe files and analysis, one worker per core.

xfer routes tasks by these labels (see ``xfer.workflow.tasks.app_for``). Set the
XFER_SLURM_<KEY> variables of ``xfer.workflow.executors.SITE_DEFAULTS`` (partitions,
account, GPUs and cores per node, node limits, walltime) before
``xfer campaign run FILE --parsl slurm-gpu``.

What a site must provide (on every compute node, at the same paths as on the login node):

1. A shared file system holding the campaign's results directory (``campaign.out``).
2. A Python 3.11 environment with xfer installed (``scripts/bootstrap.sh`` or pip install
   of this repository with its pinned requirements) and a CUDA build of torch 2.11 (the
   version deepmd-kit 3.2.0's LAMMPS plugin is built against), at the same path as the
   driver's: worker pools start with the driver's interpreter.
3. A LAMMPS Python module (``import lammps``) built with Kokkos/CUDA (``-D PKG_KOKKOS=on
   -D Kokkos_ENABLE_CUDA=on``) plus MOLECULE, KSPACE, EXTRA-MOLECULE, RIGID (the OPLS-AA
   engine), PLUGIN, and the ML pair styles the campaign uses:
   ``pair_style deepmd`` (deepmd-kit's LAMMPS plugin, CUDA build: runs on the GPU),
   ``pair_style mace`` (xfer's plugin from plugins/mace compiled against the site's CUDA
   torch) and ``pair_style quip`` (xfer's plugin from plugins/quip; QUIP runs on CPU
   cores of the GPU node). Point LAMMPS_PLUGIN_PATH at the plugin libraries in worker_init.
   Note: xfer starts LAMMPS without ``-k on g 1 -sf kk``; styles that are GPU-aware by
   themselves (deepmd) use the GPU, others run on the node's cores.
4. CUDA/MPI runtime modules loaded by worker_init (``XFER_WORKER_INIT``, default
   ``module load cuda``) and ``OMP_NUM_THREADS`` set to the cores per GPU worker if you
   want threaded CPU parts.

``slurm-cpu`` is the same code with the CPU executor only; it is what the tests run on a
real one-node Slurm cluster.
"""

from __future__ import annotations

from pathlib import Path

from parsl.config import Config

from xfer.workflow.executors import batch_config, site_settings, slurm_executor


def make_config(run_dir: Path, workers: int | None = None) -> Config:
    """GPU executor for train/md, CPU executor for the rest (``workers`` is ignored)."""
    site = site_settings("slurm", worker_init="module load cuda")
    return batch_config(
        run_dir,
        [
            slurm_executor("gpu", site, run_dir, gpus=site["gpus_per_node"]),
            slurm_executor("cpu", site, run_dir),
        ],
    )
