"""Checkpointed MD: a real ``xfer md`` killed mid-run continues from its last checkpoint.

Each kill is a real SIGKILL (or SIGTERM) of a running process, sent once thermo.csv shows
the run past a checkpoint; the rerun must finish the requested steps with every thermo
row and dump frame exactly once, starting from the checkpoint's state.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xfer.lammps.checkpoint import RESTARTS, STATE, newest_restart
from xfer.md import MDSettings, run_md
from xfer.testing.interrupt import kill_when, last_step

XFER = [sys.executable, "-m", "xfer.cli"]
SMALL = ["--mix", "EC:4,EMC:8", "--density", "1.0", "--temperature", "500", "--seed", "1",
         "--thermo-every", "10", "--dump-every", "20"]
SETTINGS = dict(potential="opls", mix={"EC": 4, "EMC": 8}, density=1.0, temperature=500.0,
                seed=1, thermo_every=10, dump_every=20)


def thermo_steps(run: Path) -> np.ndarray:
    return np.genfromtxt(run / "thermo.csv", delimiter=",", names=True)["step"].astype(int)


def dump_steps(run: Path) -> list[int]:
    lines = (run / "traj.dump").read_text().splitlines()
    return [int(lines[k + 1]) for k, line in enumerate(lines) if line == "ITEM: TIMESTEP"]


def rows(run: Path) -> dict[int, str]:
    text = (run / "thermo.csv").read_text().splitlines()[1:]
    return {int(line.split(",")[0]): line for line in text}


def frame(run: Path, step: int) -> str:
    frames = (run / "traj.dump").read_text().split("ITEM: TIMESTEP\n")[1:]
    return next(f for f in frames if int(f.split("\n", 1)[0]) == step)


def md_cli(out: Path, *extra: str) -> list[str]:
    return [*XFER, "md", *SMALL, "--time-ps", "0.5", "--checkpoint-every", "100",
            "--out", str(out), *extra]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The same 1000-step run, never interrupted."""
    out = tmp_path_factory.mktemp("reference") / "run"
    run_md(MDSettings(**SETTINGS, time_ps=0.5, checkpoint_every=100), out)
    return out


@pytest.fixture(scope="module")
def killed(tmp_path_factory) -> Path:
    """A 1000-step run SIGKILLed after step 450 (checkpoints every 100 steps)."""
    out = tmp_path_factory.mktemp("killed") / "run"
    assert kill_when(md_cli(out), out / "thermo.csv", 450) == -signal.SIGKILL
    assert not (out / "result.json").exists()
    return out


