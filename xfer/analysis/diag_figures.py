"""Figures (PNG) and tables (CSV) of the diagnostics: volume scans, errors along a run,
generalisation. Built on :class:`matplotlib.figure.Figure` (Agg), written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from xfer.analysis.figures import save_figure
from xfer.atomic import atomic_path


def write_csv(table: pd.DataFrame, target: Path) -> Path:
    """Write a table as CSV atomically."""
    with atomic_path(target) as tmp:
        table.to_csv(tmp, index=False, float_format="%.12g")
    return target


def _colours(models: list[str]) -> dict[str, str]:
    return {m: f"C{k % 10}" for k, m in enumerate(models)}


def relative_energies(table: pd.DataFrame) -> pd.DataFrame:
    """Energies relative to the reference at each scan's largest volume (eV), per model."""
    out = table.copy()
    biggest = out.loc[out.groupby(["model", "scan_id"])["volume_A3"].idxmax()]
    zero = biggest.set_index(["model", "scan_id"])["e_ref_eV"]
    base = np.array([zero[(m, s)] for m, s in zip(out["model"], out["scan_id"], strict=True)])
    out["ref_rel_eV"] = out["e_ref_eV"] - base
    out["model_rel_eV"] = out["e_model_eV"] - base
    return out


def scan_curves(target: Path, table: pd.DataFrame) -> Path:
    """Energy vs volume per composition: reference thick black, one colour per model."""
    rel = relative_energies(table)
    compositions = list(dict.fromkeys(rel["composition"]))
    colours = _colours(list(dict.fromkeys(rel["model"])))
    fig = Figure(figsize=(5.0 * len(compositions), 4.2))
    axes = fig.subplots(1, len(compositions), squeeze=False)[0]
    for ax, comp in zip(axes, compositions, strict=True):
        part = rel[rel["composition"] == comp].sort_values("volume_A3")
        first = part["model"].iloc[0]
        for scan, ref in part[part["model"] == first].groupby("scan_id"):
            ax.plot(ref["volume_A3"], ref["ref_rel_eV"], color="k", lw=3,
                    label="reference" if scan == part["scan_id"].iloc[0] else None)
        for model, rows in part.groupby("model", sort=False):
            for k, (_, scan) in enumerate(rows.groupby("scan_id")):
                ax.plot(scan["volume_A3"], scan["model_rel_eV"], color=colours[model], lw=1.2,
                        marker="o", ms=3, label=model if k == 0 else None)
        ax.set_xlabel("cell volume (A$^3$)")
        ax.set_ylabel("E - E$_{ref}$(largest V) (eV)")
        ax.set_title(comp)
        ax.legend(fontsize=7)
    return save_figure(fig, target)


def scan_parity(target: Path, table: pd.DataFrame) -> Path:
    """Model vs reference scan energies (relative to each scan's dilute end), parity line."""
    rel = relative_energies(table)
    colours = _colours(list(dict.fromkeys(rel["model"])))
    markers = dict(zip(dict.fromkeys(rel["composition"]), "os^vD<>", strict=False))
    fig = Figure(figsize=(5.2, 4.8))
    ax = fig.subplots()
    for (model, comp), rows in rel.groupby(["model", "composition"], sort=False):
        ax.scatter(rows["ref_rel_eV"], rows["model_rel_eV"], s=14, color=colours[model],
                   marker=markers.get(comp, "o"), label=f"{model} {comp}")
    lo = float(min(rel["ref_rel_eV"].min(), rel["model_rel_eV"].min()))
    hi = float(max(rel["ref_rel_eV"].max(), rel["model_rel_eV"].max()))
    ax.plot([lo, hi], [lo, hi], color="tab:blue", lw=2.5, zorder=0, label="parity")
    ax.set_xlabel("reference energy (eV)")
    ax.set_ylabel("model energy (eV)")
    ax.legend(fontsize=7)
    return save_figure(fig, target)


def along_figure(target: Path, table: pd.DataFrame, components: pd.DataFrame) -> Path:
    """Figure 7: energy/force errors and the reference energy vs time (top), errors vs the
    reference value (bottom)."""
    colours = _colours(list(dict.fromkeys(table["model"])))
    fig = Figure(figsize=(13.0, 7.5))
    ax = fig.subplot_mosaic([["a", "a", "b", "b", "r", "r"], ["c", "c", "c", "d", "d", "d"]])
    for model, rows in table.groupby("model", sort=False):
        rows = rows.sort_values("time_ps")
        style = {"color": colours[model], "label": model}
        ax["a"].plot(rows["time_ps"], rows["e_err_meV_atom"].abs(), "o-", ms=3, **style)
        ax["b"].plot(rows["time_ps"], rows["f_rmse_meV_A"], "o-", ms=3, **style)
        ax["r"].plot(rows["time_ps"], rows["e_ref_eV_atom"], "o-", ms=3, **style)
        ax["c"].scatter(rows["e_ref_eV_atom"], rows["e_err_meV_atom"], s=12, **style)
    for model, rows in components.groupby("model", sort=False):
        ax["d"].scatter(rows["f_ref_eV_A"], rows["f_err_meV_A"], s=2, alpha=0.3,
                        color=colours[model], label=model, rasterized=True)
    ax["a"].set(xlabel="time (ps)", ylabel="|energy error| (meV/atom)")
    ax["b"].set(xlabel="time (ps)", ylabel="force RMSE (meV/A)")
    ax["r"].set(xlabel="time (ps)", ylabel="reference energy (eV/atom)")
    ax["c"].set(xlabel="reference energy (eV/atom)", ylabel="energy error (meV/atom)")
    ax["d"].set(xlabel="reference force component (eV/A)", ylabel="force error (meV/A)")
    for axis in ax.values():
        axis.legend(fontsize=7)
    return save_figure(fig, target)
