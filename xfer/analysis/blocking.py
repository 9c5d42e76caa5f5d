"""Correlated time series (density, energy): blocking, statistical inefficiency, equilibration.

Three views of one question, how many independent samples a series holds:

- :func:`blocking_curve`: Flyvbjerg & Petersen (J. Chem. Phys. 91, 461 (1989)): the series
  is halved into pair averages repeatedly; the standard error of the mean at each level
  rises and reaches a plateau once blocks are longer than the correlation time.
- :func:`statistical_inefficiency`: g = 1 + 2 sum_t (1 - t/N) C(t), the normalised
  autocorrelation summed until it first drops to zero or below (the estimator of pymbar's
  timeseries module); the correlation time is (g - 1) / 2 samples.
- :func:`detect_equilibration`: the start-up cut t0 that maximises the number of
  uncorrelated samples (N - t0) / g(t0) (Chodera, J. Chem. Theory Comput. 12, 1799 (2016)).
- :func:`block_means`: means of consecutive windows, whose spread is the error of the mean
  of one run of the window's length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xfer.analysis.results import NotComputable


@dataclass(frozen=True)
class BlockingLevel:
    """One level of the blocking transformation."""

    block_size: int  # samples per block
    n_blocks: int
    sem: float  # standard error of the mean estimated at this level
    sem_error: float  # its own uncertainty, sem / sqrt(2 (n_blocks - 1))


def blocking_curve(values: np.ndarray, min_blocks: int = 4) -> list[BlockingLevel]:
    """Standard error of the mean per blocking level, down to ``min_blocks`` blocks."""
    x = np.asarray(values, dtype=float)
    if len(x) < max(2, min_blocks):
        raise NotComputable(f"{len(x)} samples are too few for block averaging")
    levels, size = [], 1
    while len(x) >= max(2, min_blocks):
        sem = float(x.std(ddof=1) / np.sqrt(len(x)))
        levels.append(BlockingLevel(size, len(x), sem, sem / np.sqrt(2.0 * (len(x) - 1))))
        x = 0.5 * (x[: len(x) // 2 * 2 : 2] + x[1 : len(x) // 2 * 2 : 2])
        size *= 2
    return levels


def statistical_inefficiency(values: np.ndarray) -> float:
    """g >= 1: how many correlated samples make one independent one (1.0 for a constant)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2:
        raise NotComputable(f"{n} samples are too few for an autocorrelation")
    if np.ptp(x) == 0.0:
        return 1.0
    dx = x - x.mean()
    var = float(dx @ dx) / n
    spec = np.fft.rfft(dx, n=2 * n)
    acf = np.fft.irfft(spec * spec.conj(), n=2 * n)[:n] / (var * (n - np.arange(n)))
    stop = np.flatnonzero(acf[1 : n - 1] <= 0.0)
    lags = np.arange(1, (stop[0] + 1) if len(stop) else n - 1)
    g = 1.0 + 2.0 * float(np.sum(acf[lags] * (1.0 - lags / n)))
    return max(1.0, g)


@dataclass(frozen=True)
class Equilibration:
    """The cut that keeps the most independent samples, and the series after it."""

    t0: int  # first kept sample
    g: float  # statistical inefficiency of values[t0:]
    n_effective: float  # (N - t0) / g


def detect_equilibration(values: np.ndarray, n_candidates: int = 200) -> Equilibration:
    """Best start-up cut among ``n_candidates`` evenly spaced ones in the first half."""
    x = np.asarray(values, dtype=float)
    if len(x) < 4:
        raise NotComputable(f"{len(x)} samples are too few to detect equilibration")
    cuts = np.unique(np.linspace(0, len(x) // 2, n_candidates).astype(int))
    best = None
    for t0 in cuts:
        g = statistical_inefficiency(x[t0:])
        n_eff = (len(x) - t0) / g
        if best is None or n_eff > best.n_effective:
            best = Equilibration(int(t0), g, float(n_eff))
    assert best is not None
    return best


def block_means(values: np.ndarray, size: int) -> np.ndarray:
    """Means of the consecutive, non-overlapping blocks of ``size`` samples (rest dropped).

    Their spread is how far the mean of one run of that length scatters around the mean
    of a long one: the error a run of ``size`` samples makes.
    """
    x = np.asarray(values, dtype=float)
    if size < 1 or len(x) < size:
        raise NotComputable(f"{len(x)} samples hold no block of {size}")
    n = len(x) // size
    return x[: n * size].reshape(n, size).mean(axis=1)
