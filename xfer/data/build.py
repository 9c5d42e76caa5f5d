"""``xfer dataset build``: generate every configured tag, label it, write the dataset.

Generated frames are written once to ``OUT/work/<tag>.pending.extxyz`` and read back, so
labels always belong to the stored (rounded) geometry and a restarted build labels exactly
the same frames; labels accumulate in ``OUT/work/<tag>.labels.jsonl`` (see
:mod:`xfer.data.labelling`). Re-running the same build resumes; a different configuration
in the same directory is refused.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from xfer.atomic import write_json
from xfer.chem.molecules import get_molecule
from xfer.data.config import BuildConfig, VsConfig
from xfer.data.e0 import isolated_atoms
from xfer.data.frames import CONFIG_TYPE, FRAME_ID
from xfer.data.importer import import_frames
from xfer.data.labelling import label_frames
from xfer.data.opls_frames import OplsRun, opls_frames
from xfer.data.reference import ReferenceSpec, calculator_class
from xfer.data.sm import single_molecule_frames
from xfer.data.store import Dataset, read_frames, write_dataset, write_frames
from xfer.data.volume_scan import volume_scan
from xfer.errors import InputError, XferError
from xfer.jsonfiles import read_json
from xfer.progress import report

WORK = "work"


def resolve_workers(workers: int | str) -> int:
    """``auto`` = the CPUs this process may use; otherwise the number given (>= 1)."""
    if workers == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    if int(workers) < 1:
        raise InputError(f"workers must be >= 1 or 'auto', got {workers}")
    return int(workers)


def _check_config(work: Path, config: BuildConfig) -> None:
    """Refuse to resume a directory that was started with different generation settings."""
    stored = work / "config.json"
    current = config.model_dump(mode="json", by_alias=True, exclude={"labelling"})
    if stored.exists() and not _holds_work(work):  # a build that stopped before any work
        stored.unlink()
    if stored.exists():
        fix = f"delete {stored} (the build then starts over) or use another --out"
        if read_json(stored, fix) != current:
            raise InputError(
                f"{work.parent} was started with a different configuration; "
                "use another --out directory (or delete this one)"
            )
        return
    write_json(stored, current)


def _holds_work(work: Path) -> bool:
    """True once a build generated or labelled anything in ``work`` (worth resuming)."""
    return any(p.name != "config.json" and not p.name.startswith(".") for p in work.iterdir())


def _stage(work: Path, tag: str, generate: Callable[[], list[Atoms]]) -> list[Atoms]:
    """Pending frames of ``tag``: generated once, stored, and always read back from disk."""
    path = work / f"{tag}.pending.extxyz"
    if not path.exists():
        report(f"generate {tag}")
        frames = generate()
        if not frames:
            return []
        write_frames(path, frames)
    return read_frames(path)


def _scan_sources(vs: VsConfig, opls: list[Atoms]) -> list[Atoms]:
    """Frames to scan: the highest-pressure NPT opls frames, packed boxes, or a file's frames."""
    if vs.source == "opls":
        npt = [f for f in opls if f.info.get("ensemble") == "npt"] or opls
        if not npt:
            raise InputError("vs source 'opls' needs an [opls] section with frames")
        top = max(float(f.info.get("pressure_atm", 0.0)) for f in npt)
        pool = [f for f in npt if float(f.info.get("pressure_atm", 0.0)) == top]
        if len(pool) < vs.scans:
            pool = sorted(npt, key=lambda f: -float(f.info.get("pressure_atm", 0.0)))
    elif vs.source == "packed":
        from xfer.chem.packing import pack

        pool = [pack(vs.mix, vs.density, seed=vs.seed + k).to_atoms() for k in range(vs.scans)]
    else:
        pool = read_frames(Path(vs.source))
    if len(pool) < vs.scans:
        raise InputError(f"vs source {vs.source!r} has {len(pool)} frames, {vs.scans} scans asked")
    picks = np.linspace(0, len(pool) - 1, vs.scans).round().astype(int)
    return [pool[k] for k in picks]


def _vs_frames(scans: list[VsConfig], opls: list[Atoms]) -> list[Atoms]:
    frames: list[Atoms] = []
    for i, vs in enumerate(scans):
        for k, source in enumerate(_scan_sources(vs, opls)):
            frames += volume_scan(
                source,
                scan_id=f"v{i}s{k}",
                points=vs.points,
                max_density=vs.max_density,
                min_density=vs.min_density,
                min_distance=vs.min_distance,
                scales=vs.scales,
            )
    return frames


