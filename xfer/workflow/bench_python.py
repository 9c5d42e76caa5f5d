"""The Python-side paths of ``xfer bench``, each in its own process (clean peak memory, no
library state shared with other models): the backend's ASE calculator driving ``ase.md``
(what a janus-core/IPSuite user would run) and its raw energy+forces evaluation of one
frame (no MD: the limit a pair style can reach).

    python -m xfer.workflow.bench_python REQUEST.json   (writes REQUEST.out.json)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from xfer.atomic import write_json


def _calculator(model: str) -> Any:
    from xfer.backends.base import get_backend
    from xfer.training import load_model

    trained = load_model(Path(model))
    return get_backend(trained.arch).calculator(trained)


def _atoms(data: str) -> Any:
    from xfer.lammps.readdata import read_system

    return read_system(Path(data)).to_atoms()


def ase_md(
    model: str,
    data: str,
    steps: int,
    warmup: int,
    timestep_fs: float,
    ensemble: str,
    temperature: float,
) -> dict[str, Any]:
    """Seconds per step of ``ase.md`` (VelocityVerlet for NVE, Langevin otherwise)."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    atoms = _atoms(data)
    atoms.calc = _calculator(model)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=_rng())
    dt = timestep_fs * units.fs
    dyn = (VelocityVerlet(atoms, timestep=dt) if ensemble == "nve" else
           Langevin(atoms, timestep=dt, temperature_K=temperature, friction=0.01 / units.fs,
                    rng=_rng()))  # fmt: skip
    dyn.run(warmup)
    start = time.perf_counter()
    dyn.run(steps)
    return {"steps": steps, "seconds": time.perf_counter() - start}


def raw_eval(model: str, data: str, steps: int, warmup: int) -> dict[str, Any]:
    """Seconds per energy+forces evaluation of one frame (positions changed each call)."""
    import numpy as np
    from ase.calculators.calculator import all_changes

    atoms = _atoms(data)
    calc = _calculator(model)
    rng = _rng()
    base = atoms.positions.copy()
    for k in range(warmup + steps):
        if k == warmup:
            start = time.perf_counter()
        atoms.positions = base + rng.normal(0.0, 1e-3, base.shape)  # no cached results
        calc.calculate(atoms, ["energy", "forces"], all_changes)
        np.asarray(calc.results["forces"]).sum()
    return {"steps": steps, "seconds": time.perf_counter() - start}


def _rng() -> Any:
    import numpy as np

    return np.random.default_rng(1)


PATHS = {"ase_md": ase_md, "raw_eval": raw_eval}


def main() -> None:
    request = Path(sys.argv[1])
    args = json.loads(request.read_text())
    write_json(request.with_suffix(".out.json"), PATHS[args.pop("path")](**args))


if __name__ == "__main__":
    main()
