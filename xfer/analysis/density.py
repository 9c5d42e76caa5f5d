"""Density distribution of an NPT run: series from thermo.csv, equilibration cut, histogram.

The histogram lives on the fixed grid of :class:`~xfer.analysis.settings.DensityGrid` so
every model compared shares it. Samples outside the grid are counted (``n_outside_grid``)
and left out of the normalised histogram. The standard error of the mean accounts for
correlation by blocking (:func:`xfer.analysis.blocking.blocking_curve`): the largest
standard error among levels that still have at least ``density_min_blocks`` blocks is
reported.
"""

from __future__ import annotations

import numpy as np

from xfer.analysis.blocking import blocking_curve
from xfer.analysis.results import DensityResult, NotComputable
from xfer.analysis.settings import AnalysisSettings, DensityGrid


def grid_edges(grid: DensityGrid) -> np.ndarray:
    """Bin edges of the grid (the last bin ends at or just beyond ``grid.max``)."""
    n_bins = int(np.ceil((grid.max - grid.min) / grid.width - 1e-9))
    return grid.min + grid.width * np.arange(n_bins + 1)


def histogram(values: np.ndarray, grid: DensityGrid) -> tuple[np.ndarray, int]:
    """Probabilities per bin (sum 1 over in-grid samples) and the number outside the grid."""
    edges = grid_edges(grid)
    counts, _ = np.histogram(values, bins=edges)
    inside = int(counts.sum())
    if inside == 0:
        raise NotComputable("no density sample falls on the histogram grid")
    return counts / inside, len(values) - inside


def blocked_sem(values: np.ndarray, min_blocks: int = 16) -> tuple[float, float]:
    """Correlation-aware standard error of the mean and statistical inefficiency.

    Returns (sem, s) with s = (sem / naive sem)^2 >= 1 for positively correlated data.
    """
    x = np.asarray(values, dtype=float)
    if len(x) < 2 * min_blocks:
        raise NotComputable(
            f"{len(x)} density samples are too few for block averaging ({2 * min_blocks} needed)"
        )
    levels = blocking_curve(x, min_blocks)
    naive, best = levels[0].sem, max(level.sem for level in levels)
    inefficiency = (best / naive) ** 2 if naive > 0 else 1.0
    return float(best), float(inefficiency)


def equilibrated(time_ps: np.ndarray, values: np.ndarray, equilibration_ps: float) -> np.ndarray:
    """Samples taken at least ``equilibration_ps`` after the first sample."""
    return values[time_ps - time_ps[0] >= equilibration_ps - 1e-9]


def density_distribution(
    time_ps: np.ndarray, density: np.ndarray, settings: AnalysisSettings
) -> DensityResult:
    """Mean, std, blocked SEM and histogram of the density after the equilibration cut."""
    grid = settings.density_grid
    base = {"grid_min": grid.min, "grid_max": grid.max, "grid_width": grid.width}
    kept = equilibrated(time_ps, density, settings.equilibration_ps)
    if not np.all(np.isfinite(kept)):
        raise NotComputable("the density series contains NaN or inf")
    if len(kept) == 0:
        raise NotComputable(
            f"no density sample after the {settings.equilibration_ps:g} ps equilibration cut"
        )
    hist, outside = histogram(kept, grid)
    sem, inefficiency = blocked_sem(kept, settings.density_min_blocks)
    return DensityResult(
        n_samples=len(kept),
        mean=float(kept.mean()),
        std=float(kept.std(ddof=1)),
        sem=sem,
        statistical_inefficiency=inefficiency,
        n_outside_grid=outside,
        histogram=hist.tolist(),
        **base,
    )
