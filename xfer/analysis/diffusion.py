"""Centre-of-mass self-diffusion from unwrapped coordinates, block-averaged (SPEC section 5).

Molecules are MDAnalysis fragments of the bond graph; their centres of mass come from an
:class:`~MDAnalysis.analysis.base.AnalysisBase` pass over the trajectory. The MSD is then
taken in blocks of ``block_ps`` whose starts are ``block_spacing_ps`` apart (after
``equilibration_ps``), per molecule type; the first ``ballistic_ps`` of each block are
dropped and D comes from a least-squares line MSD = 6 D t + c per block. D is the mean over
blocks and its standard error the sample standard deviation of the block values divided by
sqrt(number of blocks). The single D of a mixture is the molecule-count-weighted mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from MDAnalysis.analysis.base import AnalysisBase

from xfer.analysis.results import DiffusionResult, NotComputable, SpeciesDiffusion
from xfer.analysis.settings import AnalysisSettings
from xfer.analysis.universe import MolecularSystem
from xfer.chem.units import A2_PS_TO_CM2_S
from xfer.errors import InputError


class CentreOfMassTrajectory(AnalysisBase):
    """Centre of mass of every fragment (molecule) in every frame: ``results.com``.

    The coordinates must be unwrapped (each atom's path continuous); a molecule split by
    the box in the first frame is then still correct for displacements.
    """

    def __init__(self, atomgroup, **kwargs):
        super().__init__(atomgroup.universe.trajectory, **kwargs)
        self.atomgroup = atomgroup

    def _prepare(self):
        self.results.com = np.zeros((self.n_frames, len(self.atomgroup.fragments), 3))

    def _single_frame(self):
        com = self.atomgroup.center_of_mass(compound="fragments", unwrap=False)
        self.results.com[self._frame_index] = com


@dataclass(frozen=True)
class BlockPlan:
    """Frame indices of the MSD blocks (lengths in frames) and what they mean in ps."""

    frame_dt_ps: float
    length: int  # lags 0..length
    spacing: int
    ballistic: int
    starts: np.ndarray
    equilibration_ps: float  # time actually skipped before the first block

    def describe(self) -> dict[str, float]:
        return {
            "frame_dt_ps": self.frame_dt_ps,
            "block_ps": self.length * self.frame_dt_ps,
            "block_spacing_ps": self.spacing * self.frame_dt_ps,
            "ballistic_ps": self.ballistic * self.frame_dt_ps,
            "equilibration_ps": self.equilibration_ps,
        }


def frame_interval(times_ps: np.ndarray) -> float:
    """The constant time between frames; unevenly spaced frames are an input error."""
    if len(times_ps) < 2:
        raise NotComputable("the trajectory has fewer than 2 frames")
    gaps = np.diff(times_ps)
    if gaps[0] <= 0 or not np.allclose(gaps, gaps[0], rtol=1e-6, atol=0.0):
        raise InputError("trajectory frames are not evenly spaced in time")
    return float(gaps[0])


def plan_blocks(times_ps: np.ndarray, settings: AnalysisSettings) -> BlockPlan:
    """Blocks of the settings on this trajectory; NotComputable if not even one fits."""
    dt = frame_interval(times_ps)
    length = int(round(settings.block_ps / dt))
    spacing = max(1, int(round(settings.block_spacing_ps / dt)))
    ballistic = int(round(settings.ballistic_ps / dt))
    if length - ballistic < 2:
        raise NotComputable(
            f"a {settings.block_ps} ps block minus {settings.ballistic_ps} ps ballistic part "
            f"leaves fewer than 3 frames at {dt} ps per frame"
        )
    elapsed = times_ps - times_ps[0]
    first = int(np.searchsorted(elapsed, settings.equilibration_ps - 1e-9 * dt))
    starts = np.arange(first, len(times_ps) - length, spacing)
    if len(starts) == 0:
        need = settings.equilibration_ps + settings.block_ps
        raise NotComputable(
            f"run too short for one MSD block: needs {need:g} ps "
            f"(equilibration + block), has {elapsed[-1]:g} ps"
        )
    return BlockPlan(dt, length, spacing, ballistic, starts, float(elapsed[first]))


def msd_from_origin(x: np.ndarray) -> np.ndarray:
    """MSD per molecule from the first frame only: x (T, M, 3) -> (T, M)."""
    return ((x - x[0]) ** 2).sum(axis=-1)


def msd_all_origins(x: np.ndarray) -> np.ndarray:
    """MSD per molecule averaged over every time origin (FFT, O(T log T)): (T, M, 3) -> (T, M).

    MSD(m) = S1(m) - 2 S2(m), with S1 from running sums of |r|^2 and S2 the position
    autocorrelation computed by zero-padded FFT, both normalised by T - m.
    """
    n = x.shape[0]
    sq = (x**2).sum(axis=-1)
    c = np.concatenate([np.zeros((1, sq.shape[1])), np.cumsum(sq, axis=0)])
    m = np.arange(n)
    s1 = c[n - m] + c[n] - c[m]
    spec = np.fft.rfft(x, n=2 * n, axis=0)
    s2 = np.fft.irfft(spec * spec.conj(), n=2 * n, axis=0)[:n].sum(axis=-1)
    return (s1 - 2.0 * s2) / (n - m)[:, None]


def fit_slopes(lag_ps: np.ndarray, msd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope and intercept of msd (..., L) against lag_ps (L,)."""
    x = lag_ps - lag_ps.mean()
    slope = (msd * x).sum(axis=-1) / (x**2).sum()
    return slope, msd.mean(axis=-1) - slope * lag_ps.mean()


def diffusion(system: MolecularSystem, settings: AnalysisSettings) -> DiffusionResult:
    """Block-averaged COM diffusivity per species and combined (NaN-free or NotComputable)."""
    plan = plan_blocks(system.times_ps, settings)
    com = CentreOfMassTrajectory(system.universe.atoms).run().results.com
    msd_of = msd_from_origin if settings.msd_origins == "block_start" else msd_all_origins
    species = np.array(system.species)
    names = list(dict.fromkeys(system.species))
    lags = np.arange(plan.length + 1) * plan.frame_dt_ps
    fit = slice(plan.ballistic, None)
    per_block = np.empty((len(plan.starts), len(names), plan.length + 1))
    for b, start in enumerate(plan.starts):
        msd = msd_of(com[start : start + plan.length + 1])
        for s, name in enumerate(names):
            per_block[b, s] = msd[:, species == name].mean(axis=1)
    slopes, intercepts = fit_slopes(lags[fit], per_block[:, :, fit])
    d_blocks = slopes / 6.0 * A2_PS_TO_CM2_S  # (blocks, species)
    counts = np.array([np.sum(species == n) for n in names])
    combined = d_blocks @ counts / counts.sum()
    return DiffusionResult(
        D_cm2_s=float(combined.mean()),
        sem_cm2_s=_sem(combined),
        n_blocks=len(plan.starts),
        msd_origins=settings.msd_origins,
        lag_ps=lags.tolist(),
        species={
            name: SpeciesDiffusion(
                n_molecules=int(counts[s]),
                D_cm2_s=float(d_blocks[:, s].mean()),
                sem_cm2_s=_sem(d_blocks[:, s]),
                block_D_cm2_s=d_blocks[:, s].tolist(),
                msd_A2=per_block[:, s].mean(axis=0).tolist(),
                intercept_A2=float(intercepts[:, s].mean()),
            )
            for s, name in enumerate(names)
        },
        **plan.describe(),
    )


def _sem(values: np.ndarray) -> float | None:
    """std (ddof=1) / sqrt(n); None for a single block (no spread to estimate)."""
    if len(values) < 2:
        return None
    return float(values.std(ddof=1) / np.sqrt(len(values)))
