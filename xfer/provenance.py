"""What a result was made from: file hashes, library versions and the host, each found one way.

Models, datasets, campaigns and reports all record these, so that two runs can be told
apart (or shown identical) from their metadata alone.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

CHUNK_BYTES = 1 << 20  # files are hashed in 1 MiB chunks (datasets can be large)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``hashlib`` algorithm name), read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes: the hash xfer records for data and models."""
    return file_digest(path, "sha256")


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


def hardware() -> dict[str, str]:
    """CPU model, core counts, memory and GPUs of this machine (for reports)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024**2:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    gpus = "none"
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=20, check=True,
            ).stdout.strip()  # fmt: skip
            gpus = ", ".join(out.splitlines()) or "none"
        except (subprocess.SubprocessError, OSError):
            gpus = "nvidia-smi failed"
    return {
        "cpu": cpu,
        "logical_cpus": str(os.cpu_count()),
        "usable_cpus": str(len(os.sched_getaffinity(0))),
        "memory": memory,
        "gpus": gpus,
        "system": f"{platform.system()} {platform.machine()}",
    }
