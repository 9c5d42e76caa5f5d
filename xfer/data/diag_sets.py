"""Reference-labelled frame sets the diagnostics evaluate models on (cached, resumable).

* Held-out volume scans: packed boxes of each composition scanned rigidly and labelled by
  the ordinary dataset build (``xfer.data.build``), so a rerun reuses every label and a
  killed build resumes where it stopped.
* Frames along an MD trajectory: every ``every_ps`` of an ``xfer md`` run's ``traj.dump``,
  labelled through :func:`xfer.data.labelling.label_frames` (one JSON line per frame,
  never recomputed, parallel workers).
"""

from __future__ import annotations

from pathlib import Path

from ase import Atoms

from xfer.chem.molecules import composition_label
from xfer.data.build import build_dataset
from xfer.data.config import BuildConfig, LabellingConfig, ReferenceConfig, VsConfig
from xfer.data.frames import COMPOSITION, FRAME_ID
from xfer.data.labelling import label_frames
from xfer.data.reference import ReferenceSpec
from xfer.errors import InputError
from xfer.jsonfiles import read_json
from xfer.lammps.dump import read_frames as read_dump_frames

DEFAULT_SCAN_MIXES = ({"EC": 4, "EMC": 8}, {"EC": 8, "EMC": 4})  # 1:2 and 2:1 EC:EMC
ALONG_LABELS = "labels.jsonl"


def scan_config(
    mixes: list[dict[str, int]],
    scans: int = 5,
    points: int = 7,
    density: float = 1.1,
    min_density: float = 0.1,
    max_density: float = 2.0,
    seed: int = 101,
    reference: ReferenceSpec | None = None,
    workers: int | str = 1,
) -> BuildConfig:
    """A build with ``scans`` rigid volume scans of packed boxes per composition.

    Seeds start at ``seed`` (not the training builds' 1) so the boxes are held out.
    """
    spec = reference or ReferenceSpec()
    return BuildConfig(
        reference=ReferenceConfig(calculator=spec.calculator, kwargs=spec.kwargs),
        labelling=LabellingConfig(workers=workers),
        vs=[
            VsConfig(source="packed", mix=mix, scans=scans, points=points, density=density,
                     min_density=min_density, max_density=max_density, seed=seed + 100 * k)
            for k, mix in enumerate(mixes)
        ],  # fmt: skip
    )


def held_out_scans(config: BuildConfig, out: Path, progress: bool = True) -> list[Atoms]:
    """Labelled frames of the scans of ``config`` (built in ``out`` or reused from it)."""
    frames = build_dataset(config, out, progress=progress).frames(["vs"])
    if not frames:
        raise InputError(f"{out}: the volume scans produced no labelled frame")
    return frames


def dump_stride(run_dir: Path, every_ps: float) -> tuple[int, float]:
    """Frames of ``traj.dump`` between two picks and the dump interval (ps) of a run."""
    result = read_json(run_dir / "result.json", "rerun the simulation (xfer md ... --force)")
    interval = float(result["dump_every"]) * float(result["timestep_fs"]) / 1000.0
    if every_ps < interval * (1 - 1e-9):
        raise InputError(
            f"--every-ps {every_ps:g} is shorter than the run's dump interval ({interval:g} ps); "
            f"use a multiple of {interval:g} ps"
        )
    return max(1, round(every_ps / interval)), interval


def trajectory_frames(run_dir: Path, every_ps: float) -> list[Atoms]:
    """Frames of ``run_dir/traj.dump`` every ``every_ps`` with ``time_ps`` and ids set."""
    run_dir = Path(run_dir)
    stride, _ = dump_stride(run_dir, every_ps)
    result = read_json(run_dir / "result.json", "rerun the simulation (xfer md ... --force)")
    dt_ps = float(result["timestep_fs"]) / 1000.0
    frames = read_dump_frames(run_dir / "traj.dump", every=stride)
    for frame in frames:
        step = int(frame.info["step"])
        frame.info[FRAME_ID] = f"step{step}"
        frame.info["time_ps"] = step * dt_ps
        frame.info[COMPOSITION] = composition_label(result.get("mix") or {})
    return frames


def label_trajectory(
    frames: list[Atoms],
    out: Path,
    spec: ReferenceSpec,
    workers: int = 1,
    progress: bool = True,
) -> list[Atoms]:
    """Reference labels of ``frames`` (log ``out/labels.jsonl``; finished frames reused)."""
    outcome = label_frames(
        frames, Path(out) / ALONG_LABELS, spec, workers=workers, progress=progress,
        desc="label trajectory", scratch=Path(out) / "scratch",
    )  # fmt: skip
    if not outcome.labelled:
        reasons = "; ".join(f"{f['frame_id']}: {f['reason']}" for f in outcome.failed[:3])
        raise InputError(f"no trajectory frame could be labelled ({reasons})")
    return outcome.labelled
