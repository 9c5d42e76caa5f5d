"""Work functions of the diagnostics' tasks (run inside a task's worker process).

Labels live in the task directory (not the attempt), so a killed try's labels are reused
by the next one (the labelling log never computes a frame twice).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from xfer.workflow.task_io import rel

DIAG_KINDS = ("user_model", "diag_scans", "diag_volume", "diag_along")


def _named(spec: dict, deps: dict):
    from xfer.analysis.model_eval import resolve_model

    return resolve_model(Path(deps["model"]["model"]), spec["arch"], spec["name"])


def work_user_model(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """Load a ``[[models]]`` file and export it for LAMMPS (a train task's result shape)."""
    from xfer.analysis.model_eval import resolve_model
    from xfer.backends.base import get_backend

    named = resolve_model(Path(spec["path"]), spec["arch"], spec["name"])
    backend = get_backend(named.model.arch)
    exported = backend.export(named.model)
    return {
        "model": rel(named.model.path, task_dir), "exported": rel(exported, task_dir),
        "pair": asdict(backend.pair_spec(named.model)), "note": f"{spec['arch']} {spec['path']}",
    }  # fmt: skip


def work_diag_scans(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """Build and label the held-out scans in ``<task>/scans`` (resumable)."""
    from xfer.data.config import BuildConfig
    from xfer.data.diag_sets import held_out_scans

    frames = held_out_scans(BuildConfig.model_validate(spec["config"]), task_dir / "scans",
                            progress=False)  # fmt: skip
    return {"scans": rel(task_dir / "scans", task_dir), "note": f"{len(frames)} frames"}


def work_diag_volume(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """One model's energies on the scans (``volume_scan.csv``)."""
    from xfer.analysis.diag_figures import write_csv
    from xfer.analysis.volume_diag import scan_summary, scan_table
    from xfer.data.store import Dataset

    frames = Dataset.open(Path(deps["scans"]["scans"])).frames(["vs"])
    table = scan_table(frames, [_named(spec, deps)])
    summary = scan_summary(table, spec["plateau_density"], spec["shift_threshold"])
    note = ", ".join(f"{r.composition} shift {r.shift_meV_atom:+.1f} meV/atom"
                     for r in summary.itertuples())  # fmt: skip
    return {"table": rel(write_csv(table, attempt / "volume_scan.csv"), task_dir), "note": note}


def work_diag_along(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """One model's errors along one md run, relabelled every ``every_ps``."""
    from xfer.analysis.along import errors_along
    from xfer.data.reference import ReferenceSpec

    run = deps["md"]
    reference = ReferenceSpec(spec["reference"]["calculator"], spec["reference"]["kwargs"])
    result = errors_along(Path(run["run"]), [_named(spec, deps)], task_dir / "along",
                          spec["every_ps"], reference, progress=False)  # fmt: skip
    row = result.summary.iloc[0]
    return {
        "table": rel(result.files["along"], task_dir),
        "forces": rel(result.files["forces"], task_dir),
        "summary": rel(result.files["summary"], task_dir),
        "run": rel(Path(run["run"]), task_dir),
        "t_stab_ps": run["t_stab_ps"], "halted": run["halted"], "halt_reason": run["halt_reason"],
        "note": f"force RMSE {row['f_rmse_meV_A']:.1f} meV/A over {int(row['n_frames'])} frames",
    }  # fmt: skip


DIAG_WORK = {
    "user_model": work_user_model,
    "diag_scans": work_diag_scans,
    "diag_volume": work_diag_volume,
    "diag_along": work_diag_along,
}