def copy(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


def test_killed_run_resumes_from_its_checkpoint(killed, reference, tmp_path):
    run = copy(killed, tmp_path)
    killed_at = last_step(run / "thermo.csv")
    name, checkpoint = newest_restart(run)
    assert checkpoint % 100 == 0 and 400 <= checkpoint <= killed_at
    proc = subprocess.run(md_cli(run), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert f"completed (resumed at step {checkpoint})" in " ".join(proc.stdout.split())
    result = json.loads((run / "result.json").read_text())
    assert result["n_steps_done"] == result["n_steps_requested"] == 1000
    assert result["t_stab_ps"] == pytest.approx(0.5) and not result["halted"]
    first, second = result["parts"]
    assert first["start_step"] == 0 and first["end"] == "interrupted"
    assert first["end_step"] >= killed_at - 10 and first["wall_s"] > 0
    assert second["start_step"] == checkpoint and second["end"] == "completed"
    assert result["wall_s"] == pytest.approx(first["wall_s"] + second["wall_s"], abs=0.01)
    # every step once, none missing
    assert thermo_steps(run).tolist() == list(range(0, 1001, 10))
    assert dump_steps(run) == list(range(0, 1001, 20))
    # continuity: up to the checkpoint the rows are the killed run's, which match an
    # uninterrupted run bit for bit; the first resumed rows continue from that state
    resumed, uninterrupted = rows(run), rows(reference)
    assert all(resumed[s] == uninterrupted[s] for s in range(0, checkpoint + 1, 10))
    assert frame(run, checkpoint) == frame(reference, checkpoint)
    after = np.array([[float(x) for x in resumed[checkpoint + 10].split(",")],
                      [float(x) for x in uninterrupted[checkpoint + 10].split(",")]])
    assert np.allclose(after[0], after[1], rtol=1e-4, atol=1e-3), after
    # the checkpoints of a finished run are gone; the killed part's log is kept
    assert not any((run / n).exists() for n in (*RESTARTS, STATE))
    assert (run / "log.1.lammps").is_file() and (run / "log.lammps").is_file()


def test_a_cut_short_newest_checkpoint_falls_back_to_the_other(killed, tmp_path):
    run = copy(killed, tmp_path)
    name, newest = newest_restart(run)
    data = (run / name).read_bytes()
    (run / name).write_bytes(data[: len(data) // 2])  # as if killed during the write
    other, older = newest_restart(run)
    assert other != name and older == newest - 100
    result = run_md(MDSettings(**SETTINGS, time_ps=0.5, checkpoint_every=100), run)
    assert result["parts"][1]["start_step"] == older
    assert thermo_steps(run).tolist() == list(range(0, 1001, 10))
    assert dump_steps(run) == list(range(0, 1001, 20))


def test_other_settings_start_again_from_step_0(killed, tmp_path):
    run = copy(killed, tmp_path)
    result = run_md(MDSettings(**{**SETTINGS, "temperature": 450.0}, time_ps=0.1), run)
    assert [p["start_step"] for p in result["parts"]] == [0]
    assert thermo_steps(run).tolist() == list(range(0, 201, 10))


def test_sigterm_then_rerun_continues(tmp_path):
    out = tmp_path / "run"
    code = kill_when(md_cli(out), out / "thermo.csv", 250, sig=signal.SIGTERM)
    assert code != 0 and not (out / "result.json").exists()
    proc = subprocess.run(md_cli(out), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["n_steps_done"] == 1000 and result["parts"][1]["start_step"] >= 200
    assert thermo_steps(out).tolist() == list(range(0, 1001, 10))
    assert dump_steps(out) == list(range(0, 1001, 20))


def test_density_halt_still_fires_after_a_resume(tmp_path):
    """The halts are re-declared on resume: the expanding hot box halts as it would have."""
    hot = dict(SETTINGS, temperature=1500.0, time_ps=1.0, density_range=(0.9, 2.0),
               checkpoint_every=100)
    whole = run_md(MDSettings(**hot), tmp_path / "whole")
    assert whole["halt_reason"] == "density" and whole["n_steps_done"] >= 300
    out = tmp_path / "run"
    command = [*XFER, "md", *SMALL, "--temperature", "1500", "--time-ps", "1.0",
               "--density-range", "0.9", "2.0", "--checkpoint-every", "100", "--out", str(out)]
    kill_when(command, out / "thermo.csv", whole["n_steps_done"] // 2)
    result = run_md(MDSettings(**hot), out)
    assert len(result["parts"]) == 2 and result["parts"][1]["end"] == "halted"
    assert result["halt_reason"] == "density"
    assert abs(result["n_steps_done"] - whole["n_steps_done"]) <= 50
    assert result["halt_detail"]["density_g_cm3"] < 0.9
    assert len(set(thermo_steps(out))) == len(thermo_steps(out))


def test_checkpoint_every_0_writes_none(tmp_path):
    run_md(MDSettings(**SETTINGS, time_ps=0.1, checkpoint_every=0), tmp_path / "run")
    assert "restart " not in (tmp_path / "run" / "in.lammps").read_text()


def test_checkpoint_interval_is_not_part_of_the_finished_run_identity(tmp_path):
    first = run_md(MDSettings(**SETTINGS, time_ps=0.1, checkpoint_every=100), tmp_path / "r")
    again = run_md(MDSettings(**SETTINGS, time_ps=0.1, checkpoint_every=50), tmp_path / "r")
    assert again == first


@pytest.mark.slow
@pytest.mark.ci
def test_campaign_md_task_killed_by_its_scheduler_resumes_in_the_next_try(tmp_path):
    """A scheduler's SIGKILL of the driver ends its worker; the next try adopts the run."""
    from xfer.workflow.store import Task, TaskStore
    from xfer.workflow.tasks import execute

    task = Task("md", "opls md", {"settings": {**SETTINGS, "time_ps": 0.5,
                                               "checkpoint_every": 100}}).as_dict()
    root = tmp_path / "campaign"
    directory = TaskStore(root).task_dir("md", task["key"])
    driver = [sys.executable, "-c", "import sys, json; from xfer.workflow.tasks import execute; "
              f"execute({str(root)!r}, json.loads(sys.argv[1]))", json.dumps(task)]
    kill_when(driver, directory / "attempt-1" / "run" / "thermo.csv", 450)
    done = execute(str(root), task)
    assert done["attempt"] == 2
    run = directory / "attempt-2" / "run"
    result = json.loads((run / "result.json").read_text())
    assert result["n_steps_done"] == 1000 and result["parts"][0]["end"] == "interrupted"
    assert result["parts"][1]["start_step"] >= 400
    assert thermo_steps(run).tolist() == list(range(0, 1001, 10))
    assert dump_steps(run) == list(range(0, 1001, 20))
    assert not (directory / "attempt-1" / "run").exists()


@pytest.mark.slow
def test_tiny_gap_model_run_resumes(gap_model, tmp_path):
    """An ML pair style (pair quip, a plugin) is re-declared after read_restart."""
    out = tmp_path / "run"
    command = [*XFER, "md", "--potential", "ml", "--model", str(gap_model.path),
               "--mix", "EC:2,EMC:2", "--density", "1.0", "--ensemble", "nvt",
               "--temperature", "200", "--timestep-fs", "0.25", "--bond-stretch-rel", "5",
               "--time-ps", "0.05", "--thermo-every", "5", "--dump-every", "10",
               "--checkpoint-every", "50", "--out", str(out)]  # the tiny GAP is not stable
    kill_when(command, out / "thermo.csv", 110)
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["n_steps_done"] == 200 and result["parts"][1]["start_step"] >= 100
    assert result["pair_style"].startswith("quip") and not result["halted"]
    assert thermo_steps(out).tolist() == list(range(0, 201, 5))
    assert dump_steps(out) == list(range(0, 201, 10))
    resumed = [float(x) for x in rows(out)[result["parts"][1]["start_step"] + 5].split(",")]
    assert np.all(np.isfinite(resumed))


@pytest.mark.slow
@pytest.mark.ci
def test_640_atoms_killed_half_way_resumes(tmp_path):
    """The acceptance system with the default checkpoint interval (1000 of 4000 steps)."""
    out = tmp_path / "run"
    command = [*XFER, "md", "--potential", "opls", "--mix", "EC:16,EMC:32", "--density", "1.0",
               "--ensemble", "npt", "--temperature", "500", "--pressure", "1", "--time-ps", "2",
               "--seed", "1", "--out", str(out)]
    kill_when(command, out / "thermo.csv", 2010)
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["n_atoms"] == 640 and not result["halted"]
    assert result["n_steps_done"] == result["n_steps_requested"] == 4000
    assert [p["start_step"] for p in result["parts"]] == [0, 2000]
    assert thermo_steps(out).tolist() == list(range(0, 4001, 10))
    assert dump_steps(out) == list(range(0, 4001, 100))
