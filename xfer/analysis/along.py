"""Errors along a trajectory (preprint Figure 7): relabel MD frames, compare the models.

Frames every ``every_ps`` of an ``xfer md`` run are labelled with the reference (resumable,
see :mod:`xfer.data.diag_sets`); each model predicts the same frames. Per frame and model:
energy error (meV/atom), force RMSE over all components (meV/A) and the reference energy
(eV/atom). Outputs in ``out``: ``along.csv`` (per frame), ``along_forces.csv`` (per force
component, for the parity panel), ``along_summary.csv`` (RMSE over the run per model) and
``along.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xfer.analysis.diag_figures import along_figure, write_csv
from xfer.analysis.model_eval import NamedModel, predict, reference
from xfer.data.diag_sets import label_trajectory, trajectory_frames
from xfer.data.frames import FRAME_ID
from xfer.data.reference import ReferenceSpec

DEFAULT_EVERY_PS = 20.0  # the preprint's relabelling interval (SPEC section 7)


@dataclass(frozen=True)
class AlongResult:
    """Per-frame table, per-model summary and the files written."""

    frames: pd.DataFrame
    summary: pd.DataFrame
    files: dict[str, Path]


def error_tables(labelled, models: list[NamedModel]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-frame errors, per-component forces) of every model on the labelled frames."""
    rows, components = [], []
    for named in models:
        for frame, (energy, forces) in zip(labelled, predict(named.model, labelled), strict=True):
            e_ref, f_ref = reference(frame)
            n = len(frame)
            diff = forces - f_ref
            rows.append({
                "model": named.name, "frame_id": frame.info[FRAME_ID],
                "step": int(frame.info["step"]), "time_ps": float(frame.info["time_ps"]),
                "n_atoms": n, "e_ref_eV_atom": e_ref / n, "e_model_eV_atom": energy / n,
                "e_err_meV_atom": (energy - e_ref) / n * 1000.0,
                "f_rmse_meV_A": float(np.sqrt(np.mean(diff**2))) * 1000.0,
            })  # fmt: skip
            components.append(pd.DataFrame({
                "model": named.name, "time_ps": float(frame.info["time_ps"]),
                "f_ref_eV_A": f_ref.ravel(), "f_err_meV_A": diff.ravel() * 1000.0,
            }))  # fmt: skip
    return pd.DataFrame(rows), pd.concat(components, ignore_index=True)


def summarise(frames: pd.DataFrame) -> pd.DataFrame:
    """Energy and force RMSE over all frames of each model."""
    grouped = frames.groupby("model", sort=False)
    return pd.DataFrame({
        "n_frames": grouped.size(),
        "e_rmse_meV_atom": grouped["e_err_meV_atom"].apply(lambda e: np.sqrt(np.mean(e**2))),
        "f_rmse_meV_A": grouped["f_rmse_meV_A"].apply(lambda f: np.sqrt(np.mean(f**2))),
    }).reset_index()  # fmt: skip


def errors_along(
    run_dir: Path,
    models: list[NamedModel],
    out: Path,
    every_ps: float = DEFAULT_EVERY_PS,
    spec: ReferenceSpec | None = None,
    workers: int = 1,
    progress: bool = True,
) -> AlongResult:
    """Relabel ``run_dir``'s frames every ``every_ps`` and write the error tables and figure."""
    out = Path(out)
    frames = trajectory_frames(Path(run_dir), every_ps)
    labelled = label_trajectory(frames, out, spec or ReferenceSpec(), workers, progress)
    table, components = error_tables(labelled, models)
    summary = summarise(table)
    files = {
        "along": write_csv(table, out / "along.csv"),
        "forces": write_csv(components, out / "along_forces.csv"),
        "summary": write_csv(summary, out / "along_summary.csv"),
    }
    files["figure"] = along_figure(out / "along.png", table, components)
    return AlongResult(table, summary, files)
