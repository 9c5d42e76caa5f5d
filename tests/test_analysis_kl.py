"""KL divergence on a common grid: zero for identical histograms, asymmetric, empty bins."""

import math

import numpy as np
import pytest

from xfer.analysis.kl import kl_divergence, reference_average, reference_tolerance


def test_kl_identical_histograms_is_zero():
    p = np.array([0.0, 3.0, 5.0, 2.0, 0.0])
    assert kl_divergence(p, p.copy()) == 0.0


def test_kl_known_value_and_asymmetry():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert kl_divergence(p, q, epsilon=1e-12) == pytest.approx(expected, rel=1e-9)
    reverse = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert kl_divergence(q, p, epsilon=1e-12) == pytest.approx(reverse, rel=1e-9)
    assert kl_divergence(p, q) != pytest.approx(kl_divergence(q, p), rel=1e-3)


def test_kl_empty_bin_of_q_gives_finite_epsilon_penalty():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([1.0, 0.0, 0.0])
    eps = 1e-6
    d = kl_divergence(p, q, epsilon=eps)
    assert math.isfinite(d)
    # the P mass on Q's empty bin costs about 0.5 log(0.5 / eps)
    assert d == pytest.approx(0.5 * math.log(0.5) + 0.5 * math.log(0.5 / eps), rel=1e-3)
    assert kl_divergence(p, q, epsilon=1e-9) > d  # the penalty is explicit in epsilon


def test_kl_rejects_different_grids():
    with pytest.raises(ValueError, match="different grids"):
        kl_divergence(np.ones(3), np.ones(4))


def test_kl_reference_average_and_tolerance():
    a, b = np.array([2.0, 2.0, 0.0]), np.array([0.0, 1.0, 1.0])
    np.testing.assert_allclose(reference_average([a, b]), [0.25, 0.5, 0.25])
    both = 0.5 * (kl_divergence(a, b) + kl_divergence(b, a))
    assert reference_tolerance([a, b]) == pytest.approx(both)
    assert reference_tolerance([a, a, a]) == 0.0
    with pytest.raises(ValueError, match="two reference"):
        reference_tolerance([a])
