"""``al/generations.csv`` and ``al/generations.png``: each AL loop's committee per generation.

Columns: generation, arch, start recipe, training frames of that generation's recipe, al
frames added for it (by the previous generation's label task), and committee mean and
standard error of t_stab (NPT, NVT), mean density (stable NPT runs), D and Q against the
campaign's reference committee (the same Q as the main report). Generations whose models
have no finished analyses yet are left out; the files are rewritten on every report.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from xfer.analysis.quality import score_models
from xfer.atomic import write_text
from xfer.workflow.dag import Plan
from xfer.workflow.results import CampaignResults, member_runs
from xfer.workflow.store import TaskStore

AL_DIR = "al"
COLUMNS = (
    "generation", "arch", "start_recipe", "n_train_frames", "n_added", "n_models",
    "t_stab_npt_ps", "t_stab_npt_se", "t_stab_nvt_ps", "t_stab_nvt_se",
    "density_gcm3", "density_se", "D_cm2_s", "D_se", "Q", "Q_se",
)  # fmt: skip


def _result(store: TaskStore, task, key: str):
    if task is None:
        return None
    try:
        return store.outputs(task.kind, task.key).get(key)
    except KeyError:
        return None


def generation_rows(plan: Plan, store: TaskStore, data: CampaignResults) -> list[dict]:
    """One row per loop and generation with at least one analysed model."""
    rows = []
    for loop, chain in plan.al.loops.items():
        for gen in chain:
            runs = [r for m in gen.members if (r := member_runs(plan, store, m)) is not None]
            if not runs:
                continue
            scores = score_models(runs, data.reference, data.settings)
            c = scores.committees[runs[0].group]
            added = _result(store, chain[gen.number - 1].label, "added") if gen.number else 0
            rows.append({
                "generation": gen.number, "arch": loop.arch, "start_recipe": loop.recipe,
                "n_train_frames": _result(store, gen.recipe, "train_frames"),
                "n_added": added, "n_models": len(runs),
                "t_stab_npt_ps": c.t_stab_npt_ps.mean, "t_stab_npt_se": c.t_stab_npt_ps.sem,
                "t_stab_nvt_ps": c.t_stab_nvt_ps.mean, "t_stab_nvt_se": c.t_stab_nvt_ps.sem,
                "density_gcm3": c.density.mean, "density_se": c.density.sem,
                "D_cm2_s": c.D_cm2_s.mean, "D_se": c.D_cm2_s.sem, "Q": c.Q.mean, "Q_se": c.Q.sem,
            })  # fmt: skip
    return rows


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in COLUMNS})
    return buffer.getvalue()


def reference_values(data: CampaignResults) -> dict[str, float | None]:
    """Reference mean density (from P_ref,av) and D_ref for the figure's dashed lines."""
    ref = data.reference
    density = None
    if ref.histogram is not None:
        low, _, width = ref.grid
        centres = low + width * (np.arange(len(ref.histogram)) + 0.5)
        density = float(np.sum(ref.histogram * centres))
    d_ref = ref.d_ref_cm2_s
    return {"density_gcm3": density, "D_cm2_s": d_ref if np.isfinite(d_ref) else None}


def write_generations(plan: Plan, store: TaskStore, data: CampaignResults) -> list[Path]:
    """Write ``<out>/al/generations.csv`` (and the PNG when there are rows); their paths."""
    from xfer.analysis.al_figures import generations_figure

    out = store.out / AL_DIR
    out.mkdir(parents=True, exist_ok=True)
    rows = generation_rows(plan, store, data)
    write_text(out / "generations.csv", _csv(rows))
    written = [out / "generations.csv"]
    if rows:
        written.append(generations_figure(out / "generations.png", rows, reference_values(data)))
    return written


def stop_lines(plan: Plan, store: TaskStore) -> list[str]:
    """One line per loop whose stop targets were met: the generation and its committee."""
    lines = []
    for loop, chain in plan.al.loops.items():
        for gen in chain:
            if _result(store, gen.gate, "target_met"):
                note = store.done(gen.gate)["note"]
                lines.append(f"- {loop.name}: stopped after generation {gen.number} ({note})")
                break
    return lines


def markdown_section(paths: list[Path], report_dir: Path, stops: list[str] = ()) -> str:
    """The report's link block to the AL files (paths relative to the report) and the loops
    that met their stop targets."""
    import os

    links = [f"[{p.name}]({os.path.relpath(p, report_dir)})" for p in paths]
    lines = ["## Active learning", "", "Per loop and generation: " + ", ".join(links) + "."]
    if stops:
        lines += ["", "Loops that met their stop targets:", "", *stops]
    png = [p for p in paths if p.suffix == ".png"]
    if png:
        lines += ["", f"![generations]({os.path.relpath(png[0], report_dir)})"]
    return "\n".join(lines) + "\n"
