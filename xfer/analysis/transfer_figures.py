"""The preprint's Figure 1 from any set of committees: stability, density and diffusivity.

Panels: (a) t_stab of the NPT runs per recipe and architecture (log axis), (b) mean
density of the members stable in NPT, (c, d) centre-of-mass D of each species from the
members stable in NVT; (b-d) against the reference committee (a band of mean ± SE).
Error bars are the standard error over committee members (:func:`estimate`). Models are
grouped ``arch/recipe`` (as campaigns name them). The numbers behind the figure go to a
CSV next to the PNG, one row per (panel, architecture, recipe), the reference included.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from xfer.analysis.figures import save_figure
from xfer.analysis.quality import Estimate, ModelRuns, estimate
from xfer.atomic import write_text

REFERENCE = "reference"
PANEL_LETTERS = "abcdefgh"
CSV_HEADER = ("panel", "quantity", "arch", "recipe", "mean", "sem", "n")


@dataclass(frozen=True)
class Panel:
    """One panel: what it shows and how each model contributes a value (None: not counted)."""

    key: str
    label: str
    value: Callable[[ModelRuns], float | None]
    scale: float = 1.0
    log: bool = False


def _t_stab(m: ModelRuns) -> float | None:
    return m.npt.stability.t_stab_ps


def _density(m: ModelRuns) -> float | None:
    d = m.npt.density
    return d.mean if m.npt.stability.stable and d is not None else None


def _diffusivity(species: str) -> Callable[[ModelRuns], float | None]:
    def value(m: ModelRuns) -> float | None:
        d = m.nvt.diffusion
        if not m.nvt.stability.stable or d is None or species not in d.species:
            return None
        return d.species[species].D_cm2_s

    return value


def panels(species: Sequence[str]) -> list[Panel]:
    """The Figure-1 panels for a mixture of ``species``."""
    out = [
        Panel("t_stab_npt_ps", "t$_{stab}$ NPT (ps)", _t_stab, log=True),
        Panel("density", "mean density, stable NPT (g/cm$^3$)", _density),
    ]
    out += [
        Panel(f"D_{s}", f"D({s}), stable NVT (10$^{{-6}}$ cm$^2$/s)", _diffusivity(s), 1e6)
        for s in species
    ]
    return out


def _species(models: Sequence[ModelRuns]) -> list[str]:
    """Species in order of first appearance (mixture of the NVT runs, else their D results)."""
    found: dict[str, None] = {}
    for m in models:
        names = m.nvt.mix or (m.nvt.diffusion.species if m.nvt.diffusion else {})
        found.update(dict.fromkeys(names))
    return list(found)


def figure_table(
    models: Sequence[ModelRuns],
    reference: Sequence[ModelRuns],
    archs: Sequence[str],
    recipes: Sequence[str],
) -> dict[str, dict[tuple[str, str], Estimate]]:
    """``panel key -> (arch, recipe) -> Estimate``; the reference is ``("reference", "")``."""
    species = _species([*models, *reference])
    table: dict[str, dict[tuple[str, str], Estimate]] = {}
    for panel in panels(species):
        cells = {}
        for arch in archs:
            for recipe in recipes:
                group = [m for m in models if m.group == f"{arch}/{recipe}"]
                cells[arch, recipe] = estimate([panel.value(m) for m in group])
        if panel.key != "t_stab_npt_ps":
            cells[REFERENCE, ""] = estimate([panel.value(m) for m in reference])
        table[panel.key] = cells
    return table


def _csv_text(table: dict[str, dict[tuple[str, str], Estimate]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for k, (key, cells) in enumerate(table.items()):
        for (arch, recipe), e in cells.items():
            row = [PANEL_LETTERS[k], key, arch, recipe]
            row += ["" if v is None else f"{v:.6g}" for v in (e.mean, e.sem)] + [str(e.n)]
            writer.writerow(row)
    return buf.getvalue()


def _zoom(ax, shown: list[Estimate]) -> None:
    """y-range around the values and their error bars, so density differences show."""
    if not shown:
        return
    lo = min(e.mean - (e.sem or 0.0) for e in shown)
    hi = max(e.mean + (e.sem or 0.0) for e in shown)
    pad = max(0.1 * (hi - lo), 0.02 * hi)
    ax.set_ylim(lo - pad, hi + pad)


def transfer_figure(
    table: dict[str, dict[tuple[str, str], Estimate]],
    archs: Sequence[str],
    recipes: Sequence[str],
    species: Sequence[str],
) -> Figure:
    """Grouped bars (recipes on x, one colour per architecture) for every panel of ``table``."""
    shown = [p for p in panels(species) if p.key in table]
    ncols = 2
    nrows = (len(shown) + 1) // ncols
    fig = Figure(figsize=(4.2 * ncols, 3.6 * nrows), layout="constrained")
    x = np.arange(len(recipes))
    width = 0.8 / max(len(archs), 1)
    for k, panel in enumerate(shown):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        cells = table[panel.key]
        for i, arch in enumerate(archs):
            est = [cells[arch, r] for r in recipes]
            mean = np.array([np.nan if e.mean is None else e.mean * panel.scale for e in est])
            err = np.array([0.0 if e.sem is None else e.sem * panel.scale for e in est])
            lower = np.minimum(err, 0.999 * mean) if panel.log else err  # stays > 0 on log
            pos = x - 0.4 + width * (i + 0.5)
            ax.bar(pos, mean, width, yerr=[np.nan_to_num(lower), err], capsize=3,
                   color=f"C{i}", label=arch)  # fmt: skip
            for p, e in zip(pos, est, strict=True):
                if e.mean is None:
                    ax.text(p, 0.02, "n/a", transform=ax.get_xaxis_transform(),
                            ha="center", va="bottom", fontsize=7, rotation=90)  # fmt: skip
        ref = cells.get((REFERENCE, ""))
        if ref is not None and ref.mean is not None:
            mid, half = ref.mean * panel.scale, (ref.sem or 0.0) * panel.scale
            ax.axhspan(mid - half, mid + half, color="green", alpha=0.25, lw=0, zorder=0)
            ax.axhline(mid, color="green", ls="--", lw=1.2, label="reference", zorder=0.5)
        if panel.log:
            ax.set_yscale("log")
        elif panel.key == "density":
            _zoom(ax, [e for e in cells.values() if e.mean is not None])
        ax.set_xticks(x, recipes, rotation=30, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_ylabel(panel.label, fontsize=8)
        ax.set_title(f"({PANEL_LETTERS[k]})", loc="left", fontsize=9)
    handles = {}
    for ax in fig.axes:  # one legend for all panels, above them
        handles.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    fig.legend(handles.values(), handles.keys(), loc="outside upper center",
               ncols=len(handles), frameon=False, fontsize=8)  # fmt: skip
    return fig


def write_transfer_figure(
    target: Path,
    models: Sequence[ModelRuns],
    reference: Sequence[ModelRuns],
    archs: Sequence[str],
    recipes: Sequence[str],
) -> list[Path]:
    """``target`` (PNG) and its numbers as ``target`` with suffix .csv; returns both paths."""
    species = _species([*models, *reference])
    table = figure_table(models, reference, archs, recipes)
    fig = transfer_figure(table, archs, recipes, species)
    csv_path = target.with_suffix(".csv")
    write_text(csv_path, _csv_text(table))
    return [save_figure(fig, target), csv_path]
