"""What a result was made from: file hashes and library versions, each computed one way.

Models, datasets, campaigns and reports all record these, so that two runs can be told
apart (or shown identical) from their metadata alone.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
from collections.abc import Iterable
from pathlib import Path

CHUNK_BYTES = 1 << 20  # files are hashed in 1 MiB chunks (datasets can be large)


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions(names: Iterable[str], missing: str | None = None) -> dict[str, str]:
    """Python's and each distribution's version; absent ones get ``missing`` (or are left out)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            if missing is not None:
                versions[name] = missing
    return versions
