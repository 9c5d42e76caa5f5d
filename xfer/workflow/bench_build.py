"""The build a benchmark actually ran on, detected rather than assumed: LAMMPS (version,
packages, accelerators), the ML libraries' versions, the device and its name, the
models' precision, threads and the machine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from xfer.provenance import hardware, library_versions
from xfer.runtime import default_threads, thread_variables

ML_PACKAGES = ("torch", "mace-torch", "deepmd-kit", "quippy-ase", "ase", "lammps", "mpich")


def device_name(device: str) -> str:
    """The GPU's name for ``cuda``, the CPU model for ``cpu``."""
    if device == "cuda":
        import torch

        return str(torch.cuda.get_device_name(0))
    return hardware()["cpu"]


def model_precision(model: Path) -> str:
    """The floating-point precision a model evaluates in, from its metadata.

    MACE: ``default_dtype``; DeePMD: ``precision``; GAP: QUIP computes in double
    (``real(dp)``) whatever the fit. Models without xfer metadata: ``unknown``.
    """
    from xfer.backends.common import read_model_meta

    meta = read_model_meta(model)
    hyper = meta.get("hyper", {})
    if meta.get("arch") == "gap":
        return "float64"
    return str(hyper.get("default_dtype") or hyper.get("precision") or "unknown")


def threads() -> dict[str, Any]:
    """Thread settings of a 1-rank run: ``xfer md``'s default (:func:`default_threads`); each
    rank of an N-rank run gets ``default_threads(N)``."""
    n = default_threads()
    return {**thread_variables(n), "cpu_count": os.cpu_count()}


def build_info(models: dict[str, Path], device: str) -> dict[str, Any]:
    """Everything that identifies the build and machine of a benchmark run."""
    import xfer
    from xfer.lammps.timing import lammps_build

    return {
        "xfer": xfer.__version__,
        "lammps": lammps_build(),
        "versions": library_versions(ML_PACKAGES, missing="absent"),
        "device": device,
        "device_name": device_name(device),
        "threads": threads(),
        "models": {
            arch: {"path": str(path), "precision": model_precision(path)}
            for arch, path in models.items()
        },  # fmt: skip
        "machine": hardware(),
    }
