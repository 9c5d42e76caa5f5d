"""Loading a run directory written by ``xfer md``.

Contract: ``result.json`` (fields of :class:`RunResult`), ``thermo.csv`` with header
``step,time_ps,temp,press,density,pe``, ``system.data`` (LAMMPS data, atom_style full,
units metal, with Bonds) and ``traj.dump`` (custom dump with id mol type element x y z
ix iy iz). Missing or malformed files raise :class:`~xfer.errors.InputError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from xfer.errors import InputError, validation_message
from xfer.jsonfiles import read_json

THERMO_COLUMNS = ("step", "time_ps", "density")
RESULT_FIX = "rerun the simulation (xfer md ... --force)"


class RunResult(BaseModel):
    """The fields of result.json the analysis relies on (others are kept)."""

    model_config = ConfigDict(extra="allow")

    ensemble: Literal["npt", "nvt"]
    temperature_K: float
    timestep_fs: float
    n_steps_requested: int
    n_steps_done: int
    t_stab_ps: float
    halted: bool
    halt_reason: str | None = None
    halt_detail: Any = None
    time_ps_requested: float | None = None
    dump_every: int | None = None
    mix: dict[str, int] | None = None


@dataclass(frozen=True)
class Thermo:
    """Columns of thermo.csv as float arrays, by header name."""

    columns: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]


@dataclass(frozen=True)
class RunDir:
    """A run directory: parsed result.json and lazily read thermo."""

    path: Path
    result: RunResult

    @property
    def data_path(self) -> Path:
        return _existing(self.path / "system.data")

    @property
    def dump_path(self) -> Path:
        return _existing(self.path / "traj.dump")

    @cached_property
    def thermo(self) -> Thermo:
        return read_thermo(self.path / "thermo.csv")

    def input_fingerprint(self) -> dict[str, list[int]]:
        """Size and mtime of every input file, to tell whether a cached analysis is current."""
        out = {}
        for name in ("result.json", "thermo.csv", "system.data", "traj.dump"):
            p = self.path / name
            if p.exists():
                st = p.stat()
                out[name] = [st.st_size, st.st_mtime_ns]
        return out


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"run directory {path.parent} has no {path.name}")
    return path


def load_run(path: str | Path) -> RunDir:
    """Parse ``path/result.json``; the other files are read when needed."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path} is not a run directory")
    result_file = _existing(path / "result.json")
    try:
        result = RunResult.model_validate(read_json(result_file, RESULT_FIX))
    except ValidationError as exc:
        raise InputError(f"{result_file}: {validation_message(exc)}") from exc
    return RunDir(path, result)


def read_thermo(path: Path) -> Thermo:
    """thermo.csv as named float columns; step, time_ps and density are required."""
    path = _existing(path)
    try:
        with open(path) as fh:
            header = fh.readline().strip().split(",")
            table = np.loadtxt(fh, delimiter=",", ndmin=2)
    except ValueError as exc:
        raise InputError(f"{path}: malformed thermo table ({exc})") from exc
    missing = [c for c in THERMO_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} in header")
    if table.size == 0:
        raise InputError(f"{path}: no thermo rows")
    if table.shape[1] != len(header):
        raise InputError(f"{path}: {table.shape[1]} values per row but {len(header)} names")
    return Thermo({name: table[:, i] for i, name in enumerate(header)})

