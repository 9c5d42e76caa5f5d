"""Which frame of an exploration trajectory active learning labels (SPEC section 6).

Per trajectory one frame: the first frame whose maximum (over atoms) committee force
*variance* exceeds the threshold, else the frame of largest variance. When the run was
stopped by a bond, density, lost-atom or NaN halt, only frames from before the halt count
(the frame that tripped the halt is unphysical by construction): frames at steps up to the
last check that passed, ``halt_step - check_every``.

Units: the engine writes the committee force *deviation* ``max_devi_f`` (eV/A) to
``model_devi.csv``; the threshold here is a variance (eV^2/A^2, the paper's 0.5), compared
as ``max_devi_f ** 2 > max_variance``, i.e. a deviation above ``sqrt(max_variance)``.

A frame's deviation is that of the latest deviation step at or before its step (exact when
the dump interval is a multiple of the deviation interval; a DeePMD uncertainty halt writes
its ``last_frame.dump`` one step after the deviation step that stopped it).
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ase import Atoms

from xfer.errors import InputError
from xfer.jsonfiles import read_json
from xfer.lammps.dump import read_frames

DEVIATIONS = "model_devi.csv"
TRAJECTORY = "traj.dump"
LAST_FRAME = "last_frame.dump"
UNCERTAINTY = "uncertainty"
Rule = Literal["first_above", "max_variance"]


@dataclass(frozen=True)
class DumpFrame:
    """A frame of a run directory: the dump file, its index there and its MD step."""

    source: str
    index: int
    step: int


@dataclass(frozen=True)
class Pick:
    """The selected frame, its maximum force deviation (eV/A) and the rule that chose it."""

    frame: DumpFrame
    max_devi_f: float
    rule: Rule

    @property
    def variance(self) -> float:
        """Maximum committee force variance of the frame (eV^2/A^2)."""
        return self.max_devi_f**2


def frame_deviation(
    deviations: Mapping[int, float], steps: Sequence[int], step: int
) -> float | None:
    """``max_devi_f`` of the latest deviation step at or before ``step`` (``steps`` sorted)."""
    k = bisect.bisect_right(steps, step) - 1
    return None if k < 0 else deviations[steps[k]]


def select_frame(
    deviations: Mapping[int, float],
    frames: Sequence[DumpFrame],
    max_variance: float,
    halt_reason: str | None = None,
    halt_step: int | None = None,
    check_every: int = 1,
    rule: Rule = "first_above",
) -> Pick | None:
    """Apply the selection rule to one trajectory; None when no frame qualifies.

    ``rule = "max_variance"`` skips the first-above-threshold step and always takes the
    frame of largest variance. Ties go to the earliest frame.
    """
    if max_variance <= 0:
        raise InputError(f"the force-variance threshold must be positive, got {max_variance}")
    if halt_reason is not None and halt_reason != UNCERTAINTY:
        if halt_step is None:
            raise InputError(f"a {halt_reason} halt needs the step it fired at")
        last_good = halt_step - check_every
        frames = [f for f in frames if f.source != LAST_FRAME and f.step <= last_good]
    steps = sorted(deviations)
    scored: list[tuple[DumpFrame, float]] = []
    seen: set[int] = set()
    for frame in sorted(frames, key=lambda f: (f.step, f.source != TRAJECTORY, f.index)):
        devi = frame_deviation(deviations, steps, frame.step)
        if devi is None or frame.step in seen:
            continue
        seen.add(frame.step)
        scored.append((frame, devi))
    if not scored:
        return None
    if rule == "first_above":
        for frame, devi in scored:
            if devi**2 > max_variance:
                return Pick(frame, devi, "first_above")
    frame, devi = max(scored, key=lambda item: item[1])  # max keeps the first of equals
    return Pick(frame, devi, "max_variance")


def read_deviations(path: Path) -> dict[int, float]:
    """``step -> max_devi_f`` from a run's ``model_devi.csv``."""
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"step", "max_devi_f"} <= set(reader.fieldnames):
                raise InputError(f"{path}: needs the columns step and max_devi_f")
            return {int(row["step"]): float(row["max_devi_f"]) for row in reader}
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (was the run made with a committee?)") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: malformed row ({exc})") from None


def dump_steps(path: Path) -> list[int]:
    """MD steps of the complete frames of a LAMMPS custom dump, in file order."""
    steps: list[int] = []
    with open(path) as fh:
        lines = iter(fh)
        for line in lines:
            if line.rstrip("\n") != "ITEM: TIMESTEP":
                break
            header = [next(lines, "") for _ in range(8)]
            if not header[-1]:
                break
            n = int(header[2])
            body = [next(lines, None) for _ in range(n)]
            if n and body[-1] is None:
                break  # a torn last frame
            steps.append(int(header[0]))
    return steps


def run_frames(run_dir: Path) -> list[DumpFrame]:
    """Every complete frame of ``traj.dump`` and ``last_frame.dump`` (if present)."""
    out: list[DumpFrame] = []
    for name in (TRAJECTORY, LAST_FRAME):
        if (run_dir / name).is_file():
            out += [DumpFrame(name, k, s) for k, s in enumerate(dump_steps(run_dir / name))]
    return out


def select_from_run(
    run_dir: Path, max_variance: float, rule: Rule = "first_above"
) -> tuple[Pick | None, dict]:
    """The pick of one finished exploration run directory and its ``result.json``."""
    run_dir = Path(run_dir)
    fix = "run the exploration again (delete its task directory)"
    try:
        result = read_json(run_dir / "result.json", fix)
    except FileNotFoundError:
        raise InputError(f"{run_dir}: no result.json (the run did not finish); {fix}") from None
    check_every = int(result.get("settings", {}).get("check_every", 1))
    pick = select_frame(
        read_deviations(run_dir / DEVIATIONS),
        run_frames(run_dir),
        max_variance,
        result.get("halt_reason"),
        result.get("n_steps_done"),
        check_every,
        rule,
    )
    return pick, result


def picked_atoms(run_dir: Path, pick: Pick) -> Atoms:
    """The selected frame as Atoms (molecules whole, ``mol_id`` array, ``info['step']``)."""
    frames = read_frames(Path(run_dir) / pick.frame.source)
    if pick.frame.index >= len(frames) or int(frames[pick.frame.index].info["step"]) != (
        pick.frame.step
    ):
        raise InputError(f"{run_dir}/{pick.frame.source} changed since the frame was selected")
    return frames[pick.frame.index]
