"""``xfer campaign report``: Markdown + HTML report of a campaign's finished tasks.

The report scores every model whose NPT and NVT analyses are finished with Q against the
reference committee (:mod:`xfer.analysis.quality`), then shows the transferability matrix
(architecture x recipe) of Q, t_stab, density and D as committee mean +- standard error,
per-model details, the halts (failure modes per committee, one triage line and picture per
halted run: :mod:`xfer.workflow.report_halts`), the figures (the preprint's Figure 1 among
them) and the environment (package versions, pair styles, LAMMPS version, hardware). Cells
without results say why (failed, halted, pending). ``report.html`` embeds its images
(:mod:`xfer.workflow.html`), so it opens on its own.
The report holds no timestamps or absolute paths, so the same finished tasks always give
the same report. This module only renders: the numbers come typed from
:mod:`xfer.workflow.results`, the figures from :mod:`xfer.analysis.figures`, the host
description from :mod:`xfer.provenance`.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xfer.lammps.pair import CLASSICAL
from xfer.provenance import file_sha256, hardware, library_versions
from xfer.workflow.dag import Member, Plan
from xfer.workflow.results import CampaignResults, collect
from xfer.workflow.store import TaskStore

PACKAGES = (
    "xfer", "lammps", "torch", "mace-torch", "deepmd-kit", "quippy-ase", "tblite", "parsl",
    "ase", "MDAnalysis", "numpy", "pydantic",
)  # fmt: skip
QUANTITIES: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("Q", "Q (0-3)", lambda v: f"{v:.3f}"),
    ("t_stab_npt_ps", "t_stab NPT (ps)", lambda v: f"{v:.4g}"),
    ("t_stab_nvt_ps", "t_stab NVT (ps)", lambda v: f"{v:.4g}"),
    ("density", "density (g/cm3, stable NPT runs)", lambda v: f"{v:.4f}"),
    ("D_cm2_s", "D (1e-5 cm2/s)", lambda v: f"{v * 1e5:.3f}"),
)


def _pm(estimate, fmt: Callable[[float], str]) -> str:
    if estimate.mean is None:
        return "n/a"
    text = fmt(estimate.mean)
    if estimate.sem is not None:
        text += " ± " + fmt(estimate.sem).lstrip()
    return text


def _halts(data: CampaignResults, group: list[Member], ensembles: tuple[str, ...]) -> str:
    notes = []
    for ensemble in ensembles:
        halted = [data.md[m, ensemble] for m in group if (m, ensemble) in data.md]
        reasons = sorted({r["halt_reason"] for r in halted if r["halted"]})
        n = sum(r["halted"] for r in halted)
        if n:
            notes.append(f"{n}/{len(group)} {ensemble.upper()} halted ({', '.join(reasons)})")
    return "; ".join(notes)


HALTS_SHOWN = {"Q": ("npt", "nvt"), "t_stab_npt_ps": ("npt",), "t_stab_nvt_ps": ("nvt",)}


def _cell(plan: Plan, data: CampaignResults, arch: str, recipe: str, quantity: str, fmt) -> str:
    group = [m for m in plan.members if (m.arch, m.recipe) == (arch, recipe)]
    committee = data.scores.committees.get(f"{arch}/{recipe}")
    missing = [m for m in group if m not in data.models]
    if committee is None:
        reasons = sorted({data.status[m] for m in missing})
        return "no result: " + "; ".join(reasons)
    estimate = getattr(committee, quantity)
    text = _pm(estimate, fmt) + f" (n={estimate.n})"
    halts = _halts(data, group, HALTS_SHOWN.get(quantity, ()))
    if halts:
        text += f"; {halts}"
    if quantity == "Q" and committee.excluded_from_Q:
        why = sorted({r for v in committee.excluded_from_Q.values() for r in v.split("; ")})
        text += f"; {len(committee.excluded_from_Q)} without Q ({'; '.join(why)})"
    if missing and quantity == "Q":
        text += f"; {len(missing)} model(s) missing"
    return text


def _table(header: list[str], rows: list[list[str]]) -> str:
    def esc(s: str) -> str:
        return str(s).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None or not math.isfinite(value) else format(value, spec)


def environment(data: CampaignResults, plan: Plan) -> dict[str, Any]:
    """Package versions, LAMMPS version, pair styles per architecture, hardware."""
    versions = library_versions(PACKAGES, missing="not installed")
    python = versions.pop("python")
    pair_styles = {}
    for member, result in sorted(data.trained.items(), key=lambda kv: kv[0].name):
        pair = result["pair"]
        plugin = f" (plugin {pair['plugin']})" if pair.get("plugin") else ""
        pair_styles.setdefault(member.arch, f"pair_style {pair['pair_style'].split()[0]}{plugin}")
    classical = plan.campaign.reference.potential
    if classical is not None:
        pair_styles[classical] = CLASSICAL[classical].describe()
    lammps = sorted({r["lammps_version"] for r in data.md.values()})
    return {
        "python": python,
        "versions": versions,
        "lammps_version": ", ".join(lammps) or "n/a",
        "pair_styles": pair_styles,
        "hardware": hardware(),
    }


def halt_lines(
    plan: Plan, data: CampaignResults, files: dict[tuple[Member, str], Path]
) -> list[str]:
    """Failure modes per committee, then one line (with picture and frames) per halted run."""
    from xfer.analysis.triage_files import FRAMES_FILE, HALT_FILE, PICTURE_FILE, halt_line
    from xfer.workflow.report_halts import failure_modes

    rows = failure_modes(plan, data)
    if not any(row[2].split("/")[0] != "0" for row in rows):
        return []
    header = ["committee", "ensemble", "halted", "failure modes", "closest contact (A)"]
    lines = ["## Halts", "", "### Failure modes", "", _table(header, rows), ""]
    lines += ["### Halted runs", ""]
    for (member, ensemble), halt in sorted(data.halts.items(), key=lambda kv: kv[0][0].name):
        rel = files[member, ensemble].as_posix()
        lines += [
            f"- **{member.name}** {halt_line(halt.report)} ([halt.json]({rel}/{HALT_FILE}), "
            f"[last frames]({rel}/{FRAMES_FILE}))",
            "",
            f"  ![{member.name} {ensemble}]({rel}/{PICTURE_FILE})",
            "",
        ]
    return lines


def render_markdown(
    plan: Plan,
    data: CampaignResults,
    figures: list[str],
    halt_files: dict[tuple[Member, str], Path] | None = None,
) -> str:
    """The report as Markdown (the HTML is rendered from it)."""
    campaign = plan.campaign
    archs = list(campaign.training.architectures)
    recipes = list(campaign.training.recipes)
    settings = data.settings
    reference = data.reference
    md = campaign.md
    lines = [f"# Campaign report: {campaign.campaign.name}", ""]
    if campaign.source is not None:
        digest = file_sha256(campaign.source)[:16]
        lines += [f"Campaign file `{campaign.source.name}` (sha256 {digest}...).", ""]
    scored = len(data.models)
    lines += [
        f"{len(plan.members)} models ({len(archs)} architectures on up to {len(recipes)} "
        f"recipes x {len(campaign.training.seed_list)} seeds), {scored} with both runs analyzed. "
        f"Validation MD: {md.mix} at {md.temperature:g} K, {md.time_ps:g} ps per run "
        f"(timestep {md.timestep_fs:g} fs), NPT at {md.npt.pressure:g} atm, NVT at "
        f"{md.nvt.density:g} g/cm3.",
        "",
        "## Transferability matrix",
        "",
        "Committee mean ± standard error over models (n = models that count). Halted runs "
        "are results: their t_stab enters Q and the matrix says how many halted and why.",
        "",
    ]
    for quantity, title, fmt in QUANTITIES:
        rows = [[a, *(_cell(plan, data, a, r, quantity, fmt) for r in recipes)] for a in archs]
        lines += [f"### {title}", "", _table(["architecture", *recipes], rows), ""]
    lines += ["## Reference", ""]
    ref = campaign.reference
    who = (
        f"{CLASSICAL[ref.potential].title}, {ref.members} runs differing in seed"
        if ref.potential is not None
        else f"committee {ref.arch}/{ref.recipe}"
    )
    d_ref = reference.d_ref_cm2_s
    lines += [
        f"- reference: {who}; members with results: {', '.join(reference.members) or 'none'}",
        f"- D_ref = {_fmt(d_ref * 1e5 if math.isfinite(d_ref) else None, '.3f')} 1e-5 cm2/s, "
        f"KL tolerance = {_fmt(reference.kl_tolerance, '.4f')}",
    ]
    lines += [f"- note: {r}" for r in reference.reasons]
    lines += ["", "## Models", ""]
    rows = []
    by_name = {s.name: s for s in data.scores.models}
    for m in plan.members:
        s = by_name.get(m.name)
        errors = data.trained.get(m, {}).get("validation_errors", {})
        f_rmse = _fmt(errors.get("force_rmse_meV_per_A"), ".0f")
        if s is None:
            rows.append([m.name, "n/a", "", "", "", "", "", data.status[m], "", "", f_rmse])
            continue
        halts = [
            f"{e.upper()}: {data.md[m, e]['halt_reason']}"
            for e in ("npt", "nvt")
            if data.md.get((m, e), {}).get("halted")
        ]
        rows.append([
            m.name, _fmt(s.q.total, ".3f"), _fmt(s.q.stability, ".3f"),
            _fmt(s.q.density, ".3f"), _fmt(s.q.diffusion, ".3f"),
            _fmt(s.t_stab_npt_ps, ".4g"), _fmt(s.t_stab_nvt_ps, ".4g"),
            "; ".join(halts) or "none",
            _fmt(s.density_mean, ".4f"),
            _fmt(s.D_cm2_s * 1e5 if s.D_cm2_s is not None else None, ".3f"), f_rmse,
        ])  # fmt: skip
    header = [
        "model", "Q", "stability", "density term", "diffusion term", "t_stab NPT (ps)",
        "t_stab NVT (ps)", "halts", "density (g/cm3)", "D (1e-5 cm2/s)", "valid F RMSE (meV/A)",
    ]  # fmt: skip
    lines += [_table(header, rows), ""]
    reasons = [(s.name, k, v) for s in data.scores.models for k, v in s.q.reasons.items()]
    if reasons:
        lines += ["Terms not counted:", ""]
        lines += [f"- {name} {term}: {why}" for name, term, why in reasons]
        lines.append("")
    lines += halt_lines(plan, data, halt_files or {})
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{Path(f).stem}]({f})" for f in figures]
        lines.append("")
    lines += ["## Analysis settings", "", "```json", json.dumps(settings.model_dump(), indent=1),
              "```", ""]  # fmt: skip
    env = environment(data, plan)
    lines += ["## Environment", ""]
    lines += [f"- Python {env['python']}; LAMMPS {env['lammps_version']}"]
    lines += [f"- {k}: {v}" for k, v in env["versions"].items()]
    lines += [f"- {arch}: {style}" for arch, style in env["pair_styles"].items()]
    lines += [f"- hardware {k}: {v}" for k, v in env["hardware"].items()]
    lines.append("")
    return "\n".join(lines)


HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 1200px; margin: 2em auto; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #bbb; padding: 3px 8px; font-size: 90%; }}
th {{ background: #eee; }} img {{ max-width: 100%; }}
</style></head><body>
{body}
</body></html>
"""


