"""Resumable, crash-safe labelling: SIGKILL mid-run and restart, torn log records, failed
frames recorded and skipped, parallel workers identical to serial; SIGTERM during a long
GFN2-xTB label stops the build at once and keeps what finished; workers die with a killed
build."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import xfer  # noqa: F401
from xfer.data.labelling import label_frames, read_log
from xfer.data.reference import ReferenceSpec
from xfer.data.sm import single_molecule_frames
from xfer.data.store import Dataset
from xfer.errors import InputError

N_EACH = 8  # EC and EMC frames in 8 A periodic boxes: ~0.2-0.5 s each with GFN2-xTB
CONFIG = f"""
[sm]
molecules = {{EC = {N_EACH}, EMC = {N_EACH}}}
temperatures = [300, 500]
sampler = "mmff"
box = 8.0
"""
CLI = [sys.executable, "-c", "from xfer.cli import run; run()"]


def _records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _build(config: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "dataset", "build", str(config), "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_sigkill_mid_run_then_restart_labels_every_frame_once(tmp_path):
    config = tmp_path / "sm.toml"
    config.write_text(CONFIG)
    total = 2 * N_EACH
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*CLI, "dataset", "build", str(config), "--out", str(killed), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    log = killed / "work" / "sm.labels.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and log.read_bytes().count(b"\n") >= 4:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done_at_kill = log.read_bytes().count(b"\n")
    assert 4 <= done_at_kill < total
    assert not (killed / "manifest.json").exists()
    with open(log, "ab") as fh:  # a record torn by a kill in the middle of its write
        fh.write(b'{"frame_id":"sm-EC-s1-0007","status":"ok","energy":-4')

    restarted = _build(config, killed)
    assert restarted.returncode == 0, restarted.stderr
    records = _records(log)  # the torn tail was cut, every line is a whole record
    assert sorted(r["frame_id"] for r in records) == sorted({r["frame_id"] for r in records})
    assert len(records) == total

    reference = tmp_path / "uninterrupted"
    assert _build(config, reference).returncode == 0
    got = Dataset.open(killed).frames()
    want = Dataset.open(reference).frames()
    assert [f.info["frame_id"] for f in got] == [f.info["frame_id"] for f in want]
    assert len({f.info["frame_id"] for f in got}) == total
    for a, b in zip(got, want, strict=True):
        assert a.info["REF_energy"] == pytest.approx(b.info["REF_energy"], abs=1e-9)
        np.testing.assert_allclose(a.arrays["REF_forces"], b.arrays["REF_forces"], atol=1e-9)
        assert np.array_equal(a.info["REF_virial"], b.info["REF_virial"])
        assert np.array_equal(a.positions, b.positions)
    assert (killed / "sm.extxyz").read_bytes() == (reference / "sm.extxyz").read_bytes()


@pytest.fixture(scope="module")
def molecules():
    return single_molecule_frames("EC", 3, [400], sampler="mmff") + single_molecule_frames(
        "EMC", 3, [400], sampler="mmff"
    )


def test_failed_frames_are_recorded_skipped_and_retried_on_request(tmp_path, molecules):
    log = tmp_path / "labels.jsonl"
    bad = ReferenceSpec("tblite", {"max_iterations": 2})
    outcome = label_frames(molecules, log, bad, progress=False)
    assert outcome.labelled == [] and len(outcome.failed) == len(molecules)
    assert all("SCF not converged" in f["reason"] for f in outcome.failed)
    again = label_frames(molecules, log, ReferenceSpec(), progress=False)
    assert again.computed == 0 and len(again.failed) == len(molecules)  # skipped, not redone
    retried = label_frames(molecules, log, ReferenceSpec(), retry_failed=True, progress=False)
    assert retried.computed == len(molecules) and not retried.failed
    assert all(f.info["REF_method"] == "tblite:GFN2-xTB" for f in retried.labelled)
    assert all("REF_virial" not in f.info for f in retried.labelled)  # not periodic


def test_torn_tail_is_cut_and_changed_geometry_is_refused(tmp_path, molecules):
    log = tmp_path / "labels.jsonl"
    label_frames(molecules[:2], log, ReferenceSpec(), progress=False)
    intact = log.stat().st_size
    with open(log, "ab") as fh:
        fh.write(b'{"frame_id": "sm-EMC-s1-0000", "status": "o')
    records, good = read_log(log)
    assert good == intact and len(records) == 2
    outcome = label_frames(molecules, log, ReferenceSpec(), progress=False)
    assert outcome.computed == len(molecules) - 2 and len(outcome.labelled) == len(molecules)
    assert len(_records(log)) == len(molecules)
    moved = [f.copy() for f in molecules]
    moved[0].positions[0, 0] += 0.01
    with pytest.raises(InputError, match="different geometry"):
        label_frames(moved, log, ReferenceSpec(), progress=False)


def test_two_worker_processes_give_the_serial_labels(tmp_path, molecules):
    """Same frames, same labels (one worker process, then two). Compared to 1e-9 eV, not
    bit for bit: the SCF's summation order may differ between processes in the last digit
    (seen: 1e-13 eV out of 562 eV); a mislabelled or swapped frame differs by far more."""
    serial = label_frames(molecules, tmp_path / "a.jsonl", ReferenceSpec(), progress=False)
    parallel = label_frames(
        molecules, tmp_path / "b.jsonl", ReferenceSpec(), workers=2, progress=False
    )
    assert parallel.computed == len(molecules)
    for a, b in zip(serial.labelled, parallel.labelled, strict=True):
        assert a.info["frame_id"] == b.info["frame_id"]
        assert a.info["REF_energy"] == pytest.approx(b.info["REF_energy"], abs=1e-9)
        np.testing.assert_allclose(a.arrays["REF_forces"], b.arrays["REF_forces"], atol=1e-9)


def test_unknown_calculator_is_a_configuration_error_not_a_failed_frame(tmp_path, molecules):
    with pytest.raises(InputError, match="unknown reference calculator"):
        label_frames(molecules, tmp_path / "c.jsonl", ReferenceSpec("no-such-code"))
    assert not (tmp_path / "c.jsonl").exists()


# 80-atom EC/EMC boxes: one GFN2-xTB label takes seconds (a 160-atom one: 20 s on an idle
# core), long enough to tell a build that stops at once from one that waits for the label
LONG_LABELS = """
[vs]
source = "packed"
scans = 1
points = 2
mix = {EC = 2, EMC = 4}
"""


@pytest.fixture
def start_build(tmp_path: Path):
    """Starts ``xfer dataset build`` of LONG_LABELS in its own session; whatever the test's
    outcome, nothing of it outlives the test."""
    started: list[subprocess.Popen] = []

    def start(workers: int) -> tuple[subprocess.Popen, Path]:
        proc, log = _start_build(tmp_path, workers)
        started.append(proc)
        return proc, log

    yield start
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _start_build(tmp_path: Path, workers: int) -> tuple[subprocess.Popen, Path]:
    config = tmp_path / "vs.toml"
    config.write_text(LONG_LABELS)
    out = tmp_path / "out"
    command = [*CLI, "dataset", "build", str(config), "--out", str(out), "--no-progress",
               "--workers", str(workers)]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    return proc, out / "work" / "vs.labels.jsonl"


def _wait_for(ready, proc: subprocess.Popen, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the build never got there"
        time.sleep(0.1)


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _workers(proc: subprocess.Popen) -> list[int]:
    """The labelling worker processes of the build ``proc``."""
    found = []
    for pid in _children(proc.pid):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


def _maps(pid: int) -> bytes:
    """The libraries ``pid`` has loaded (empty once it is gone)."""
    try:
        return Path(f"/proc/{pid}/maps").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_sigterm_during_a_label_stops_at_once_keeps_finished_labels_and_resumes(
    tmp_path, start_build
):
    """The build labels in a worker process, so SIGTERM is handled while GFN2-xTB runs (in
    the process itself the handler waited for the label: 39.6 s measured before the fix)."""
    proc, log = start_build(workers=1)
    _wait_for(lambda: log.is_file() and log.read_bytes().count(b"\n") == 1, proc)
    first = log.read_bytes()
    label_s = json.loads(first)["seconds"]
    time.sleep(0.5)  # the second label is under way
    workers = _workers(proc)
    assert len(workers) == 1
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=600)
    stopped_s = time.monotonic() - sent
    assert proc.returncode == 143, err
    assert stopped_s < 0.5 * label_s, (stopped_s, label_s)  # not after the running label
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("terminated (SIGTERM): xfer dataset build")
    assert "run the same command again to resume" in lines[0]
    assert log.read_bytes() == first  # the finished label is kept, nothing half-written
    assert not (log.parent.parent / "manifest.json").exists()
    assert not _alive(workers[0])

    resumed = _build(tmp_path / "vs.toml", log.parent.parent)
    assert resumed.returncode == 0, resumed.stderr
    records = _records(log)
    assert len(records) == 2 and log.read_bytes().startswith(first)  # only the missing one
    assert len(Dataset.open(log.parent.parent).frames()) == 2


@pytest.mark.slow
def test_workers_die_with_a_sigkilled_build(start_build):
    proc, log = start_build(workers=2)
    workers: list[int] = []

    def computing() -> bool:  # both past their start-up, inside GFN2-xTB
        workers[:] = _workers(proc)
        return len(workers) == 2 and all(b"tblite" in _maps(p) for p in workers)

    _wait_for(computing, proc)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], "a worker outlived its killed build"
    assert not log.read_bytes()  # nobody wrote a label after the kill
