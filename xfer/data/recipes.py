"""Named and user-defined training recipes, and the deterministic train/validation split.

A recipe is a list of selections (tags, optional compositions, how many, optional weight).
A selection that matches no frame of the dataset is an error naming the recipe and the
missing tag (``OPLS+AL12`` on a dataset without ``al`` frames never quietly becomes
``OPLS``), unless the selection says ``optional = true``.
Isolated-atom frames (``e0``) join every recipe's training part unless ``include_e0`` is off.

Split: within each (tag, composition) group of the *whole dataset*, frames are ranked by
SHA-256 of ``"<seed>:<frame_id>"`` and the first ``round(valid_fraction * n)`` go to
validation. A frame's side therefore depends only on its id, the seed and its group, never on
the recipe or the architecture: every architecture trained on a recipe sees the same split.

Weights: ``weight = w`` on a selection means each selected frame should appear in a fraction
``w`` of training samples (the paper's OPLS+EC+EMC puts one isolated EC and one EMC at 5%
each). It is expressed by duplication, which MACE, DeePMD and GAP all honour: with N
unweighted training frames and weights w_i summing to W, frame i is written
``max(1, round(w_i * N / (1 - W)))`` times (so it is w_i of the final training file).
Weighted frames always go to training.

Counts at the paper's scale (200 opls, 200 EC + 400 EMC sm, 20 vs, 150 al over 5
compositions, 3 e0) with ``valid_fraction = 0.1`` (train / valid frames):
OPLS 183/20, OPLS+SM 723/80, OPLS+VS 201/22, Full 876/97, OPLS+EC+EMC 203/20 (10 copies of
each molecule: 5.0% of training samples each), OPLS+AL12 210/23.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ase import Atoms
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xfer.data.frames import COMPOSITION, CONFIG_TYPE, ENERGY_KEY, FRAME_ID
from xfer.errors import InputError, validation_message

ALL = "*"


class Selection(BaseModel):
    """Frames of ``tags`` (``*`` = all but e0), optionally of ``compositions`` only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tags: tuple[str, ...]
    compositions: tuple[str, ...] | None = None
    pick: Literal["all", "lowest_energy"] = "all"
    count: int | None = Field(None, ge=1, description="at most this many (all if unset)")
    weight: float | None = Field(None, gt=0, lt=1, description="fraction of training samples")
    optional: bool = Field(False, description="allow this part to match no frame")


class Recipe(BaseModel):
    """A training set definition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    select: tuple[Selection, ...]
    include_e0: bool = True
    description: str = ""


def _sel(tags: tuple[str, ...], **kw: Any) -> Selection:
    return Selection(tags=tags, **kw)


_ONE = {"pick": "lowest_energy", "count": 1, "weight": 0.05}
NAMED: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(name="OPLS", select=(_sel(("opls",)),), description="classical frames"),
        Recipe(name="OPLS+SM", select=(_sel(("opls",)), _sel(("sm",)))),
        Recipe(name="OPLS+VS", select=(_sel(("opls",)), _sel(("vs",)))),
        Recipe(name="Full", select=(_sel((ALL,)),), description="every tag"),
        Recipe(
            name="OPLS+EC+EMC",
            select=(
                _sel(("opls",)),
                _sel(("sm",), compositions=("EC1",), **_ONE),
                _sel(("sm",), compositions=("EMC1",), **_ONE),
            ),
            description="opls + lowest-energy isolated EC and EMC, 5% of samples each",
        ),
        Recipe(
            name="OPLS+AL12",
            select=(_sel(("opls",)), _sel(("al",), compositions=("EC4EMC8",))),
            description="opls + active-learned frames at 1:2 EC:EMC",
        ),
    )
}


def load_recipes(path: Path) -> dict[str, Recipe]:
    """User recipes from TOML: ``[recipes.NAME]`` with ``select = [{tags = [...]}, ...]``."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read recipes ({exc})") from exc
    out = {}
    for name, body in data.get("recipes", {}).items():
        try:
            out[name] = Recipe(name=name, **body)
        except (ValidationError, TypeError) as exc:
            raise InputError(f"{path}: recipe {name}: {validation_message(exc)}") from exc
    return out


def get_recipe(name: str, extra: dict[str, Recipe] | None = None) -> Recipe:
    recipes = {**NAMED, **(extra or {})}
    if name not in recipes:
        raise InputError(f"unknown recipe {name!r}; known: {', '.join(recipes)}")
    return recipes[name]


def _rank_key(seed: int, frame: Atoms) -> str:
    return hashlib.sha256(f"{seed}:{frame.info[FRAME_ID]}".encode()).hexdigest()


