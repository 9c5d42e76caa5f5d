"""PNG figures of run analyses and committee scores (matplotlib, no GUI backend).

Figures are built on :class:`matplotlib.figure.Figure` directly (Agg canvas, no pyplot
state) and written atomically; the numbers behind them go to CSV/JSON next to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from xfer.analysis.quality import ModelRuns, ScoreReport
from xfer.analysis.results import RunAnalysis
from xfer.atomic import atomic_path


def save_figure(fig: Figure, target: Path) -> Path:
    """Write ``fig`` as PNG atomically (tight layout unless it has a layout engine)."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return target


def _tick_labels(axis: Axis) -> list[Text]:
    """Major and minor tick labels inside the view interval (the only ones drawn)."""
    lo, hi = sorted(axis.get_view_interval())
    pad = 1e-9 * max(abs(lo), abs(hi), 1.0)
    shown = []
    for minor in (False, True):
        locs = axis.get_minorticklocs() if minor else axis.get_majorticklocs()
        labels = axis.get_ticklabels(minor=minor)
        shown += [t for loc, t in zip(locs, labels, strict=False) if lo - pad <= loc <= hi + pad]
    return shown


def _texts(ax: Axes) -> list[Text]:
    """Tick labels, axis labels and titles of ``ax`` that are drawn."""
    texts = [*_tick_labels(ax.xaxis), *_tick_labels(ax.yaxis), ax.xaxis.label, ax.yaxis.label]
    texts += [ax.title, ax._left_title, ax._right_title]  # noqa: SLF001 (no public getter)
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def layout_overlaps(fig: Figure) -> list[str]:
    """Labels of one axes that run into another axes (or its labels), or off the figure.

    Drawn with the Agg renderer, so the boxes are those of the saved PNG; used by the tests
    to keep every figure readable.
    """
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    axes = fig.get_axes()
    boxes = {id(ax): [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(ax)]
             for ax in axes}  # fmt: skip
    page = fig.bbox
    problems = []
    for k, ax in enumerate(axes):
        for text, box in boxes[id(ax)]:
            if np.any(box.min < page.min - 1) or np.any(box.max > page.max + 1):
                problems.append(f"axes {k}: {text!r} leaves the figure")
            for j, other in enumerate(axes):
                if other is ax:
                    continue
                if box.overlaps(other.get_window_extent(renderer)):
                    problems.append(f"axes {k}: {text!r} runs into axes {j}")
                hits = [t for t, b in boxes[id(other)] if box.overlaps(b)]
                problems += [f"axes {k}: {text!r} overlaps {t!r} of axes {j}" for t in hits]
    return problems


def _centres(grid_min: float, width: float, n: int) -> np.ndarray:
    return grid_min + width * (np.arange(n) + 0.5)


def _support(hists: Sequence[np.ndarray], centres: np.ndarray, pad: int = 3) -> tuple[float, float]:
    """x-range covering every non-empty bin (plus a few bins)."""
    used = np.flatnonzero(np.sum(hists, axis=0) > 0)
    lo, hi = max(used[0] - pad, 0), min(used[-1] + pad, len(centres) - 1)
    return centres[lo], centres[hi]


def density_histogram(target: Path, analysis: RunAnalysis) -> Path:
    """P(rho) of one NPT run with its mean."""
    d = analysis.density
    hist = np.asarray(d.histogram)
    x = _centres(d.grid_min, d.grid_width, len(hist))
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    ax.step(x, hist / d.grid_width, where="mid", color="C0")
    ax.axvline(d.mean, color="k", ls="--", lw=1, label=f"mean {d.mean:.4f} ± {d.sem:.4f}")
    ax.set_xlim(*_support([hist], x))
    ax.set_xlabel("density (g/cm$^3$)")
    ax.set_ylabel("P($\\rho$) (cm$^3$/g)")
    ax.set_title(f"{Path(analysis.run_dir).name}: {d.n_samples} samples")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return save_figure(fig, target)


def msd_curves(target: Path, analysis: RunAnalysis) -> Path:
    """Block-averaged COM MSD per species with the fitted 6 D t + c lines."""
    d = analysis.diffusion
    lag = np.asarray(d.lag_ps)
    fit = lag >= d.ballistic_ps - 1e-9
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    for k, (name, s) in enumerate(d.species.items()):
        ax.plot(lag, s.msd_A2, color=f"C{k}", label=f"{name} (N={s.n_molecules})")
        if s.D_cm2_s is not None:
            slope = 6.0 * s.D_cm2_s / 1e-4
            ax.plot(
                lag[fit],
                slope * lag[fit] + s.intercept_A2,
                color=f"C{k}",
                ls="--",
                label=f"fit D = {s.D_cm2_s * 1e6:.2f}e-6 cm$^2$/s",
            )
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel("COM MSD (Å$^2$)")
    ax.set_title(f"{Path(analysis.run_dir).name}: {d.n_blocks} block(s)")
    ax.legend(frameon=False, fontsize=8)
    return save_figure(fig, target)