def write_report(plan: Plan, store: TaskStore, out: Path) -> Path:
    """report.md, report.html, score files and figures in ``out``; returns report.md."""
    from markdown_it import MarkdownIt

    from xfer.analysis.figures import q_matrix
    from xfer.analysis.pipeline import write_score_outputs
    from xfer.analysis.transfer_figures import write_transfer_figure
    from xfer.atomic import write_text
    from xfer.workflow.html import embed_images
    from xfer.workflow.report_halts import copy_halt_files

    out.mkdir(parents=True, exist_ok=True)
    data = collect(plan, store)
    training = plan.campaign.training
    archs, recipes = list(training.architectures), list(training.recipes)
    figures = [q_matrix(out / "q_matrix.png", data.scores, archs, recipes).name]
    if data.models:
        models = [data.models[m] for m in plan.members if m in data.models]
        with warnings.catch_warnings():  # e.g. an empty legend when no run has a density
            warnings.simplefilter("ignore", UserWarning)
            written = write_transfer_figure(
                out / "figure1.png", models, data.reference_runs, archs, recipes
            )
            written += write_score_outputs(out, data.scores, list(data.models.values()))
        figures += [p.name for p in written if p.suffix == ".png"]
    text = render_markdown(plan, data, figures, copy_halt_files(data, out))
    if plan.al is not None:
        from xfer.workflow.al_report import markdown_section, stop_lines, write_generations

        generations = write_generations(plan, store, data)
        text += "\n" + markdown_section(generations, out, stop_lines(plan, store))
    if plan.diagnostics is not None:
        from xfer.workflow.diag_report import markdown_section as diagnostics_section

        text += "\n" + diagnostics_section(plan, store, out)
    write_text(out / "report.md", text)
    body = MarkdownIt("commonmark").enable("table").render(text)
    title = f"xfer campaign {plan.campaign.campaign.name}"
    write_text(out / "report.html", HTML.format(title=title, body=embed_images(body, out)))
    return out / "report.md"
