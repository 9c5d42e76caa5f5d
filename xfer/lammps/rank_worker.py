"""Every rank of ``xfer md --nprocs N``: ``mpiexec -n N python -m xfer.lammps.rank_worker JOB OUT``.

Runs the LAMMPS part of a prepared run (:func:`xfer.md.run_engine`) on all ranks; rank 0
writes what it returned, or the one-line error that stopped it, to ``OUT``.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import xfer  # noqa: F401  (MPI preload and plugin path before lammps)
from xfer.atomic import write_json
from xfer.children import die_with_parent
from xfer.errors import XferError
from xfer.jsonfiles import read_json
from xfer.lammps.ranks import is_leader


def main(job_file: str, out_file: str) -> int:
    from xfer.md import run_engine

    die_with_parent(os.getppid(), signal.SIGTERM)  # the launcher's proxy: none outlives it
    job = read_json(Path(job_file), "it is written by xfer md --nprocs")
    try:
        outcome = run_engine(job)
    except XferError as exc:
        outcome = {"error": str(exc)}
    if is_leader():
        write_json(Path(out_file), outcome)
    return 0 if "error" not in outcome else 3


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
