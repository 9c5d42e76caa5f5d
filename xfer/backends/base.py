"""The small interface every MLIP architecture implements, and the registry of backends.

A backend trains one model (one seed) on an extxyz training set, exports it for LAMMPS,
gives an ASE calculator for the same model and says which pair style evaluates it.
Committees, campaigns and validation MD only talk to this interface.

:meth:`Backend.train` owns the steps every architecture shares (resolve the preset, read
and check the sets, time the fit, compute validation errors, write the metadata) and
calls the backend's :meth:`Backend.fit` for the tool-specific part. Backends declare
their hyperparameter ``presets``, which the campaign schema and the CLI offer.

Backends register by name: the built-in ones below, :func:`register_backend` at run
time, or an entry point in the ``xfer.backends`` group of another package
(``name = "module:Class"``), so a user's own backend needs no change to xfer.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import time
import tomllib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xfer.errors import InputError
from xfer.lammps.pair import PairSpec
from xfer.runtime import threads_in_use

if TYPE_CHECKING:  # the registry stays cheap to import (the CLI lists it)
    from ase.calculators.calculator import Calculator

    from xfer.backends.common import TrainingSets

ENTRY_POINT_GROUP = "xfer.backends"


@dataclass
class TrainedModel:
    """A trained model on disk plus its metadata JSON (``<path>.json``)."""

    arch: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fit:
    """What a backend's fit produced: the model file and the metadata only it knows."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)


def load_presets(name: str) -> dict[str, dict[str, Any]]:
    """The presets a built-in backend ships in ``xfer/backends/presets/<name>.toml``."""
    text = files("xfer.backends").joinpath("presets", f"{name}.toml").read_text()
    return tomllib.loads(text)


class Backend(ABC):
    """One MLIP architecture: train, export to LAMMPS, ASE calculator."""

    name: str = ""
    presets: dict[str, dict[str, Any]] = {}  # preset name -> hyperparameters ("tiny" first)
    extra_keys: tuple[str, ...] = ("preset",)  # hyperparameters allowed beside a preset's
    model_formats = ""  # the model files a user may bring, for errors (e.g. "MACE .model")
    fits_e0_frames = False  # True: isolated-atom e0 frames are fitted like any other frame
    warm_starts = False  # True: training can start from an earlier model's weights

    def warm_start(self, previous: Path) -> dict[str, Any]:
        """Hyperparameters that start training from the weights of ``previous`` (a model of
        this architecture), e.g. for the next active-learning generation. An architecture
        without weights to start from (GAP: a sparse GP solved anew) refits: {}."""
        return {}

    def resolve_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        """Preset (``hyper["preset"]``, default ``tiny``) updated with the other keys given."""
        from xfer.backends.common import resolve_preset

        return resolve_preset(self.name, self.presets, hyper, self.extra_keys)

    def train(
        self,
        train_file: Path,
        valid_file: Path,
        out_dir: Path,
        seed: int,
        hyper: dict[str, Any],
    ) -> TrainedModel:
        """Train one model with ``seed`` into ``out_dir`` and write its metadata JSON."""
        from xfer.backends import common

        resolved = self.resolve_hyper(hyper)
        sets = common.read_training_sets(train_file, valid_file, self.fits_e0_frames)
        out_dir = Path(out_dir).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        threads = threads_in_use()  # what the training tool inherits
        started = time.perf_counter()
        fit = self.fit(sets, out_dir, seed, resolved)
        seconds = time.perf_counter() - started
        calc = self.calculator(TrainedModel(self.name, fit.path))
        meta = {
            "arch": self.name,
            "seed": seed,
            "model_file": fit.path.name,
            "species": list(getattr(calc, "species", None) or []),
            "hyper": resolved,
            **fit.meta,
            "train_seconds": round(seconds, 2),
            "threads": threads,
            **common.training_provenance(train_file, valid_file),
            "n_train_frames": len(sets.fit),
            "validation_errors": common.validation_errors(calc, sets.valid),
        }
        common.write_model_meta(fit.path, meta)
        return TrainedModel(arch=self.name, path=fit.path, meta=meta)

    def fit(self, sets: TrainingSets, out_dir: Path, seed: int, hyper: dict[str, Any]) -> Fit:
        """Run the tool on the checked sets with resolved ``hyper``; the model in ``out_dir``.

        The hook :meth:`train` calls; a backend that overrides :meth:`train` needs none.
        """
        raise NotImplementedError(f"backend {self.name} implements neither fit nor train")

    def check_model(self, path: Path) -> Path:
        """The model file, resolved, after checking it is a readable model of this kind."""
        path = Path(path).resolve()
        if not path.is_file():
            raise InputError(f"{self.name} model {path} does not exist")
        return path

    def recognises(self, path: Path) -> bool:
        """True if ``path``'s content (not its name) is a model file of this kind.

        Cheap (reads a zip directory or a file's head, loads no model): it picks the backend
        for a bare model file; :meth:`check_model` then checks the file thoroughly.
        """
        return False

    def model_info(self, path: Path) -> dict[str, Any]:
        """What the model file itself says: ``species`` (its element order) and ``cutoff`` (A)."""
        return {}

    def load(self, path: Path) -> TrainedModel:
        """A model file of this kind, with or without xfer's metadata (a user's own model).

        Metadata comes from the model itself (species, cutoff, SHA-256 of the file) and,
        where xfer trained it, from its ``<model>.json`` (which wins).
        """
        from xfer.backends.common import read_model_meta, source_sha256

        checked = self.check_model(path)
        own = read_model_meta(checked)
        meta = {
            "arch": self.name,
            "model_file": checked.name,
            "source": "xfer" if own else "user",
            "source_sha256": source_sha256(checked),
            **self.model_info(checked),
            **own,
        }
        return TrainedModel(arch=self.name, path=checked, meta=meta)

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


def _registry() -> dict[str, str | type[Backend]]:
    """Built-in and run-time registrations, plus installed ``xfer.backends`` entry points."""
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        _REGISTRY.setdefault(entry.name, entry.value)
    return _REGISTRY


def available_backends() -> list[str]:
    """Names accepted by :func:`get_backend`."""
    return sorted(_registry())


def backend_class(name: str) -> type[Backend]:
    """The class registered as ``name`` (imported on first use)."""
    registry = _registry()
    if name not in registry:
        known = ", ".join(available_backends())
        raise InputError(f"unknown architecture {name!r}; available: {known}")
    target = registry[name]
    if isinstance(target, str):
        module, _, cls = target.partition(":")
        target = getattr(importlib.import_module(module), cls)
        registry[name] = target
    return target


def get_backend(name: str) -> Backend:
    """Instantiate the backend registered as ``name``."""
    return backend_class(name)()


def preset_names(name: str) -> list[str]:
    """The presets backend ``name`` declares."""
    return list(backend_class(name).presets)