def validation_ids(frames: list[Atoms], valid_fraction: float, seed: int = 0) -> set[str]:
    """Ids of the validation frames of a whole dataset (see module docstring)."""
    if not 0 <= valid_fraction < 1:
        raise InputError(f"validation fraction must be in [0, 1), got {valid_fraction}")
    groups: dict[tuple[str, str], list[Atoms]] = {}
    for f in frames:
        if f.info.get(CONFIG_TYPE) != "e0":
            groups.setdefault((f.info.get(CONFIG_TYPE), f.info.get(COMPOSITION)), []).append(f)
    out: set[str] = set()
    for group in groups.values():
        ranked = sorted(group, key=lambda f: _rank_key(seed, f))
        out.update(f.info[FRAME_ID] for f in ranked[: round(valid_fraction * len(group))])
    return out


def _describe(sel: Selection) -> str:
    """Why a selection is empty: its missing tag(s) and compositions, in words."""
    tags = ", ".join("any tag but e0" if t == ALL else repr(t) for t in sel.tags)
    where = f" at composition {' or '.join(sel.compositions)}" if sel.compositions else ""
    return f"no frame has tag {tags}{where} in the dataset"


def _matches(frame: Atoms, sel: Selection) -> bool:
    tag = frame.info.get(CONFIG_TYPE)
    tag_ok = tag in sel.tags or (ALL in sel.tags and tag != "e0")
    comp_ok = sel.compositions is None or frame.info.get(COMPOSITION) in sel.compositions
    return tag_ok and comp_ok


@dataclass
class RecipeResult:
    """Training and validation frames of a recipe plus a JSON-able summary."""

    train: list[Atoms]
    valid: list[Atoms]
    summary: dict[str, Any] = field(default_factory=dict)


def apply_recipe(
    frames: list[Atoms], recipe: Recipe, valid_fraction: float = 0.1, seed: int = 0
) -> RecipeResult:
    """Select, split and weight ``frames`` (a whole dataset) according to ``recipe``."""
    valid_ids = validation_ids(frames, valid_fraction, seed)
    taken: set[str] = set()
    plain: list[Atoms] = []
    weighted: list[tuple[Atoms, float]] = []
    for sel in recipe.select:
        matching = [f for f in frames if _matches(f, sel)]
        if not matching and not sel.optional:
            present = ", ".join(sorted({str(f.info.get(CONFIG_TYPE)) for f in frames}))
            raise InputError(
                f"recipe {recipe.name}: {_describe(sel)} (its tags: {present}); map an "
                "imported file's kinds to tags with config_types in [[import]], or mark the "
                "part optional = true"
            )
        pool = [f for f in matching if f.info[FRAME_ID] not in taken]
        if sel.pick == "lowest_energy":
            pool.sort(key=lambda f: (f.info.get(ENERGY_KEY, float("inf")), f.info[FRAME_ID]))
        else:
            pool.sort(key=lambda f: _rank_key(seed, f))
        chosen = pool[: sel.count] if sel.count else pool
        taken.update(f.info[FRAME_ID] for f in chosen)
        if sel.weight is None:
            plain.extend(chosen)
        else:
            weighted.extend((f, sel.weight) for f in chosen)
    if recipe.include_e0:
        plain.extend(f for f in frames if f.info.get(CONFIG_TYPE) == "e0")
    order = {f.info[FRAME_ID]: k for k, f in enumerate(frames)}
    plain.sort(key=lambda f: order[f.info[FRAME_ID]])
    train = [f for f in plain if f.info[FRAME_ID] not in valid_ids]
    valid = [f for f in plain if f.info[FRAME_ID] in valid_ids]
    total_weight = sum(w for _, w in weighted)
    if total_weight >= 1:
        raise InputError(f"recipe {recipe.name}: weights sum to {total_weight:.2f} (must be < 1)")
    copies_of = []
    n_plain = len(train)
    for frame, weight in weighted:
        copies = max(1, round(weight * n_plain / (1 - total_weight)))
        copies_of.append({"frame_id": frame.info[FRAME_ID], "weight": weight, "copies": copies})
        train.extend(frame.copy() for _ in range(copies))
    summary = {
        "recipe": recipe.name,
        "valid_fraction": valid_fraction,
        "seed": seed,
        "train_frames": len(train),
        "valid_frames": len(valid),
        "train_counts": _counts(train),
        "valid_counts": _counts(valid),
        "weighted": copies_of,
        "valid_ids": sorted(f.info[FRAME_ID] for f in valid),
    }
    return RecipeResult(train, valid, summary)


def _counts(frames: list[Atoms]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = {}
    for f in frames:
        table.setdefault(str(f.info.get(CONFIG_TYPE)), Counter())[str(f.info.get(COMPOSITION))] += 1
    return {tag: dict(sorted(c.items())) for tag, c in sorted(table.items())}
