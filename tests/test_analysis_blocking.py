"""Blocking, statistical inefficiency and equilibration detection on series of known statistics."""

import numpy as np
import pytest

from xfer.analysis.blocking import (
    block_means,
    blocking_curve,
    detect_equilibration,
    statistical_inefficiency,
)
from xfer.analysis.results import NotComputable
from xfer.testing.synthetic import ar1_series


def _ar1(n, phi, sigma, seed):
    return ar1_series(n, phi, sigma, np.random.default_rng(seed))


@pytest.mark.parametrize(("phi", "seed"), [(0.0, 1), (0.5, 2), (0.9, 3), (0.98, 4)])
def test_statistical_inefficiency_of_ar1_series(phi, seed):
    g = statistical_inefficiency(_ar1(40_000, phi, 1.0, seed))
    assert g == pytest.approx((1 + phi) / (1 - phi), rel=0.25)


def test_statistical_inefficiency_of_constant_and_short_series():
    assert statistical_inefficiency(np.full(100, 0.8)) == 1.0
    with pytest.raises(NotComputable):
        statistical_inefficiency(np.array([1.0]))


def test_blocking_curve_rises_to_the_correlated_error():
    phi = 0.95
    x = _ar1(2**15, phi, 1.0, seed=5)
    levels = blocking_curve(x, min_blocks=16)
    assert [lv.block_size for lv in levels[:3]] == [1, 2, 4]
    assert levels[-1].n_blocks >= 16 and levels[-1].n_blocks < 32
    assert levels[0].sem == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)))
    plateau = np.sqrt((1 + phi) / (1 - phi) / len(x))
    assert levels[0].sem < plateau / 4  # the naive error is ~6x too small
    assert max(lv.sem for lv in levels) == pytest.approx(plateau, rel=0.35)
    assert all(lv.sem_error > 0 for lv in levels)


def test_detect_equilibration_cuts_the_start_up_transient():
    rng_part = _ar1(6000, 0.8, 0.01, seed=6)
    t = np.arange(6000)
    series = 1.0 + rng_part + 0.4 * np.exp(-t / 150.0)  # decays from 1.4 to 1.0
    eq = detect_equilibration(series)
    assert 300 < eq.t0 < 2000  # after the transient (e-folds at 150 samples), before half
    assert eq.g == pytest.approx(9.0, rel=0.4)
    assert eq.n_effective == pytest.approx((6000 - eq.t0) / eq.g)
    stationary = detect_equilibration(1.0 + _ar1(6000, 0.8, 0.01, seed=7))
    assert stationary.t0 < 600


def test_block_means_scatter_like_the_correlated_error_of_their_length():
    phi, size = 0.9, 400
    x = _ar1(200 * size, phi, 1.0, seed=8)
    means = block_means(x, size)
    assert len(means) == 200 and means[0] == pytest.approx(x[:size].mean())
    assert means.std(ddof=1) == pytest.approx(np.sqrt((1 + phi) / (1 - phi) / size), rel=0.2)
    assert len(block_means(x[:1000], 400)) == 2  # the rest is dropped
    with pytest.raises(NotComputable):
        block_means(x[:10], 400)
