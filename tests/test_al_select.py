"""Active-learning frame selection on constructed run directories: first frame above the
variance threshold, the largest-variance fallback, and bond/density/uncertainty halts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from xfer.data.al_select import (
    DumpFrame,
    dump_steps,
    picked_atoms,
    read_deviations,
    select_frame,
    select_from_run,
)
from xfer.errors import InputError

THRESHOLD = 0.5  # eV^2/A^2, i.e. a deviation of sqrt(0.5) = 0.7071 eV/A


def _dump_frame(step: int, shift: float) -> str:
    rows = [f"{k + 1} 1 1 H {shift + k:.3f} 0.5 0.5 0 0 0 0.01" for k in range(2)]
    return "\n".join(
        ["ITEM: TIMESTEP", str(step), "ITEM: NUMBER OF ATOMS", "2",
         "ITEM: BOX BOUNDS pp pp pp", "0 10", "0 10", "0 10",
         "ITEM: ATOMS id mol type element x y z ix iy iz devi_f", *rows]
    ) + "\n"  # fmt: skip


def make_run(path, devi, dump_steps_, halt=None, n_steps=None, last_step=None, check_every=10):
    """A run directory as the engine leaves it: model_devi.csv, traj.dump, result.json."""
    path.mkdir(parents=True, exist_ok=True)
    lines = ["step,max_devi_f,min_devi_f,avg_devi_f,max_devi_v,min_devi_v,avg_devi_v"]
    lines += [f"{s},{d},0.001,0.01,0.1,0.01,0.05" for s, d in devi.items()]
    (path / "model_devi.csv").write_text("\n".join(lines) + "\n")
    (path / "traj.dump").write_text("".join(_dump_frame(s, s / 1000) for s in dump_steps_))
    if last_step is not None:
        (path / "last_frame.dump").write_text(_dump_frame(last_step, 9.0))
    done = n_steps if n_steps is not None else max(dump_steps_)
    result = {"halted": halt is not None, "halt_reason": halt, "n_steps_done": done,
              "settings": {"check_every": check_every}}  # fmt: skip
    (path / "result.json").write_text(json.dumps(result))
    return path


def frames(steps, source="traj.dump"):
    return [DumpFrame(source, k, s) for k, s in enumerate(steps)]


def test_first_frame_above_the_threshold_wins_over_a_larger_later_one():
    devi = {0: 0.1, 10: 0.5, 20: 0.72, 30: 0.9, 40: 0.2}
    pick = select_frame(devi, frames([0, 10, 20, 30, 40]), THRESHOLD)
    assert (pick.frame.step, pick.rule) == (20, "first_above")
    assert pick.variance == pytest.approx(0.72**2)


def test_threshold_is_a_variance_not_a_deviation():
    # 0.70 eV/A is above 0.5 as a deviation but its variance 0.49 is below 0.5 eV^2/A^2
    devi = {0: 0.70, 10: 0.69}
    pick = select_frame(devi, frames([0, 10]), THRESHOLD)
    assert (pick.frame.step, pick.rule) == (0, "max_variance")
    assert select_frame({0: math.sqrt(0.5) + 1e-9}, frames([0]), THRESHOLD).rule == "first_above"


def test_no_frame_above_threshold_takes_the_largest_variance_earliest_on_ties():
    devi = {0: 0.1, 10: 0.4, 20: 0.3, 30: 0.4}
    pick = select_frame(devi, frames([0, 10, 20, 30]), THRESHOLD)
    assert (pick.frame.step, pick.rule, pick.max_devi_f) == (10, "max_variance", 0.4)


def test_frames_use_the_latest_deviation_step_at_or_before_them():
    devi = {0: 0.1, 20: 0.8}
    pick = select_frame(devi, frames([10, 30]), THRESHOLD)
    assert (pick.frame.step, pick.max_devi_f) == (30, 0.8)  # step 10 carries step 0's 0.1


def test_bond_halt_takes_largest_variance_before_the_last_passed_check():
    # halt at 50 (checks every 10): frames at 50 and the halt frame are excluded,
    # although they have the largest deviation
    devi = {0: 0.1, 10: 0.3, 20: 0.2, 30: 0.25, 40: 0.35, 50: 3.0}
    pick = select_frame(devi, frames([0, 10, 20, 30, 40, 50]) + frames([50], "last_frame.dump"),
                        THRESHOLD, "bond", halt_step=50, check_every=10)  # fmt: skip
    assert (pick.frame.step, pick.rule) == (40, "max_variance")
    pick = select_frame(devi, frames([0, 10, 20, 30, 40, 50]), THRESHOLD, "density", 50, 20)
    assert pick.frame.step == 10  # last good check at 30


def test_bond_halt_before_any_good_frame_selects_nothing():
    pick = select_frame({0: 0.9}, frames([0]), THRESHOLD, "bond", halt_step=5, check_every=10)
    assert pick is None


def test_uncertainty_halt_selects_the_halt_frame():
    # DeePMD halts one step after the deviation step (file mode): last_frame at 31
    devi = {0: 0.1, 10: 0.2, 20: 0.3, 30: 1.1}
    pick = select_frame(devi, frames([0, 20]) + frames([31], "last_frame.dump"), THRESHOLD,
                        "uncertainty", halt_step=31)  # fmt: skip
    assert (pick.frame.source, pick.frame.step, pick.rule) == ("last_frame.dump", 31, "first_above")


def test_max_variance_rule_ignores_the_threshold():
    devi = {0: 0.8, 10: 1.5, 20: 0.9}
    pick = select_frame(devi, frames([0, 10, 20]), THRESHOLD, rule="max_variance")
    assert (pick.frame.step, pick.rule) == (10, "max_variance")


def test_bad_threshold_and_missing_halt_step_are_errors():
    with pytest.raises(InputError, match="positive"):
        select_frame({0: 1.0}, frames([0]), 0.0)
    with pytest.raises(InputError, match="bond halt needs the step"):
        select_frame({0: 1.0}, frames([0]), THRESHOLD, "bond")


def test_run_directory_files_give_the_same_pick_and_its_atoms(tmp_path):
    run = make_run(tmp_path / "run", {0: 0.1, 100: 0.3, 200: 0.9, 300: 0.2}, [0, 100, 200, 300])
    assert dump_steps(run / "traj.dump") == [0, 100, 200, 300]
    assert read_deviations(run / "model_devi.csv")[200] == 0.9
    pick, result = select_from_run(run, THRESHOLD)
    assert (pick.frame.step, pick.frame.index, pick.rule) == (200, 2, "first_above")
    atoms = picked_atoms(run, pick)
    assert atoms.info["step"] == 200 and np.allclose(atoms.positions[:, 0], [0.2, 1.2])
    assert list(atoms.arrays["mol_id"]) == [1, 1]


def test_run_directory_with_density_halt_and_torn_dump(tmp_path):
    run = make_run(tmp_path / "run", {0: 0.1, 10: 0.4, 20: 0.6, 30: 2.0}, [0, 10, 20, 30],
                   halt="density", n_steps=30, last_step=30)  # fmt: skip
    with open(run / "traj.dump", "a") as fh:
        fh.write(_dump_frame(40, 0.0)[:60])  # torn frame of a killed writer
    assert dump_steps(run / "traj.dump") == [0, 10, 20, 30]
    pick, _ = select_from_run(run, THRESHOLD)
    assert (pick.frame.step, pick.rule) == (20, "max_variance")


def test_missing_or_malformed_deviation_file_is_one_clear_error(tmp_path):
    run = make_run(tmp_path / "run", {0: 0.1}, [0])
    (run / "model_devi.csv").unlink()
    with pytest.raises(InputError, match="model_devi.csv: no such file"):
        select_from_run(run, THRESHOLD)
    (run / "model_devi.csv").write_text("step,other\n0,1\n")
    with pytest.raises(InputError, match="needs the columns step and max_devi_f"):
        select_from_run(run, THRESHOLD)


def test_unfinished_or_corrupt_result_is_one_clear_error(tmp_path):
    run = make_run(tmp_path / "run", {0: 0.1}, [0])
    (run / "result.json").write_text("{")
    with pytest.raises(InputError, match="result.json is not valid JSON"):
        select_from_run(run, THRESHOLD)
    (run / "result.json").unlink()
    with pytest.raises(InputError, match="no result.json"):
        select_from_run(run, THRESHOLD)
