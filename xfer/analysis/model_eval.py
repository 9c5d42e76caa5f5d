"""Models the diagnostics compare, and their predictions on reference-labelled frames.

A model is an xfer-trained model (file or seed directory with its metadata JSON) or a bare
model file of a named architecture, loaded through that backend's :meth:`Backend.load`
(the one hook for models the user brings). Predictions use the model's own ASE calculator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from xfer.backends.base import TrainedModel, get_backend
from xfer.data.frames import ENERGY_KEY, FORCES_KEY
from xfer.errors import InputError


@dataclass(frozen=True)
class NamedModel:
    """A model and the name it has in tables and legends."""

    name: str
    model: TrainedModel


def default_name(model: TrainedModel) -> str:
    """``arch/recipe/seedK`` for xfer-trained models, ``arch/<file stem>`` otherwise."""
    meta = model.meta
    if "recipe" in meta and "seed" in meta:
        return f"{model.arch}/{meta['recipe']}/seed{meta['seed']}"
    return f"{model.arch}/{model.path.stem}"


def resolve_model(path: Path, arch: str | None = None, name: str | None = None) -> NamedModel:
    """An xfer-trained model; with ``arch``, a bare file of that architecture is accepted."""
    from xfer.backends.committee import find_model
    from xfer.training import load_model

    path = Path(path)
    trained = find_model(path) if path.is_dir() else None
    if trained is None and path.is_file() and arch is not None:
        trained = find_model(path.parent)
        if trained is None or trained.path != path.resolve():
            trained = get_backend(arch).load(path)
    if trained is None:
        trained = load_model(path)  # its error says what is missing
    return NamedModel(name or default_name(trained), trained)


def resolve_models(
    paths: list[Path], arch: str | None = None, names: list[str] | None = None
) -> list[NamedModel]:
    """Every ``--model`` with its ``--name`` (names must be unique)."""
    if not paths:
        raise InputError("give at least one --model")
    if names and len(names) != len(paths):
        raise InputError(f"{len(names)} --name for {len(paths)} --model: give one per model")
    models = [resolve_model(p, arch, n) for p, n in zip(paths, names or [None] * len(paths))]
    seen = [m.name for m in models]
    if len(set(seen)) != len(seen):
        raise InputError(f"model names repeat ({', '.join(seen)}): give each a --name")
    return models


def predict(model: TrainedModel, frames: list[Atoms]) -> list[tuple[float, np.ndarray]]:
    """(energy eV, forces eV/A) of every frame with the model's calculator."""
    calc = get_backend(model.arch).calculator(model)
    out = []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = calc
        out.append((float(atoms.get_potential_energy()), np.array(atoms.get_forces())))
        atoms.calc = None
    return out


def reference(frame: Atoms) -> tuple[float, np.ndarray]:
    """The frame's reference energy and forces (REF_* keys)."""
    return float(frame.info[ENERGY_KEY]), np.asarray(frame.arrays[FORCES_KEY], dtype=float)
