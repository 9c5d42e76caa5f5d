"""Shared checks of ``xfer md`` committee runs (record-only and uncertainty halt).

Two runs from the same start (same box, velocities, settings) follow the same trajectory
until the second one halts, so the first run's model_devi.csv says exactly where the
second must stop for a threshold between its recorded values.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from xfer.cli import main
from xfer.lammps.committee import CSV_COLUMNS

RUN = ["--mix", "EC:2,EMC:2", "--ensemble", "nvt", "--temperature", "100",
       "--timestep-fs", "0.25", "--bond-stretch-max", "5.0", "--check-every", "10",
       "--dump-every", "20", "--seed", "3"]  # fmt: skip


def read_csv(path: Path) -> list[dict[str, float]]:
    with open(path) as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        return [{k: float(v) for k, v in row.items()} for row in reader]


def dump_frames(path: Path) -> list[tuple[int, dict[str, np.ndarray]]]:
    """(step, columns) of every frame of a custom dump."""
    lines = path.read_text().splitlines()
    frames, k = [], 0
    while k < len(lines):
        step, n = int(lines[k + 1]), int(lines[k + 3])
        names = lines[k + 8].split()[2:]
        table = np.array([line.split() for line in lines[k + 9 : k + 9 + n]])
        frames.append((step, {name: table[:, i] for i, name in enumerate(names)}))
        k += 9 + n
    return frames


def run(out: Path, committee: list[str], steps: int, *extra: str) -> dict:
    time_ps = steps * 0.25 / 1000.0
    argv = ["md", "--out", str(out), *RUN, "--time-ps", f"{time_ps}", *extra]
    for entry in committee:
        argv += ["--committee", entry]
    assert main(argv) == 0
    return json.loads((out / "result.json").read_text())


def check_record_and_halt(tmp: Path, committee: list[str], steps: int, every: int,
                          halt_delay: int) -> None:
    """A huge threshold never halts and records every ``every`` steps (devi_f in the dump);
    a threshold inside the recorded range halts at the first step above it (+halt_delay)."""
    free = run(tmp / "free", committee, steps, "--deviation-every", str(every),
               "--max-force-deviation", "1e6")  # fmt: skip
    assert not free["halted"] and free["n_steps_done"] == steps
    rows = read_csv(tmp / "free" / "model_devi.csv")
    assert [int(r["step"]) for r in rows] == list(range(0, steps + 1, every))
    assert all(r["min_devi_f"] <= r["avg_devi_f"] <= r["max_devi_f"] for r in rows)
    assert all(r["max_devi_f"] > 0 and r["max_devi_v"] >= r["min_devi_v"] for r in rows)
    by_step = {int(r["step"]): r for r in rows}
    frames = dump_frames(tmp / "free" / "traj.dump")
    assert len(frames) == steps // 20 + 1
    for step, cols in frames:  # frames at deviation steps carry that step's deviation
        devi = cols["devi_f"].astype(float)
        row = by_step[step // every * every]
        assert abs(devi.max() - row["max_devi_f"]) < 1e-6 * max(1.0, row["max_devi_f"])
        assert abs(devi.mean() - row["avg_devi_f"]) < 1e-6 * max(1.0, row["avg_devi_f"])

    later = [r for r in rows if r["step"] > 0]
    threshold = float(np.median([r["max_devi_f"] for r in later]))
    first = next(r for r in later if r["max_devi_f"] > threshold)
    halted = run(tmp / "halt", committee, steps, "--deviation-every", str(every),
                 "--max-force-deviation", f"{threshold!r}")  # fmt: skip
    assert halted["halted"] and halted["halt_reason"] == "uncertainty"
    detail = halted["halt_detail"]
    assert detail["step"] == int(first["step"])
    assert halted["n_steps_done"] == detail["step"] + halt_delay
    assert abs(detail["max_devi_f"] - first["max_devi_f"]) < 1e-9 * max(1.0, threshold)
    (step, last), = dump_frames(tmp / "halt" / "last_frame.dump")
    assert step == halted["n_steps_done"]
    devi = last["devi_f"].astype(float)
    worst = int(np.argmax(devi))
    assert abs(devi[worst] - detail["max_devi_f"]) < 1e-6 * max(1.0, threshold)
    assert int(last["id"][worst]) == detail["atom_id"]
    assert last["element"][worst] == detail["element"]
    halt_rows = read_csv(tmp / "halt" / "model_devi.csv")
    assert int(halt_rows[-1]["step"]) == detail["step"]
