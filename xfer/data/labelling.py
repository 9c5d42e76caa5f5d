"""Resumable, crash-safe reference labelling of a list of frames.

Results go to an append-only JSON-lines log, one record per frame, each written with a
single ``write`` on an ``O_APPEND`` descriptor and fsync'ed before the next frame starts.
A killed run leaves at most a torn last line, which is detected (no newline or bad JSON)
and cut off on restart; frames already in the log are never computed again, so a restart
labels only the missing frames and no frame is duplicated. Failed frames (SCF not
converged, ...) are logged with the reason and skipped; ``retry_failed`` computes them again.
Only the parent process writes the log; worker processes just compute labels, even for
one worker: a label is one long call into C (tblite) during which Python runs no signal
handler, so a parent computing it itself would ignore Ctrl-C and SIGTERM until it ended.
The parent waits in short polls instead, and on an interrupt logs the labels already
finished, ends its workers and goes on with the interrupt. Workers ignore Ctrl-C (the
parent decides) and die with the parent, so a killed build leaves no worker computing.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase import Atoms
from tqdm import tqdm

from xfer.children import POLL_S, die_with_parent, held_signals
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
    """Label ``frames`` (each with a unique ``info['frame_id']``), resuming from ``log_path``.

    Labels are computed in ``workers`` spawned processes, so a script calling this needs
    the ``if __name__ == "__main__":`` guard of :mod:`multiprocessing`.
    """
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

    kept: set[str] = set()

    def keep(record: dict[str, Any]) -> None:
        """Log ``record`` once (an interrupted caller may offer it again)."""
        nonlocal computed
        with held_signals():  # the line and its count together
            if record["frame_id"] in kept:
                return
            append_record(fd, record | {"fingerprint": prints[record["frame_id"]]})
            records[record["frame_id"]] = record
            kept.add(record["frame_id"])
            computed += 1
        bar.update(1)
        report(desc, len(frames) - len(todo) + computed, len(frames), "frames")

    try:
        if todo:
            _compute(todo, spec, workers, scratch, keep)
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
    frames: list[Atoms],
    spec: ReferenceSpec,
    workers: int,
    scratch: Path | None,
    keep: Callable[[dict[str, Any]], None],
) -> None:
    """``keep`` each frame's record as it arrives from ``workers`` worker processes.

    On Ctrl-C, SIGTERM or an error every record already computed is kept too (``keep``
    ignores one it has), then the workers are ended (their frames are simply not logged).
    """
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(frames))),
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )
    unkept: set[Future] = set()
    try:
        unkept |= {pool.submit(label_one, frame, spec, scratch) for frame in frames}
        while unkept:
            done, _ = wait(unkept, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                keep(future.result())
                unkept.discard(future)
    except BaseException:
        try:
            for future in unkept:
                if future.done() and not future.cancelled() and future.exception() is None:
                    keep(future.result())
        finally:  # even if a second Ctrl-C cuts the keeping short
            _stop_workers(pool)
        raise
    pool.shutdown()


def _start_worker(parent: int) -> None:
    """Worker set-up: Ctrl-C is the parent's to handle; die when the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel queued frames and end the running ones (their labels are simply not logged)."""
    workers = list(getattr(pool, "_processes", {}).values())  # no public API before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.terminate()
    for process in workers:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()


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
