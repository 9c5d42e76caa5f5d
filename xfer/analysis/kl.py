"""Kullback-Leibler divergence of density distributions and the reference committee.

D_KL(P||Q) = sum_x P(x) log(P(x)/Q(x)) (natural log) on a common histogram grid.

Empty bins: before the sum, every bin of both distributions gets an additive
``epsilon`` and each is renormalised, p_k -> (p_k + eps) / (1 + K eps) for K bins.
Bins empty in both then contribute nothing; a bin where P has mass and Q has none
contributes about P log(P/eps), a large but finite penalty (log(1/1e-6) = 13.8 for the
default eps). Without this D_KL would be infinite whenever Q misses one sampled bin of P.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import permutations

import numpy as np


def smooth(p: np.ndarray, epsilon: float) -> np.ndarray:
    """Normalised distribution with ``epsilon`` added to every bin."""
    p = np.asarray(p, dtype=float)
    if p.ndim != 1 or np.any(p < 0) or p.sum() <= 0:
        raise ValueError("a distribution must be a non-negative, non-empty 1-D histogram")
    q = p / p.sum() + epsilon
    return q / q.sum()


def kl_divergence(p: np.ndarray, q: np.ndarray, epsilon: float = 1e-6) -> float:
    """D_KL(P||Q) of two histograms on the same grid, with ``epsilon`` smoothing."""
    if np.shape(p) != np.shape(q):
        raise ValueError(f"histograms on different grids: {np.shape(p)} vs {np.shape(q)}")
    ps, qs = smooth(p, epsilon), smooth(q, epsilon)
    return float(np.sum(ps * np.log(ps / qs)))


def reference_average(histograms: Sequence[np.ndarray]) -> np.ndarray:
    """P_ref,av: the mean of the (normalised) reference histograms."""
    if not histograms:
        raise ValueError("no reference histogram")
    return np.mean([np.asarray(h, float) / np.sum(h) for h in histograms], axis=0)


def reference_tolerance(histograms: Sequence[np.ndarray], epsilon: float = 1e-6) -> float:
    """Mean D_KL(P_ref,i || P_ref,j) over all ordered pairs i != j (needs two or more)."""
    if len(histograms) < 2:
        raise ValueError("the KL tolerance needs at least two reference models")
    pairs = permutations(range(len(histograms)), 2)
    return float(np.mean([kl_divergence(histograms[i], histograms[j], epsilon) for i, j in pairs]))
