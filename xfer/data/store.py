"""Dataset on disk: one extxyz file per tag plus ``manifest.json`` (counts, methods, hashes).

The manifest lists, per file, its SHA-256 and frame count, the frame counts per tag and
composition, the reference method(s) of the labels and the frames that failed labelling.
Every file is written atomically; the manifest is written last, so a directory with a
manifest is a complete dataset.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ase.io
from ase import Atoms

from xfer.atomic import atomic_path, write_json
from xfer.data.frames import COMPOSITION, CONFIG_TYPE, FRAME_ID, METHOD_KEY
from xfer.errors import InputError
from xfer.jsonfiles import CorruptFile, read_json, require_keys
from xfer.provenance import file_sha256

FORMAT = "xfer-dataset/1"
MANIFEST = "manifest.json"
_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def write_frames(path: Path, frames: list[Atoms]) -> None:
    """Write ``frames`` as extxyz atomically (labels stay in info/arrays, no calculator)."""
    with atomic_path(path) as tmp:
        ase.io.write(tmp, frames, format="extxyz")


def read_frames(path: Path) -> list[Atoms]:
    """Read every frame of an extxyz file, naming the file and frame on failure."""
    frames: list[Atoms] = []
    try:
        for frame in ase.io.iread(path, index=":", format="extxyz"):
            frames.append(frame)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except Exception as exc:
        raise InputError(
            f"{path}: frame {len(frames)} is malformed or truncated ({type(exc).__name__}: {exc})"
        ) from exc
    return frames


def counts(frames: list[Atoms]) -> dict[str, dict[str, int]]:
    """Frame counts per tag and composition."""
    table: dict[str, Counter[str]] = {}
    for frame in frames:
        tag = str(frame.info.get(CONFIG_TYPE, "untagged"))
        table.setdefault(tag, Counter())[str(frame.info.get(COMPOSITION, "unknown"))] += 1
    return {tag: dict(sorted(c.items())) for tag, c in table.items()}


@dataclass
class Dataset:
    """A dataset directory and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> Dataset:
        path = Path(path)
        target = path / MANIFEST
        if not target.exists():
            raise InputError(f"{path} is not a dataset (no {MANIFEST}; build one first)")
        fix = "rebuild the dataset (xfer dataset build CONFIG --out a new directory)"
        manifest = read_json(target, fix)
        if manifest.get("format") != FORMAT:
            raise InputError(f"{target}: unknown dataset format {manifest.get('format')!r}")
        require_keys(manifest, target, {"files": dict, "total_frames": int}, fix)
        for name, entry in manifest["files"].items():
            if not isinstance(entry, dict) or not isinstance(entry.get("tag"), str):
                raise CorruptFile(f"{target}: files entry {name!r} has no tag: {fix}")
        return cls(path, manifest)

    @property
    def tags(self) -> list[str]:
        return [entry["tag"] for entry in self.manifest["files"].values()]

    def frames(self, tags: list[str] | None = None) -> list[Atoms]:
        """All frames (file order, then frame order), optionally only of ``tags``."""
        out: list[Atoms] = []
        for name, entry in self.manifest["files"].items():
            if tags is None or entry["tag"] in tags:
                out.extend(read_frames(self.path / name))
        return out

    def verify(self) -> list[str]:
        """Names of files whose content no longer matches the manifest's hash."""
        return [
            name
            for name, entry in self.manifest["files"].items()
            if not (self.path / name).exists() or file_sha256(self.path / name) != entry["sha256"]
        ]


def write_dataset(
    out_dir: Path,
    frames_by_tag: dict[str, list[Atoms]],
    failed: list[dict[str, str]] | None = None,
    config: dict[str, Any] | None = None,
) -> Dataset:
    """Write ``<tag>.extxyz`` per tag, then the manifest; returns the opened dataset."""
    out_dir = Path(out_dir)
    files: dict[str, dict[str, Any]] = {}
    everything: list[Atoms] = []
    for tag, frames in frames_by_tag.items():
        if not _TAG_RE.match(tag):
            raise InputError(f"bad tag {tag!r}: use letters, digits, '-' and '_'")
        ids = [f.info.get(FRAME_ID) for f in frames]
        if None in ids or len(set(ids)) != len(ids):
            raise InputError(f"tag {tag}: every frame needs a unique info['frame_id']")
        name = f"{tag}.extxyz"
        write_frames(out_dir / name, frames)
        files[name] = {"tag": tag, "frames": len(frames), "sha256": file_sha256(out_dir / name)}
        everything.extend(frames)
    all_ids = [f.info[FRAME_ID] for f in everything]
    if len(set(all_ids)) != len(all_ids):
        dup = sorted(k for k, n in Counter(all_ids).items() if n > 1)
        raise InputError(f"frame ids repeated across tags: {', '.join(dup[:5])}")
    from xfer import __version__

    manifest = {
        "format": FORMAT,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "xfer_version": __version__,
        "total_frames": len(everything),
        "counts": counts(everything),
        "reference_methods": dict(Counter(str(f.info.get(METHOD_KEY)) for f in everything)),
        "files": files,
        "failed": failed or [],
        "config": config or {},
    }
    write_json(out_dir / MANIFEST, manifest)
    return Dataset(out_dir, manifest)


def add_frames(path: Path, tag: str, frames: list[Atoms]) -> Dataset:
    """Add labelled ``frames`` under ``tag`` (e.g. active-learned ones) and rewrite the manifest.

    Frames whose id is already in the dataset are rejected (never duplicated).
    """
    dataset = Dataset.open(path)
    by_tag = {t: dataset.frames([t]) for t in dataset.tags}
    existing = {f.info[FRAME_ID] for group in by_tag.values() for f in group}
    clash = sorted(f.info.get(FRAME_ID, "?") for f in frames if f.info.get(FRAME_ID) in existing)
    if clash:
        raise InputError(f"{path}: frames already in the dataset: {', '.join(clash[:5])}")
    by_tag.setdefault(tag, []).extend(frames)
    return write_dataset(
        Path(path), by_tag, dataset.manifest.get("failed"), dataset.manifest.get("config")
    )
