"""A committee ``xfer md`` run (an AL exploration run) SIGKILLed mid-run continues from its
last checkpoint: every deviation step once in model_devi.csv, the killed part's rows kept
as they were, and every dump frame's devi_f matching its row, for DeePMD (deviation read
from its file between run chunks) and GAP (deviation in-engine, ``pair quip``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures.committee_md import RUN, dump_frames, read_csv
from fixtures.deepmd import RECIPE
from fixtures.gap import TEST_HYPER

from xfer.backends import get_backend
from xfer.cli import main
from xfer.lammps.committee import DEVI_FILE, KEPT_FILE
from xfer.testing.interrupt import kill_when

EVERY = 10
DEEPMD = (280, 50, 160)  # steps, checkpoint interval, kill after (the tiny DeePMD breaks ~300)
GAP = (100, 25, 60)  # pair quip is ~20x slower per step


def command(out: Path, members: list[str], steps: int, checkpoint: int) -> list[str]:
    argv = [sys.executable, "-m", "xfer.cli", "md", "--out", str(out), *RUN,
            "--time-ps", f"{steps * 0.25 / 1000}", "--deviation-every", str(EVERY),
            "--max-force-deviation", "1e6", "--checkpoint-every", str(checkpoint)]  # fmt: skip
    for member in members:
        argv += ["--committee", member]
    return argv


@pytest.fixture(scope="module")
def gap_members(gap_train_file, tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("gap_committee")
    backend = get_backend("gap")
    return [str(backend.train(gap_train_file, gap_train_file, root / f"seed{s}", s,
                              TEST_HYPER).path) for s in (0, 1)]  # fmt: skip


def check_resumed(members: list[str], tmp_path: Path, sizes: tuple[int, int, int]) -> None:
    steps, checkpoint, kill = sizes
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main(command(whole, members, steps, checkpoint)[3:]) == 0
    kill_when(command(killed, members, steps, checkpoint), killed / "thermo.csv", kill)
    assert not (killed / "result.json").exists()
    before = read_csv(killed / "model_devi.csv") if (killed / "model_devi.csv").exists() else []
    assert before == []  # written at the end only: the rows live in the pair style's files
    assert main(command(killed, members, steps, checkpoint)[3:]) == 0

    result = json.loads((killed / "result.json").read_text())
    resumed_at = result["parts"][1]["start_step"]
    assert not result["halted"] and result["n_steps_done"] == steps
    assert resumed_at % checkpoint == 0 and kill - 2 * checkpoint <= resumed_at <= kill
    assert result["parts"][0]["end"] == "interrupted"
    rows, reference = read_csv(killed / "model_devi.csv"), read_csv(whole / "model_devi.csv")
    assert [int(r["step"]) for r in rows] == list(range(0, steps + 1, EVERY))
    # up to the checkpoint the rows are the killed part's: the same trajectory as the whole run
    early = [r for r in rows if r["step"] <= resumed_at]
    assert early == [r for r in reference if r["step"] <= resumed_at]
    assert all(0 < r["max_devi_f"] < 1e3 for r in rows)
    by_step = {int(r["step"]): r for r in rows}
    frames = dump_frames(killed / "traj.dump")
    assert [s for s, _ in frames] == list(range(0, steps + 1, 20))
    for step, cols in frames:  # devi_f merged into frames of both parts
        devi = cols["devi_f"].astype(float)
        assert abs(devi.max() - by_step[step]["max_devi_f"]) < 1e-6 * max(1.0, devi.max())
    assert not (killed / DEVI_FILE).exists() and not (killed / KEPT_FILE).exists()


@pytest.mark.slow
@pytest.mark.ci
def test_deepmd_committee_run_resumes_after_sigkill(deepmd_models_root, tmp_path):
    root = deepmd_models_root / "deepmd" / RECIPE
    check_resumed([str(root)], tmp_path, DEEPMD)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_gap_committee_run_resumes_after_sigkill(gap_members, tmp_path):
    check_resumed(gap_members, tmp_path, GAP)


def test_kept_rows_of_a_killed_part_are_restored_up_to_the_checkpoint(tmp_path):
    """The pair style's file (NUL bytes where a file-mode poll gave the space back, a torn
    last row) and the kept file together give each step once, none after the checkpoint."""
    from xfer.lammps.committee import CommitteeRun, DeviationLog

    row = "{} 0.1 0.1 0.1 {} 0.2 0.3\n"
    (tmp_path / KEPT_FILE).write_text(row.format(0, 0.5) + row.format(10, 0.6))
    raw = b"\0" * 40 + (row.format(20, 0.7) + row.format(30, 0.8) + "40 0.1 0.").encode()
    (tmp_path / DEVI_FILE).write_bytes(raw)

    def committee() -> CommitteeRun:
        return CommitteeRun("quip", True, 10, None, 10, ["H"], DeviationLog(tmp_path / DEVI_FILE))

    run = committee()
    run.start(resume_step=20)
    assert {s: r[3] for s, r in run.log.rows.items()} == {0: 0.5, 10: 0.6, 20: 0.7}
    assert not (tmp_path / DEVI_FILE).exists()
    kept = np.loadtxt(tmp_path / KEPT_FILE)
    assert kept[:, 0].tolist() == [0, 10, 20] and kept[:, 4].tolist() == [0.5, 0.6, 0.7]
    fresh = committee()
    fresh.start(resume_step=None)  # a fresh run forgets them
    assert fresh.log.rows == {} and (tmp_path / KEPT_FILE).read_text() == ""
