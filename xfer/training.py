"""Train committees into a models root and find them again.

Layout: ``<root>/<arch>/<recipe>/seed<k>/`` holds one model file plus its ``<file>.json``
metadata (arch, recipe, seed, training-set hash, hyperparameters, library versions,
validation errors). Everything here goes through the backend interface.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xfer.backends.base import TrainedModel, get_backend
from xfer.backends.committee import find_model, train_committee
from xfer.backends.usermodel import load_user_model, recognise
from xfer.errors import InputError
from xfer.jsonfiles import CorruptFile
from xfer.lammps.dispersion import D3, with_d3
from xfer.lammps.pair import PairSpec

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_SEEDS_RE = re.compile(r"^\d+(-\d+)?$")


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,3,7"`` and mixes like ``"0-2,5"`` work too."""
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if not _SEEDS_RE.match(part):
            raise InputError(f"bad seed list {text!r}: use e.g. 0-4 or 0,1,2")
        first, _, last = part.partition("-")
        stop = int(last) if last else int(first)
        if stop < int(first):
            raise InputError(f"bad seed range {part!r} in {text!r}")
        seeds.extend(range(int(first), stop + 1))
    if not seeds or len(set(seeds)) != len(seeds):
        raise InputError(f"bad seed list {text!r}: empty or repeated seeds")
    return seeds


def committee_dir(root: Path, arch: str, recipe: str) -> Path:
    """``<root>/<arch>/<recipe>`` (the recipe name must be usable as a directory name)."""
    if not _NAME_RE.match(recipe):
        raise InputError(f"recipe name {recipe!r} must be letters, digits and _ . + -")
    return Path(root) / arch / recipe


def train(
    arch: str,
    recipe: str,
    train_file: Path,
    valid_file: Path | None,
    seeds: Sequence[int],
    hyper: dict[str, Any],
    root: Path,
    reuse: bool = True,
) -> list[TrainedModel]:
    """Train (or reuse) a committee of ``arch`` on ``train_file`` under the models root.

    Without a validation file the training file is used for the recorded errors, and the
    metadata says so (``validation_set: "train"``).
    """
    train_file = Path(train_file).resolve()
    if not train_file.is_file():
        raise InputError(f"training file {train_file} does not exist")
    if valid_file is not None and not Path(valid_file).is_file():
        raise InputError(f"validation file {valid_file} does not exist")
    valid = train_file if valid_file is None else Path(valid_file).resolve()
    get_backend(arch)  # unknown architectures fail before any directory is made
    return train_committee(
        arch,
        train_file,
        valid,
        committee_dir(root, arch, recipe),
        seeds,
        hyper,
        extra_meta={"recipe": recipe, "validation_set": "train" if valid_file is None else "valid"},
        reuse=reuse,
    )


def find_models(root: Path) -> list[TrainedModel]:
    """Every model under ``root`` (any depth), sorted by arch, recipe, seed.

    Models xfer trained are found by their metadata; any other file whose content is a
    model of a registered architecture (a user's own model) is listed too. ``root`` may
    also be one model file.
    """
    root = Path(root)
    if root.is_file():
        return [load_user_model(root)]
    if not root.is_dir():
        raise InputError(f"models root {root} is not a directory")
    found = {}
    for directory in sorted({meta_file.parent for meta_file in root.rglob("*.json")}):
        try:
            model = find_model(directory)
        except CorruptFile as exc:  # one bad metadata file must not hide the other models
            log.warning("skipped a model: %s", exc)
            continue
        if model is not None:
            found[model.path] = model
    for candidate in sorted(root.rglob("*")):
        if _bare_candidate(candidate, found) and recognise(candidate) is not None:
            try:
                found[candidate.resolve()] = load_user_model(candidate)
            except InputError as exc:  # recognised but unusable: say why, list the rest
                log.warning("skipped a model: %s", exc)
    return sorted(
        found.values(),
        key=lambda m: (m.arch, str(m.meta.get("recipe", "")), m.meta.get("seed", -1), m.path),
    )


def _bare_candidate(path: Path, found: dict[Path, TrainedModel]) -> bool:
    """A file that may be a user's model: not xfer metadata, not hidden, not already found."""
    if not path.is_file() or path.name.startswith(".") or path.suffix == ".json":
        return False
    return path.resolve() not in found and not path.with_name(path.name + ".json").exists()


def load_model(path: Path) -> TrainedModel:
    """A model from its file or seed directory: xfer-trained or a user's own (any format)."""
    return load_user_model(path)


def load_committee(directory: Path) -> list[TrainedModel]:
    """The models of one committee directory (``<root>/<arch>/<recipe>``), by seed."""
    models = [
        m for m in find_models(directory) if m.path.parent.parent == Path(directory).resolve()
    ]
    if not models:
        raise InputError(f"{directory} holds no seed<k>/ models")
    return models


def export_model(path: Path, d3: D3 | None = None) -> tuple[Path, PairSpec]:
    """Export a model (xfer-trained or a user's own) for LAMMPS; returns the file LAMMPS
    loads and its pair lines (overlaid with DFT-D3 when ``d3`` is given)."""
    model = load_model(path)
    backend = get_backend(model.arch)
    exported = backend.export(model)
    spec = backend.pair_spec(model)
    return exported, spec if d3 is None else with_d3(spec, d3)


def resolve_committee(
    model: Path | None, committee: Sequence[Path]
) -> tuple[TrainedModel, list[TrainedModel]]:
    """The driving model and the members (driving model first) of ``xfer md --committee``.

    Each ``committee`` entry is one model (file or seed directory) or a committee root
    whose seed directories are the members; without ``model`` the lowest seed drives.
    """
    members: list[TrainedModel] = []
    for entry in map(Path, committee):
        if entry.is_dir() and (found := find_model(entry)) is not None:
            members.append(found)
        elif entry.is_dir():
            members += load_committee(entry)
        else:
            members.append(load_model(entry))
    driving = load_model(model) if model is not None else None
    if driving is None:
        if not members:
            raise InputError("a committee run needs --model or --committee")
        driving = min(members, key=lambda m: m.meta.get("seed", 1 << 30))
    unique = {driving.path: driving}
    for member in members:
        unique.setdefault(member.path, member)
    return driving, list(unique.values())
