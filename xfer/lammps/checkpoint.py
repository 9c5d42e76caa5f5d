"""Checkpointed MD: LAMMPS restart files and continuing a killed run from the last one.

While a run goes, LAMMPS' ``restart`` command (``lmp_templates/checkpoint.lmp.j2``) writes
the state every ``every`` steps to two alternating files, so a kill in the middle of a
write leaves the other, complete one. A restart holds the box, atoms, velocities, image
flags, bonds, the step, the elapsed time and the thermostat/barostat state of ``fix
integrate``; the resume input re-declares everything else (styles and tables, kspace,
computes, halts, output). ``checkpoint.json`` records what the checkpoints belong to (the
run's settings) and each part of the run (first step, start time, wall time).

Resuming (:func:`plan_resume`) picks the newest checkpoint LAMMPS can read and cuts
``thermo.csv`` and ``traj.dump`` back to it: rows and frames after the checkpoint step go
(the resumed run writes them again); the last row at or before it is handed to the resumed
``fix print`` as its first line (its ``title``), which replaces the header line LAMMPS
always writes, so the file continues with no gap, repeat or stray header.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xfer.atomic import write_json
from xfer.jsonfiles import read_json
from xfer.lammps.ranks import lammps_here

STATE = "checkpoint.json"
RESTARTS = ("checkpoint.a.restart", "checkpoint.b.restart")
DEFAULT_EVERY = 1000  # steps: 0.5 ps at 0.5 fs; a restart write costs milliseconds


@dataclass(frozen=True)
class Resume:
    """Where a killed run continues: its restart file, step and thermo row at that step."""

    restart: str
    step: int
    thermo_row: str

    def template_vars(self) -> dict[str, Any]:
        return {"restart_file": self.restart, "resume": {"step": self.step,
                                                         "thermo_row": self.thermo_row}}


def template_vars(every: int, resume: Resume | None) -> dict[str, Any]:
    """Variables of the checkpoint lines in ``md.lmp.j2`` for a fresh or resumed run.

    The first write goes to the file that does not hold the checkpoint being resumed, so
    that one survives until a newer one is complete.
    """
    files = list(RESTARTS)
    if resume is not None and resume.restart == RESTARTS[0]:
        files.reverse()
    base = resume.template_vars() if resume else {"restart_file": None, "resume": None}
    return {**base, "checkpoint_every": every, "checkpoint_files": files}


def start_fresh(run_dir: Path, settings: dict[str, Any]) -> None:
    """Forget earlier checkpoints of ``run_dir``; record the settings of the new run."""
    clear(run_dir)
    for log in run_dir.glob("log.[0-9]*.lammps"):  # logs of an earlier run's parts
        log.unlink()
    write_json(run_dir / STATE, {"settings": settings, "parts": []})


def begin_part(run_dir: Path, step: int) -> None:
    """Record that a part of the run starts now at ``step`` (called just before LAMMPS)."""
    state = _state(run_dir)
    state["parts"].append({"start_step": step, "started": time.time(), "wall_s": None,
                           "end": None})
    write_json(run_dir / STATE, state)


def finish(run_dir: Path, wall_s: float, end_step: int, how: str) -> list[dict[str, Any]]:
    """Close the running part (``how`` it ended); return every part of the run."""
    state = _state(run_dir)
    state["parts"][-1].update(wall_s=round(wall_s, 3), end_step=end_step, end=how)
    write_json(run_dir / STATE, state)
    return [{k: v for k, v in part.items() if k != "started"} for part in state["parts"]]


def clear(run_dir: Path) -> None:
    """Remove the checkpoints of a finished run (its result.json is written)."""
    for name in (*RESTARTS, STATE):
        (run_dir / name).unlink(missing_ok=True)


def plan_resume(run_dir: Path, settings: dict[str, Any]) -> Resume | None:
    """The checkpoint to continue from, with the output files cut back to it; else None.

    None when ``run_dir`` holds no checkpoint of a run with these ``settings``.
    """
    state = _state(run_dir)
    if state is None or state.get("settings") != settings or not state.get("parts"):
        return None
    found = newest_restart(run_dir)
    if found is None:
        return None
    name, step = found
    _close_killed_part(run_dir, state)
    pending = state.get("resume")
    if pending and pending.get("step") == step and pending.get("restart") == name:
        row = pending["thermo_row"]  # an earlier resume cut the files, then died
    else:
        row = _row_at_or_before(run_dir / "thermo.csv", step)
        if row is None:
            return None
        state["resume"] = {"restart": name, "step": step, "thermo_row": row}
    write_json(run_dir / STATE, state)  # before cutting: a second try finds the row
    _cut_thermo(run_dir / "thermo.csv", int(row.split(",", 1)[0]))
    _cut_dump(run_dir / "traj.dump", step)
    _keep_log(run_dir, len(state["parts"]))
    return Resume(name, step, row)


def newest_restart(run_dir: Path) -> tuple[str, int] | None:
    """(file name, step) of the restart file with the highest step that LAMMPS reads."""
    readable = [(step, name) for name in RESTARTS
                if (run_dir / name).is_file() and (step := restart_step(run_dir / name))]
    if not readable:
        return None
    step, name = max(readable)
    return name, step


def restart_step(path: Path) -> int | None:
    """The step stored in restart file ``path``; None if LAMMPS cannot read it (cut short)."""
    lmp = lammps_here(["-log", "none", "-screen", "none", "-nocite"])  # the leader alone
    try:
        lmp.command(f"read_restart {path}")
        return int(lmp.extract_global("ntimestep"))
    except Exception:  # LAMMPS reports a truncated or foreign file as a plain Exception
        return None
    finally:
        lmp.close()


def _state(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / STATE
    if not path.is_file():
        return None
    return read_json(path, "delete it (the run then starts again from step 0)")


def _close_killed_part(run_dir: Path, state: dict[str, Any]) -> None:
    """A part that was killed or interrupted ran until its outputs were last written."""
    part = state["parts"][-1]
    if part.get("end") is not None:
        return
    stamps = [p.stat().st_mtime for p in (run_dir / "thermo.csv", run_dir / "traj.dump")
              if p.exists()]
    last = _last_step(run_dir / "thermo.csv")
    part.update(wall_s=round(max(stamps, default=part["started"]) - part["started"], 3),
                end_step=last, end="interrupted")


def _rows(path: Path):
    """(byte offset, step or None, line) of every line of a thermo.csv."""
    offset = 0
    with open(path, "rb") as fh:
        for raw in fh:
            head = raw.split(b",", 1)[0]
            yield offset, int(head) if head.isdigit() and raw.endswith(b"\n") else None, raw
            offset += len(raw)


def _row_at_or_before(path: Path, step: int) -> str | None:
    if not path.is_file():
        return None
    best = None
    for _, row_step, raw in _rows(path):
        if row_step is not None and row_step <= step:
            best = raw.decode().rstrip("\n")
    return best


def _last_step(path: Path) -> int | None:
    if not path.is_file():
        return None
    steps = [s for _, s, _ in _rows(path) if s is not None]
    return steps[-1] if steps else None


def _cut_thermo(path: Path, first_dropped: int) -> None:
    """Truncate thermo.csv before its row of step ``first_dropped`` (and everything after)."""
    for offset, row_step, _ in _rows(path):
        if row_step is not None and row_step >= first_dropped:
            os.truncate(path, offset)
            return


def _cut_dump(path: Path, step: int) -> None:
    """Truncate traj.dump before its first frame after ``step`` (a cut-short frame too)."""
    if not path.is_file():
        return
    offset, frame_start, expect_step = 0, 0, False
    with open(path, "rb") as fh:
        for raw in fh:
            if expect_step:
                if not raw.strip().isdigit() or int(raw) > step:
                    os.truncate(path, frame_start)
                    return
                expect_step = False
            elif raw.startswith(b"ITEM: TIMESTEP"):
                frame_start, expect_step = offset, True
            offset += len(raw)
    if expect_step:  # the file ends right after a frame's ITEM: TIMESTEP line
        os.truncate(path, frame_start)


def _keep_log(run_dir: Path, part: int) -> None:
    """Keep the killed part's LAMMPS log as ``log.<part>.lammps`` (the new part writes one)."""
    log = run_dir / "log.lammps"
    if log.exists():
        os.replace(log, run_dir / f"log.{part}.lammps")
