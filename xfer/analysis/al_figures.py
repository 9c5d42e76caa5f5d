"""The active-learning figure: Q, t_stab, density and D against generation (paper Figure 2).

One line per loop (colour = starting recipe, line style = architecture), shaded +- the
committee standard error; the reference density and D as dashed lines when known. Rows are
those of ``al/generations.csv`` (see :mod:`xfer.workflow.al_report`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from xfer.analysis.figures import save_figure

PANELS = (
    ("Q", "Q_se", "a) Q", 1.0),
    ("t_stab_npt_ps", "t_stab_npt_se", "b) t$_{stab}$ NPT (ps)", 1.0),
    ("density_gcm3", "density_se", "c) mean density (g/cm$^3$)", 1.0),
    ("D_cm2_s", "D_se", "d) D (10$^{-6}$ cm$^2$/s)", 1e6),
)
STYLES = ("-", "--", ":", "-.")


def _values(rows: Sequence[dict], key: str, scale: float) -> np.ndarray:
    out = []
    for r in rows:
        v = r.get(key)
        out.append(np.nan if v is None or v == "" or not math.isfinite(float(v)) else float(v))
    return np.array(out) * scale


def generations_figure(
    target: Path, rows: Sequence[dict], reference: dict[str, float | None] | None = None
) -> Path:
    """Four panels of committee means vs generation, one line per (arch, start recipe)."""
    reference = reference or {}
    loops = list(dict.fromkeys((r["arch"], r["start_recipe"]) for r in rows))
    recipes = list(dict.fromkeys(recipe for _, recipe in loops))
    archs = list(dict.fromkeys(arch for arch, _ in loops))
    fig = Figure(figsize=(10, 7))
    generations = [int(r["generation"]) for r in rows]
    for k, (key, se_key, label, scale) in enumerate(PANELS):
        ax = fig.add_subplot(2, 2, k + 1)
        for arch, recipe in loops:
            mine = sorted((r for r in rows if (r["arch"], r["start_recipe"]) == (arch, recipe)),
                          key=lambda r: int(r["generation"]))  # fmt: skip
            x = np.array([int(r["generation"]) for r in mine])
            y, se = _values(mine, key, scale), np.nan_to_num(_values(mine, se_key, scale))
            colour = f"C{recipes.index(recipe) % 10}"
            ax.plot(x, y, marker="o", ms=3, color=colour, ls=STYLES[archs.index(arch) % 4],
                    label=f"{arch}/{recipe}")  # fmt: skip
            ax.fill_between(x, y - se, y + se, color=colour, alpha=0.2, lw=0)
        ref_key = {"density_gcm3": "density_gcm3", "D_cm2_s": "D_cm2_s"}.get(key)
        if ref_key and reference.get(ref_key) is not None:
            ax.axhline(reference[ref_key] * scale, color="k", ls=":", lw=1, label="reference")
        if key == "Q":
            ax.set_ylim(0, 3)
        ax.set_xlim(min(generations) - 0.3, max(generations) + 0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("active-learning generation")
        ax.set_ylabel(label)
    fig.axes[0].legend(frameon=False, fontsize=7, handlelength=4)  # long enough to show dashes
    return save_figure(fig, target)
