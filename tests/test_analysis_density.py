"""Density distributions: equilibration cut, shared grid, correlation-aware standard error."""

import numpy as np
import pytest

from xfer.analysis import AnalysisSettings, analyze_run
from xfer.analysis.density import blocked_sem, density_distribution, grid_edges
from xfer.testing.synthetic import SyntheticRun, ar1_series, write_synthetic_run


def _ar1(n, phi, sigma, seed):
    return ar1_series(n, phi, sigma, np.random.default_rng(seed))


def test_density_sem_of_uncorrelated_series_is_the_naive_one():
    x = 1.0 + _ar1(4096, 0.0, 0.02, seed=3)
    sem, inefficiency = blocked_sem(x)
    assert sem == pytest.approx(0.02 / np.sqrt(4096), rel=0.3)
    assert inefficiency < 1.6


def test_density_sem_accounts_for_correlation():
    phi = 0.9  # statistical inefficiency (1 + phi) / (1 - phi) = 19
    x = 1.0 + _ar1(8192, phi, 0.02, seed=4)
    sem, inefficiency = blocked_sem(x)
    expected = 0.02 * np.sqrt((1 + phi) / (1 - phi) / len(x))
    assert sem == pytest.approx(expected, rel=0.35)
    assert inefficiency > 8.0  # the naive error would be 4x too small


def test_density_equilibration_cut_and_shared_grid():
    settings = AnalysisSettings(equilibration_ps=10.0)
    t = np.arange(0.0, 50.0, 0.01)
    rho = np.where(t < 10.0, 1.8, 1.0 + _ar1(len(t), 0.0, 0.01, seed=5))
    result = density_distribution(t, rho, settings)
    assert result.n_samples == np.sum(t >= 10.0)
    assert result.mean == pytest.approx(1.0, abs=1e-3)  # the 1.8 g/cm3 start is gone
    hist = np.asarray(result.histogram)
    assert len(hist) == len(grid_edges(settings.density_grid)) - 1
    assert hist.sum() == pytest.approx(1.0)
    centres = grid_edges(settings.density_grid)[:-1] + settings.density_grid.width / 2
    assert hist @ centres == pytest.approx(result.mean, abs=settings.density_grid.width)


def test_density_outside_grid_is_counted():
    settings = AnalysisSettings(equilibration_ps=0.0)
    t = np.arange(100) * 0.1
    rho = np.full(100, 1.0)
    rho[:3] = 2.5
    result = density_distribution(t, rho, settings)
    assert result.n_outside_grid == 3
    assert sum(result.histogram) == pytest.approx(1.0)


def test_density_run_shorter_than_equilibration_has_reason(tmp_path):
    run = write_synthetic_run(tmp_path / "npt", SyntheticRun(ensemble="npt", n_frames=50))
    analysis = analyze_run(run, AnalysisSettings(full_length_ps=4.9, equilibration_ps=10.0))
    assert analysis.density.mean is None
    assert "equilibration" in analysis.density.reason
    assert analysis.stability.stable  # 49 frames x 0.1 ps reached the configured length


def test_density_of_synthetic_npt_run(tmp_path):
    spec = SyntheticRun(ensemble="npt", n_frames=2001, density=0.95, density_std=0.015)
    run = write_synthetic_run(tmp_path / "npt", spec)
    analysis = analyze_run(run, AnalysisSettings(full_length_ps=200.0, equilibration_ps=20.0))
    d = analysis.density
    assert d.n_samples == 1801
    assert abs(d.mean - 0.95) < 3 * d.sem
    assert d.std == pytest.approx(0.015, rel=0.1)
