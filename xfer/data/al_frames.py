"""Active-learned frames (tag ``al``): their bookkeeping and restart-safe addition to a dataset.

Each selected frame carries, besides tag and composition, ``al_generation`` (the first
generation trained with it: frames explored by generation g's committee get g + 1, so the
training set of generation g holds exactly the ``al`` frames with ``al_generation <= g``),
``al_arch``, ``al_recipe`` (the starting recipe of that loop), and its
provenance: ``source_trajectory`` (the run directory it came from), ``source_step``,
``source_file`` (``traj.dump`` or ``last_frame.dump``), the selection rule and its maximum
force variance. Its id is built from those, so the same trajectory and step always give
the same id: adding frames again after a restart is a no-op, never a duplicate.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from ase import Atoms

from xfer.data.al_select import Pick
from xfer.data.frames import CONFIG_TYPE, FRAME_ID, tag_frame
from xfer.data.molgraph import centre_molecules, composition_of
from xfer.data.reference import ReferenceSpec
from xfer.data.store import Dataset, add_frames, write_dataset
from xfer.errors import InputError

TAG = "al"
GENERATION = "al_generation"
ARCH = "al_arch"
RECIPE = "al_recipe"
POSITION_TOLERANCE = 1e-6  # A: extxyz stores 8 decimals


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)


def al_frame(
    atoms: Atoms,
    pick: Pick,
    generation: int,
    arch: str,
    recipe: str,
    trajectory: str,
    **conditions: object,
) -> Atoms:
    """Tag one selected frame (a copy) with its generation, loop and provenance."""
    if generation < 1:
        raise InputError(f"an al frame's generation must be >= 1, got {generation}")
    frame = atoms.copy()
    frame.calc = None
    mol_id = frame.arrays["mol_id"]
    frame.positions = centre_molecules(frame.positions, frame.cell.array, mol_id)
    composition = composition_of(frame, mol_id)
    frame_id = (
        f"al-g{generation:02d}-{_slug(arch)}-{_slug(recipe)}-{_slug(trajectory)}"
        f"-step{pick.frame.step}"
    )
    frame.info.pop("step", None)
    return tag_frame(
        frame,
        TAG,
        composition,
        frame_id,
        **{GENERATION: generation, ARCH: arch, RECIPE: recipe},
        source_trajectory=trajectory,
        source_step=pick.frame.step,
        source_file=pick.frame.source,
        al_rule=pick.rule,
        max_force_variance=pick.variance,
        **conditions,
    )


def _same_geometry(a: Atoms, b: Atoms) -> bool:
    return (
        len(a) == len(b)
        and a.get_chemical_symbols() == b.get_chemical_symbols()
        and np.allclose(a.positions, b.positions, atol=POSITION_TOLERANCE, rtol=0)
        and np.allclose(a.cell.array, b.cell.array, atol=POSITION_TOLERANCE, rtol=0)
    )


def new_frames(existing: list[Atoms], frames: list[Atoms]) -> list[Atoms]:
    """The frames of ``frames`` not yet in ``existing``; an id reused for another geometry
    (or repeated within ``frames``) is an error."""
    by_id = {f.info[FRAME_ID]: f for f in existing}
    fresh: list[Atoms] = []
    seen: set[str] = set()
    for frame in frames:
        if frame.info.get(CONFIG_TYPE) != TAG:
            raise InputError(f"frame {frame.info.get(FRAME_ID)} is not tagged {TAG!r}")
        fid = frame.info[FRAME_ID]
        if fid in seen:
            raise InputError(f"frame {fid} is given twice")
        seen.add(fid)
        if fid in by_id:
            if not _same_geometry(by_id[fid], frame):
                raise InputError(
                    f"frame {fid} is already in the dataset with another geometry "
                    "(did the exploration change since it was added?)"
                )
            continue
        fresh.append(frame)
    return fresh


def add_al_frames(path: Path, frames: list[Atoms]) -> tuple[Dataset, int]:
    """Add labelled ``al`` frames to the dataset at ``path`` in place; (dataset, number added).

    Frames already present (same id, same geometry) are skipped, so a restarted step adds
    nothing twice. An addition killed after ``al.extxyz`` was replaced but before the
    manifest was leaves only that file out of step; it is taken as is and the manifest
    rewritten. Any other file that no longer matches the manifest is an error.
    """
    dataset = Dataset.open(path)
    stale = dataset.verify()
    if set(stale) - {f"{TAG}.extxyz"}:
        raise InputError(f"{path}: files changed since the manifest was written: {stale}")
    fresh = new_frames(dataset.frames(), frames)
    if not fresh and not stale:
        return dataset, 0
    return add_frames(Path(path), TAG, fresh), len(fresh)


def extend_dataset(base: Dataset, frames: list[Atoms], out: Path) -> Dataset:
    """A new dataset at ``out``: every frame of ``base`` plus the new ``al`` frames.

    The base stays untouched (a generation's dataset is a task output of its own).
    """
    by_tag = {tag: base.frames([tag]) for tag in base.tags}
    everything = [f for group in by_tag.values() for f in group]
    by_tag.setdefault(TAG, []).extend(new_frames(everything, frames))
    config = dict(base.manifest.get("config") or {}) | {"extended_from": str(base.path)}
    return write_dataset(Path(out), by_tag, base.manifest.get("failed"), config)


def generation_counts(frames: list[Atoms]) -> dict[str, dict[int, int]]:
    """``al`` frames per ``arch/recipe`` loop and generation."""
    table: dict[str, dict[int, int]] = {}
    for f in frames:
        if f.info.get(CONFIG_TYPE) == TAG:
            loop = f"{f.info.get(ARCH)}/{f.info.get(RECIPE)}"
            row = table.setdefault(loop, {})
            row[int(f.info[GENERATION])] = row.get(int(f.info[GENERATION]), 0) + 1
    return table


def dataset_reference(dataset: Dataset) -> ReferenceSpec:
    """The reference calculator that labelled ``dataset`` (its build's ``[reference]``).

    A dataset without a build configuration (written or imported elsewhere) is accepted when
    all its labels come from one method that is xfer's default, GFN2-xTB; otherwise the
    calculator cannot be known and active-learned frames would mix methods.
    """
    reference = (dataset.manifest.get("config") or {}).get("reference")
    if reference is not None:
        return ReferenceSpec(reference.get("calculator", "tblite"), reference.get("kwargs", {}))
    methods = set(dataset.manifest.get("reference_methods") or {}) - {"None"}
    default = ReferenceSpec()
    if methods == {default.method}:
        return default
    raise InputError(
        f"{dataset.path}: no [reference] in its build and labels from "
        f"{', '.join(sorted(methods)) or 'no method'}; build the dataset with xfer dataset "
        "build so active-learned frames get the same reference calculator"
    )
