"""Committees: N models of one architecture differing only in seed, and their ASE calculator.

Training goes through the :class:`~xfer.backends.base.Backend` interface only, so any
registered architecture works. The committee calculator gives the mean energy and forces
and the per-atom force variance that active learning thresholds (eV^2/A^2):

    var_i = (1/M) sum_m |F_i^m - <F_i>|^2,    max_force_deviation = max_i sqrt(var_i)

``max_force_deviation`` is deepmd's ``max_devi_f`` (what ``pair_style deepmd m1 m2 ...
out_file`` writes), so Python and in-engine deviations can be compared directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator

from xfer.backends.base import TrainedModel, get_backend
from xfer.backends.calculator import ModelCalculator
from xfer.backends.common import read_model_meta, write_model_meta
from xfer.errors import InputError
from xfer.provenance import file_sha256

COMMITTEE_PROPERTIES = (
    "energies",  # (M,) energy of every member, eV
    "energy_std",  # eV
    "member_forces",  # (M, N, 3) eV/A
    "force_variance",  # (N,) eV^2/A^2
    "max_force_variance",  # eV^2/A^2
    "max_force_deviation",  # eV/A
)


class CommitteeCalculator(ModelCalculator):
    """Mean energy/forces (and stress, periodic only) of several calculators plus their spread."""

    implemented_properties = [*ModelCalculator.implemented_properties, *COMMITTEE_PROPERTIES]
    kind = "committee"

    def __init__(self, members: Sequence[Calculator], **kwargs: Any) -> None:
        if len(members) < 2:
            raise InputError(f"a committee needs at least two models, got {len(members)}")
        super().__init__(**kwargs)
        self.members = list(members)

    def evaluate(self, properties, system_changes, periodic) -> dict[str, Any]:
        energies, forces, stresses = [], [], []
        for member in self.members:
            work = self.atoms.copy()
            work.calc = member
            energies.append(work.get_potential_energy())
            forces.append(work.get_forces())
            if "stress" in properties:
                stresses.append(work.get_stress())
        energies_arr = np.array(energies)
        member_forces = np.array(forces)
        mean_forces = member_forces.mean(axis=0)
        variance = np.mean(np.sum((member_forces - mean_forces) ** 2, axis=-1), axis=0)
        results = {
            "energy": float(energies_arr.mean()),
            "free_energy": float(energies_arr.mean()),
            "forces": mean_forces,
            "energies": energies_arr,
            "energy_std": float(energies_arr.std()),
            "member_forces": member_forces,
            "force_variance": variance,
            "max_force_variance": float(variance.max()),
            "max_force_deviation": float(np.sqrt(variance.max())),
        }
        if stresses:
            results["stress"] = np.mean(stresses, axis=0)
        return results


def committee_calculator(models: Sequence[TrainedModel]) -> CommitteeCalculator:
    """Committee calculator over trained models (each through its own backend)."""
    return CommitteeCalculator([get_backend(m.arch).calculator(m) for m in models])


def reusable(meta: dict[str, Any], expected: dict[str, Any]) -> bool:
    """True if a model's metadata matches every ``expected`` key (same data, seed, hyper)."""
    return bool(meta) and all(meta.get(key) == value for key, value in expected.items())


def find_model(directory: Path) -> TrainedModel | None:
    """The model whose ``<file>.json`` metadata (with an ``arch``) sits in ``directory``."""
    for meta_file in sorted(Path(directory).glob("*.json")):
        model_file = meta_file.with_name(meta_file.name.removesuffix(".json"))
        if not model_file.is_file():
            continue
        meta = read_model_meta(model_file)
        if "arch" in meta:
            return TrainedModel(arch=meta["arch"], path=model_file.resolve(), meta=meta)
    return None


def train_committee(
    arch: str,
    train_file: Path,
    valid_file: Path,
    out_dir: Path,
    seeds: Sequence[int],
    hyper: dict[str, Any],
    extra_meta: dict[str, Any] | None = None,
    reuse: bool = True,
) -> list[TrainedModel]:
    """Train one model per seed, sequentially, into ``out_dir/seed<k>/``.

    ``extra_meta`` (e.g. the recipe) is merged into each model's metadata together with
    the training-set hash and the requested hyperparameters. With ``reuse``, a seed whose
    directory already holds a model trained on the same files with the same request is kept.
    """
    if len(set(seeds)) != len(seeds):
        raise InputError(f"seeds must be distinct, got {list(seeds)}")
    backend = get_backend(arch)
    common = {
        "arch": arch,
        "train_sha256": file_sha256(Path(train_file)),
        "valid_sha256": file_sha256(Path(valid_file)),
        "requested_hyper": hyper,
        **(extra_meta or {}),
    }
    models = []
    for seed in seeds:
        seed_dir = Path(out_dir) / f"seed{seed}"
        expected = {**common, "seed": seed}
        existing = find_model(seed_dir) if reuse and seed_dir.is_dir() else None
        if existing is not None and reusable(existing.meta, expected):
            models.append(existing)
            continue
        model = backend.train(Path(train_file), Path(valid_file), seed_dir, seed, hyper)
        meta = {**read_model_meta(model.path), **model.meta, **expected}
        write_model_meta(model.path, meta)
        models.append(TrainedModel(arch=arch, path=model.path, meta=read_model_meta(model.path)))
    return models
