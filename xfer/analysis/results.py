"""Result records of the analysis, JSON round-trippable (analysis.json, score.json).

A quantity that cannot be computed is ``None`` together with a ``reason`` string, never a
silently wrong number. Inside the code it is a NaN (see :func:`opt`).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict


class NotComputable(Exception):
    """A quantity cannot be computed from this run (the message says why)."""


def opt(value: float | None) -> float:
    """``None`` -> NaN, so arithmetic propagates missing values."""
    return math.nan if value is None else float(value)


def finite_or_none(value: float) -> float | None:
    """NaN/inf -> ``None`` for JSON."""
    return float(value) if math.isfinite(value) else None


class Record(BaseModel):
    """Base: strict fields, serialisable."""

    model_config = ConfigDict(extra="forbid")


class StabilityResult(Record):
    """t_stab of one run and whether it counts as stable (full configured length, no halt)."""

    t_stab_ps: float
    full_length_ps: float
    fraction: float  # min(1, t_stab / full length)
    stable: bool
    halted: bool
    halt_reason: str | None
    reason: str | None  # why the run is not stable


class DensityResult(Record):
    """Density distribution of an NPT run after the equilibration cut (g/cm3)."""

    n_samples: int = 0
    mean: float | None = None
    std: float | None = None
    sem: float | None = None  # block-averaged standard error of the mean
    statistical_inefficiency: float | None = None  # (sem / naive sem)^2
    n_outside_grid: int = 0
    grid_min: float
    grid_max: float
    grid_width: float
    histogram: list[float] | None = None  # probabilities per bin, sum 1
    reason: str | None = None


class SpeciesDiffusion(Record):
    """Centre-of-mass diffusivity of one molecule type."""

    n_molecules: int
    D_cm2_s: float | None
    sem_cm2_s: float | None
    block_D_cm2_s: list[float]
    msd_A2: list[float]  # mean over blocks, per lag
    intercept_A2: float | None  # mean fit intercept (for plotting the fit)


class DiffusionResult(Record):
    """Block-averaged COM diffusivities of an NVT run."""

    D_cm2_s: float | None = None  # molecule-count-weighted mean over species
    sem_cm2_s: float | None = None
    n_blocks: int = 0
    frame_dt_ps: float | None = None
    block_ps: float | None = None
    block_spacing_ps: float | None = None
    ballistic_ps: float | None = None
    equilibration_ps: float | None = None
    msd_origins: str | None = None
    lag_ps: list[float] = []
    species: dict[str, SpeciesDiffusion] = {}
    reason: str | None = None


class RunAnalysis(Record):
    """Everything ``xfer analyze`` knows about one run directory."""

    run_dir: str
    ensemble: str
    temperature_K: float
    mix: dict[str, int] | None
    settings: dict
    inputs: dict[str, list[int]]  # file -> [size, mtime_ns]: reuse only if unchanged
    stability: StabilityResult
    density: DensityResult | None = None
    diffusion: DiffusionResult | None = None
    notes: list[str] = []
