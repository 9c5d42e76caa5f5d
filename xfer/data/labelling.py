"""Resumable, crash-safe reference labelling of a list of frames.

Results go to an append-only JSON-lines log, one record per frame, each written with a
single ``write`` on an ``O_APPEND`` descriptor and fsync'ed before the next frame starts.
A killed run leaves at most a torn last line, which is detected (no newline or bad JSON)
and cut off on restart; frames already in the log are never computed again, so a restart
labels only the missing frames and no frame is duplicated. Failed frames (SCF not
converged, ...) are logged with the reason and skipped; ``retry_failed`` computes them again.
Only the parent process writes the log; workers (processes) just compute labels.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase import Atoms
from tqdm import tqdm

from xfer.data.frames import FRAME_ID, fingerprint
from xfer.data.reference import (
    Labels,
    ReferenceSpec,
    apply_labels,
    compute_labels,
    make_calculator,
)
from xfer.errors import InputError, XferError
from xfer.progress import report

MAX_REASON = 500


@dataclass
class LabelOutcome:
    """Labelled frames (input order) and the ids and reasons of frames that failed."""

    labelled: list[Atoms] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    computed: int = 0  # frames computed in this call (the rest came from the log)


def read_log(path: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """Last record per frame id and the byte length of the intact part of the log."""
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records, 0
    data = path.read_bytes()
    good = 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # torn final record of a killed run
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            break
        records[record["frame_id"]] = record
        good += len(line)
    return records, good


def append_record(fd: int, record: dict[str, Any]) -> None:
    """Append one record as one line with one write, then fsync."""
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    written = os.write(fd, line)
    if written != len(line):  # disk full or similar: never leave a half record silently
        raise OSError(f"short write to labelling log ({written} of {len(line)} bytes)")
    os.fsync(fd)


def label_frames(
    frames: list[Atoms],
    log_path: Path,
    spec: ReferenceSpec,
    workers: int = 1,
    retry_failed: bool = False,
    progress: bool = True,
    desc: str = "label",
    scratch: Path | None = None,
) -> LabelOutcome:
    """Label ``frames`` (each with a unique ``info['frame_id']``), resuming from ``log_path``."""
    ids = [f.info[FRAME_ID] for f in frames]
    if len(set(ids)) != len(ids):
        raise InputError(f"duplicate frame ids in {desc}: labelling needs unique ids")
    prints = {fid: fingerprint(f) for fid, f in zip(ids, frames, strict=True)}
    records, good = read_log(log_path)
    for fid, record in records.items():
        if fid in prints and record["fingerprint"] != prints[fid]:
            raise InputError(
                f"{log_path}: frame {fid} was labelled with a different geometry; "
                "the frames changed since the run started (use a new output directory)"
            )
    todo = [
        f
        for fid, f in zip(ids, frames, strict=True)
        if fid not in records or (retry_failed and records[fid]["status"] == "failed")
    ]
    if todo:
        make_calculator(spec)  # configuration errors are fatal here, not per-frame failures
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if log_path.exists() and log_path.stat().st_size != good:
        with open(log_path, "rb+") as fh:
            fh.truncate(good)
    computed = 0
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    bar = tqdm(
        total=len(frames),
        initial=len(frames) - len(todo),
        desc=desc,
        unit="frame",
        disable=not progress,
        mininterval=1.0,
        dynamic_ncols=True,
    )
    report(desc, len(frames) - len(todo), len(frames), "frames")
    try:
        for record in _compute(todo, spec, workers, scratch):
            append_record(fd, record | {"fingerprint": prints[record["frame_id"]]})
            records[record["frame_id"]] = record
            computed += 1
            bar.update(1)
            report(desc, len(frames) - len(todo) + computed, len(frames), "frames")
    finally:
        bar.close()
        os.close(fd)
    return _assemble(frames, records, computed)


def _assemble(frames: list[Atoms], records: dict[str, dict[str, Any]], computed: int):
    outcome = LabelOutcome(computed=computed)
    for frame in frames:
        record = records[frame.info[FRAME_ID]]
        if record["status"] == "ok":
            labelled = frame.copy()
            outcome.labelled.append(
                apply_labels(labelled, Labels.from_record(record), record["method"])
            )
        else:
            outcome.failed.append({"frame_id": record["frame_id"], "reason": record["reason"]})
    return outcome


def _compute(
    frames: list[Atoms], spec: ReferenceSpec, workers: int, scratch: Path | None
) -> Iterator[dict[str, Any]]:
    """Yield one record per frame as results arrive (in-process when ``workers`` is 1)."""
    if workers <= 1 or len(frames) <= 1:
        for frame in frames:
            yield label_one(frame, spec, scratch)
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        pending = {pool.submit(label_one, frame, spec, scratch) for frame in frames}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    except BaseException:  # Ctrl-C, SIGTERM, an error: stop now, not after every frame
        _stop_workers(pool)
        raise
    pool.shutdown()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel queued frames and end the running ones (their labels are simply not logged)."""
    workers = list(getattr(pool, "_processes", {}).values())  # no public API before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.terminate()
    for process in workers:
        process.join(timeout=10)


def label_one(frame: Atoms, spec: ReferenceSpec, scratch: Path | None = None) -> dict[str, Any]:
    """Label one frame; any calculator error becomes a ``failed`` record with its reason."""
    fid = frame.info[FRAME_ID]
    directory = None if scratch is None else scratch / fid
    start = time.perf_counter()
    record: dict[str, Any] = {"frame_id": fid, "method": spec.method}
    try:
        labels = compute_labels(frame, spec, directory)
    except XferError:
        raise
    except Exception as exc:  # a failed frame is data, not a crash
        reason = f"{type(exc).__name__}: {exc}".strip()
        record |= {"status": "failed", "reason": reason[:MAX_REASON]}
    else:
        record |= {"status": "ok"} | labels.to_record()
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
    record["seconds"] = round(time.perf_counter() - start, 4)
    return record