def preflight(config: BuildConfig, out: Path | None) -> dict[str, list[Atoms]]:
    """Check everything a build reads before it writes anything; returns the imported frames.

    Molecule names, e0 elements, volume-scan source files, the reference calculator and
    every imported file (labels, and no element the rest of the dataset lacks).
    """
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is an existing file, not a dataset directory")
    molecules = {**(config.opls.mix if config.opls else {})}
    molecules |= config.sm.molecules if config.sm else {}
    for vs in config.vs:
        if vs.source == "packed":
            molecules |= vs.mix
        elif vs.source != "opls" and not Path(vs.source).is_file():
            raise InputError(f"vs source {vs.source} does not exist (a file of frames to scan)")
    elements = {s for name in molecules for s in get_molecule(name).symbols}
    if config.e0 is not None and config.e0.elements != "auto":
        unknown = [e for e in config.e0.elements if e not in chemical_symbols[1:]]
        if unknown:
            raise InputError(f"e0 elements: {', '.join(unknown)} are not chemical elements")
        elements |= set(config.e0.elements)
    if config.opls or config.sm or config.e0:
        calculator_class(config.reference.calculator)
    imported: dict[str, list[Atoms]] = {}
    for item in config.imports:
        frames = import_frames(
            item.path, item.key_map, item.tag, item.composition, item.method, item.config_types
        )
        extra = sorted({s for f in frames for s in f.get_chemical_symbols()} - elements)
        if elements and extra:
            raise InputError(
                f"{item.path}: element(s) {', '.join(extra)} appear in no other part of this "
                f"dataset (elements: {', '.join(sorted(elements))}); add them to [e0] elements "
                "or remove those frames"
            )
        for frame in frames:
            imported.setdefault(frame.info[CONFIG_TYPE], []).append(frame)
    return imported


def build_dataset(
    config: BuildConfig,
    out: Path,
    workers: int | str | None = None,
    retry_failed: bool | None = None,
    progress: bool = True,
) -> Dataset:
    """Generate, label and store every configured tag in ``out``; resumable.

    Input errors are found before anything is written; if one still stops a build that
    started in a new directory, that directory is removed, so the corrected command
    starts clean (an interrupted build keeps its work and resumes).
    """
    out = Path(out)
    imported = preflight(config, out)
    existed = out.exists()
    fresh = not existed or not any(out.iterdir())
    try:
        return _build(config, out, imported, workers, retry_failed, progress)
    except XferError:
        if fresh:  # back to how it was, so the corrected config starts clean there
            shutil.rmtree(out, ignore_errors=True)
            if existed:
                out.mkdir()
        raise


def _build(
    config: BuildConfig,
    out: Path,
    imported: dict[str, list[Atoms]],
    workers: int | str | None,
    retry_failed: bool | None,
    progress: bool,
) -> Dataset:
    work = out / WORK
    work.mkdir(parents=True, exist_ok=True)
    _check_config(work, config)
    spec = ReferenceSpec(config.reference.calculator, config.reference.kwargs)
    pending: dict[str, list[Atoms]] = {}
    if config.opls is not None:
        o = config.opls
        runs = [OplsRun(**r.model_dump()) for r in o.runs]
        pending["opls"] = _stage(
            work,
            "opls",
            lambda: opls_frames(
                o.mix, runs, work / "opls", o.timestep_fs, o.equilibration_ps, o.stride_ps, o.seed
            ),
        )
    if config.sm is not None:
        s = config.sm
        pending["sm"] = _stage(
            work,
            "sm",
            lambda: [
                f
                for name, count in s.molecules.items()
                for f in single_molecule_frames(
                    name, count, s.temperatures, s.seed, s.box, s.sampler, spec, s.max_bond_strain
                )
            ],
        )
    if config.vs:
        pending["vs"] = _stage(work, "vs", lambda: _vs_frames(config.vs, pending.get("opls", [])))
    if config.e0 is not None:
        e = config.e0
        pending["e0"] = _stage(
            work,
            "e0",
            lambda: isolated_atoms(
                _elements(e.elements, config, pending, imported), e.unpaired, e.box
            ),
        )
    n_workers = resolve_workers(config.labelling.workers if workers is None else workers)
    retry = config.labelling.retry_failed if retry_failed is None else retry_failed
    labelled: dict[str, list[Atoms]] = {}
    failed: list[dict[str, str]] = []
    for tag, frames in pending.items():
        if not frames:
            continue
        outcome = label_frames(
            frames,
            work / f"{tag}.labels.jsonl",
            spec,
            workers=n_workers,
            retry_failed=retry,
            progress=progress,
            desc=f"label {tag}",
            scratch=work / "scratch",
        )
        labelled[tag] = outcome.labelled
        failed += [{**f, "tag": tag} for f in outcome.failed]
    for tag, frames in imported.items():
        labelled.setdefault(tag, []).extend(frames)
    _check_unique(labelled)
    return write_dataset(
        out,
        labelled,
        failed,
        config=config.model_dump(mode="json", by_alias=True) | {"reference_method": spec.method},
    )


def _elements(
    elements: list[str] | str,
    config: BuildConfig,
    pending: dict[str, list[Atoms]],
    imported: dict[str, list[Atoms]],
) -> list[str]:
    """Explicit e0 elements, or (``auto``) every element of the other frames."""
    if elements != "auto":
        return list(elements)
    found: set[str] = set()
    for group in (*pending.values(), *imported.values()):
        for frame in group:
            found.update(frame.get_chemical_symbols())
    if not found:
        raise InputError("e0 elements = 'auto' needs other frames; list the elements instead")
    return sorted(found)


def _check_unique(labelled: dict[str, list[Atoms]]) -> None:
    seen: set[str] = set()
    for frames in labelled.values():
        for f in frames:
            if f.info[FRAME_ID] in seen:
                raise InputError(f"frame id {f.info[FRAME_ID]} appears twice (imports clash?)")
            seen.add(f.info[FRAME_ID])