def committee_bars(target: Path, report: ScoreReport) -> Path:
    """Bar charts of t_stab(NPT), mean density, D and Q per committee, error bars = SE."""
    return save_figure(committee_bars_figure(report), target)


def committee_bars_figure(report: ScoreReport) -> Figure:
    """The figure of :func:`committee_bars`."""
    groups = list(report.committees)
    panels = (
        ("t_stab_npt_ps", "t$_{stab}$ NPT (ps)", 1.0, None),
        ("density", "mean density (g/cm$^3$)", 1.0, None),
        ("D_cm2_s", "D (10$^{-6}$ cm$^2$/s)", 1e6, report.reference.get("D_ref_cm2_s")),
        ("Q", "Q", 1.0, None),
    )
    fig = Figure(figsize=(9, 7), layout="constrained")  # the layout engine sizes the labels
    x = np.arange(len(groups))
    for k, (key, label, scale, ref) in enumerate(panels):
        ax = fig.add_subplot(2, 2, k + 1)
        est = [getattr(report.committees[g], key) for g in groups]
        mean = np.array([np.nan if e.mean is None else e.mean * scale for e in est])
        err = np.array([0.0 if e.sem is None else e.sem * scale for e in est])
        ax.bar(x, np.nan_to_num(mean), yerr=err, color=[f"C{i % 10}" for i in x], capsize=4)
        for i, e in enumerate(est):
            if e.mean is None:
                ax.text(i, 0.02, "n/a", transform=ax.get_xaxis_transform(),  # inside the axes
                        ha="center", va="bottom", fontsize=8)  # fmt: skip
        if ref is not None:
            ax.axhline(ref * scale, color="green", ls="--", lw=1.5, label="reference")
            ax.legend(frameon=False, fontsize=8)
        if key == "density" and np.isfinite(mean).any():
            lo = np.nanmin(mean - err)
            ax.set_ylim(0.95 * lo, None)
        if key == "Q":
            ax.set_ylim(0, 3)
        ax.set_xticks(x, groups, rotation=30, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_ylabel(label)
    return fig


def density_comparison(target: Path, report: ScoreReport, models: Sequence[ModelRuns]) -> Path:
    """Committee-averaged P(rho) of stable models per group against P_ref,av."""
    grid_min, _, width = report.reference["grid"]
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    hists = []
    for k, group in enumerate(report.committees):
        members = [m.histogram for m in models if m.group == group and m.npt.stability.stable]
        members = [h for h in members if h is not None]
        if not members:
            continue
        h = np.mean(members, axis=0)
        hists.append(h)
        x = _centres(grid_min, width, len(h))
        ax.step(x, h / width, where="mid", color=f"C{k}", label=f"{group} ({len(members)})")
    ref = report.reference.get("histogram")
    if ref is not None:
        h = np.asarray(ref)
        hists.append(h)
        x = _centres(grid_min, width, len(h))
        ax.fill_between(x, h / width, step="mid", color="green", alpha=0.3, label="reference")
    if hists:
        ax.set_xlim(*_support(hists, _centres(grid_min, width, len(hists[0]))))
    ax.set_xlabel("density (g/cm$^3$)")
    ax.set_ylabel("P($\\rho$) (cm$^3$/g)")
    ax.legend(frameon=False, fontsize=8)
    return save_figure(fig, target)


def q_matrix(
    target: Path, report: ScoreReport, archs: Sequence[str], recipes: Sequence[str]
) -> Path:
    """Heat map of committee-mean Q over (architecture x recipe), with mean ± SE printed.

    Committees are named ``arch/recipe`` in ``report``; a cell without one says n/a.
    """
    values = np.full((len(archs), len(recipes)), np.nan)
    labels = [["n/a" for _ in recipes] for _ in archs]
    for i, arch in enumerate(archs):
        for j, recipe in enumerate(recipes):
            c = report.committees.get(f"{arch}/{recipe}")
            if c is not None and c.Q.mean is not None:
                values[i, j] = c.Q.mean
                labels[i][j] = f"{c.Q.mean:.2f}" + (f"\n± {c.Q.sem:.2f}" if c.Q.sem else "")
    fig = Figure(figsize=(1.6 * len(recipes) + 2, 0.9 * len(archs) + 1.5))
    ax = fig.add_subplot()
    image = ax.imshow(values, vmin=0, vmax=3, cmap="viridis")
    for i in range(len(archs)):
        for j in range(len(recipes)):
            ax.text(j, i, labels[i][j], ha="center", va="center", color="w", fontsize=9)
    ax.set_xticks(range(len(recipes)), recipes, rotation=30, ha="right")
    ax.set_yticks(range(len(archs)), archs)
    ax.set_title("Q: committee mean (± SE)")
    fig.colorbar(image, ax=ax, label="Q")
    return save_figure(fig, target)
