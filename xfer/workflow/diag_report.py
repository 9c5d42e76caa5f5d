"""The diagnostics' section of the campaign report: CSV + PNG under ``report/diagnostics``.

Collects every finished diagnostics task (unfinished ones are left out; the files are
rewritten on every report) into the same tables and figures ``xfer diagnose`` writes:
volume scans (per frame, summary with baseline shifts, E vs V, parity), errors along each
model's run (Figure 7) and generalisation (t_stab and force RMSE per liquid, Figure 5).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from xfer.analysis.diag_figures import along_figure, scan_curves, scan_parity, write_csv
from xfer.analysis.generalisation import generalisation_figure
from xfer.analysis.volume_diag import scan_summary
from xfer.jsonfiles import read_json
from xfer.workflow.dag import Plan
from xfer.workflow.store import TaskStore

DIAG_DIR = "diagnostics"


def _outputs(store: TaskStore, tasks: dict) -> dict:
    found = {}
    for name, task in tasks.items():
        try:
            found[name] = store.outputs(task.kind, task.key)
        except KeyError:
            continue
    return found


def _stacked(done: dict, key: str) -> pd.DataFrame:
    """The CSV files named ``key`` in every finished task's outputs, as one table."""
    return pd.concat([pd.read_csv(o[key]) for o in done.values()], ignore_index=True)


def _volume(plan: Plan, store: TaskStore, out: Path) -> list[str]:
    done = _outputs(store, plan.diagnostics.volume)
    if not done:
        return []
    vs = plan.campaign.diagnostics.volume_scan
    table = _stacked(done, "table")
    summary = scan_summary(table, vs.plateau_density, vs.shift_threshold)
    write_csv(table, out / "volume_scan.csv")
    write_csv(summary, out / "volume_scan_summary.csv")
    scan_curves(out / "volume_scan_energy.png", table)
    scan_parity(out / "volume_scan_parity.png", table)
    lines = ["### Volume scans (held out)", "",
             "| model | composition | RMSE (meV/atom) | baseline shift (eV) | flagged |",
             "|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r.model} | {r.composition} | {r.rmse_meV_atom:.2f} | {r.shift_eV:+.3f} | "
              f"{'yes' if r.flagged else ''} |" for r in summary.itertuples()]  # fmt: skip
    lines += ["", f"Shift: mean model - reference energy at <= {vs.plateau_density} g/cm3, "
              f"flagged above {vs.shift_threshold} meV/atom. [frames]({DIAG_DIR}/volume_scan.csv), "
              f"[summary]({DIAG_DIR}/volume_scan_summary.csv)",
              "", f"![E vs V]({DIAG_DIR}/volume_scan_energy.png)",
              f"![parity]({DIAG_DIR}/volume_scan_parity.png)", ""]  # fmt: skip
    return lines


def _along(plan: Plan, store: TaskStore, out: Path) -> list[str]:
    done = _outputs(store, plan.diagnostics.along)
    if not done:
        return []
    table = _stacked(done, "table")
    forces = _stacked(done, "forces")
    summary = _stacked(done, "summary")
    write_csv(table, out / "along.csv")
    write_csv(summary, out / "along_summary.csv")
    along_figure(out / "along.png", table, forces)
    lines = ["### Errors along each model's run", "",
             "| model | frames | energy RMSE (meV/atom) | force RMSE (meV/A) |",
             "|---|---|---|---|"]
    lines += [f"| {r.model} | {r.n_frames} | {r.e_rmse_meV_atom:.2f} | {r.f_rmse_meV_A:.1f} |"
              for r in summary.itertuples()]  # fmt: skip
    lines += ["", f"[per frame]({DIAG_DIR}/along.csv), [summary]({DIAG_DIR}/along_summary.csv)",
              "", f"![errors along]({DIAG_DIR}/along.png)", ""]  # fmt: skip
    return lines


def _generalisation(plan: Plan, store: TaskStore, out: Path) -> list[str]:
    from xfer.analysis.generalisation import row

    done = _outputs(store, plan.diagnostics.generalisation)
    if not done:
        return []
    rows = []
    for (model, liquid), o in done.items():
        result = read_json(Path(o["run"]) / "result.json", "rerun the campaign")
        summary = pd.read_csv(o["summary"]).iloc[0].to_dict()
        rows.append(row(model, liquid, result, summary))
    table = pd.DataFrame(rows)
    write_csv(table, out / "generalisation.csv")
    generalisation_figure(out / "generalisation.png", table)
    lines = ["### Generalisation to other liquids", "",
             "| model | liquid | composition | t_stab (ps) | force RMSE (meV/A) |",
             "|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r.model} | {r.liquid} | {r.composition} | {r.t_stab_ps:g} | "
              f"{r.f_rmse_meV_A:.1f} |" for r in table.itertuples()]  # fmt: skip
    lines += ["", f"[table]({DIAG_DIR}/generalisation.csv)", "",
              f"![generalisation]({DIAG_DIR}/generalisation.png)", ""]  # fmt: skip
    return lines


def markdown_section(plan: Plan, store: TaskStore, report_dir: Path) -> str:
    """Write the diagnostics' files into ``report_dir/diagnostics``; return the section."""
    out = report_dir / DIAG_DIR
    out.mkdir(parents=True, exist_ok=True)
    lines = [*_volume(plan, store, out), *_along(plan, store, out),
             *_generalisation(plan, store, out)]  # fmt: skip
    if not lines:
        lines = ["No diagnostics task has finished yet.", ""]
    return "\n".join(["## Diagnostics", "", *lines])
