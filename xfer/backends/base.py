"""The small interface every MLIP architecture implements, and the registry of backends.

A backend trains one model (one seed) on an extxyz training set, exports it for LAMMPS,
gives an ASE calculator for the same model and says which pair style evaluates it.
Committees, campaigns and validation MD only talk to this interface.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from xfer.errors import InputError
from xfer.lammps.pair import PairSpec


@dataclass
class TrainedModel:
    """A trained model on disk plus its metadata JSON (``<path>.json``)."""

    arch: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """One MLIP architecture: train, export to LAMMPS, ASE calculator."""

    name: str = ""
    lammps_pair_style: str = ""

    @abstractmethod
    def train(
        self,
        train_file: Path,
        valid_file: Path,
        out_dir: Path,
        seed: int,
        hyper: dict[str, Any],
    ) -> TrainedModel:
        """Train one model with ``seed`` into ``out_dir`` and write its metadata JSON."""

    @abstractmethod
    def export(self, model: TrainedModel) -> Path:
        """Write the file LAMMPS loads (TorchScript, frozen graph, GAP xml); return its path."""

    @abstractmethod
    def pair_spec(self, model: TrainedModel) -> PairSpec:
        """Pair-style lines for the exported model."""

    @abstractmethod
    def calculator(self, model: TrainedModel) -> Calculator:
        """ASE calculator for the same model (used for parity and committees)."""


_REGISTRY: dict[str, str | type[Backend]] = {
    "mace": "xfer.backends.mace:MaceBackend",
    "deepmd": "xfer.backends.deepmd:DeepmdBackend",
    "gap": "xfer.backends.gap:GapBackend",
}


def register_backend(name: str, backend: str | type[Backend]) -> None:
    """Register a backend class (or ``"module:Class"`` path, imported on first use)."""
    _REGISTRY[name] = backend


def available_backends() -> list[str]:
    """Names accepted by :func:`get_backend`."""
    return sorted(_REGISTRY)


def get_backend(name: str) -> Backend:
    """Instantiate the backend registered as ``name``."""
    if name not in _REGISTRY:
        known = ", ".join(available_backends())
        raise InputError(f"unknown architecture {name!r}; available: {known}")
    target = _REGISTRY[name]
    if isinstance(target, str):
        module, _, cls = target.partition(":")
        target = getattr(importlib.import_module(module), cls)
        _REGISTRY[name] = target
    return target()
