"""The reference method: any ASE calculator by name + keyword arguments; GFN2-xTB by default.

``tblite`` (GFN2-xTB) is embedded; any other calculator is found by its ASE name
(``castep``, ``cp2k``, ``orca``, ...) or as ``module:Class``. A fresh calculator is made per
frame (ASE caches results of unchanged positions, and file-based codes need their own
directory). Labels go to ``REF_*`` keys and the method string to ``info['REF_method']``.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, FileIOCalculator, get_calculator_class
from ase.calculators.calculator import names as calculator_names

from xfer.data.frames import (
    ENERGY_KEY,
    FORCES_KEY,
    METHOD_KEY,
    STRESS_KEY,
    VIRIAL_KEY,
    is_periodic,
)
from xfer.errors import EnvironmentProblem, InputError

DEFAULT_CALCULATOR = "tblite"
TBLITE_DEFAULTS: dict[str, Any] = {"method": "GFN2-xTB", "verbosity": 0}


@dataclass(frozen=True)
class ReferenceSpec:
    """Which calculator labels frames: ASE name (or ``module:Class``) and its kwargs."""

    calculator: str = DEFAULT_CALCULATOR
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        """Short, stable description recorded with every label, e.g. ``tblite:GFN2-xTB``."""
        kwargs = self.effective_kwargs()
        if self.calculator == "tblite":
            rest = {k: v for k, v in kwargs.items() if k not in ("method", "verbosity")}
            extra = f" {json.dumps(rest, sort_keys=True)}" if rest else ""
            return f"tblite:{kwargs['method']}{extra}"
        return f"{self.calculator} {json.dumps(kwargs, sort_keys=True, default=str)}"

    def effective_kwargs(self) -> dict[str, Any]:
        """Keyword arguments with the embedded defaults filled in."""
        if self.calculator == "tblite":
            return {**TBLITE_DEFAULTS, **self.kwargs}
        return dict(self.kwargs)


def calculator_class(name: str) -> type[Calculator]:
    """Resolve ``tblite``, an ASE calculator name, or ``module:Class``."""
    if name != "tblite" and ":" not in name and name.lower() not in calculator_names:
        raise InputError(
            f"unknown reference calculator {name!r}: use tblite, an ASE calculator name "
            f"({', '.join(calculator_names)}) or module:Class"
        )
    try:
        if name == "tblite":
            from tblite.ase import TBLite

            return TBLite
        if ":" in name:
            module, _, cls = name.partition(":")
            return getattr(importlib.import_module(module), cls)
        return get_calculator_class(name)
    except (ImportError, AttributeError) as exc:
        raise EnvironmentProblem(f"reference calculator {name!r} is not available: {exc}") from exc


def make_calculator(spec: ReferenceSpec, directory: Path | None = None) -> Calculator:
    """A fresh calculator; file-based codes run in ``directory`` (one per frame)."""
    cls = calculator_class(spec.calculator)
    kwargs = spec.effective_kwargs()
    if directory is not None and issubclass(cls, FileIOCalculator):
        directory.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("directory", str(directory))
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise InputError(f"bad keyword arguments for {spec.calculator}: {exc}") from exc


@dataclass
class Labels:
    """Reference results for one frame (eV, eV/A; stress eV/A^3 as a 3x3, None if not periodic)."""

    energy: float
    forces: np.ndarray
    stress: np.ndarray | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "energy": float(self.energy),
            "forces": self.forces.tolist(),
            "stress": None if self.stress is None else self.stress.ravel().tolist(),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Labels:
        stress = record.get("stress")
        return cls(
            energy=float(record["energy"]),
            forces=np.array(record["forces"], dtype=float),
            stress=None if stress is None else np.array(stress, dtype=float).reshape(3, 3),
        )


def compute_labels(atoms: Atoms, spec: ReferenceSpec, directory: Path | None = None) -> Labels:
    """Energy, forces (and stress for periodic frames) from a fresh calculator.

    Raises whatever the calculator raises (e.g. SCF not converged); NaN results raise
    ``ValueError``. Callers decide whether a failure is fatal.
    """
    work = atoms.copy()
    work.calc = make_calculator(spec, directory)
    energy = float(work.get_potential_energy())
    forces = np.array(work.get_forces(), dtype=float)
    stress = None
    if is_periodic(work):
        stress = np.array(work.get_stress(voigt=False), dtype=float)
    values = [np.array([energy]), forces.ravel()] + ([] if stress is None else [stress.ravel()])
    if not np.all(np.isfinite(np.concatenate(values))):
        raise ValueError("calculator returned non-finite energy, forces or stress")
    return Labels(energy, forces, stress)


def apply_labels(atoms: Atoms, labels: Labels, method: str) -> Atoms:
    """Store ``labels`` under the REF_* keys of ``atoms`` (in place); virial = -stress * V."""
    atoms.calc = None
    atoms.info[ENERGY_KEY] = labels.energy
    atoms.arrays[FORCES_KEY] = np.array(labels.forces, dtype=float)
    atoms.info[METHOD_KEY] = method
    for key in (STRESS_KEY, VIRIAL_KEY):
        atoms.info.pop(key, None)
    if labels.stress is not None:
        atoms.info[STRESS_KEY] = labels.stress.ravel().copy()
        atoms.info[VIRIAL_KEY] = (-labels.stress * atoms.get_volume()).ravel()
    return atoms
