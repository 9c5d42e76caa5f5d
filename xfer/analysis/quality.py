"""The quality score Q of SPEC section 5 (the paper's eq. 1 with its typos corrected).

    Q = min(1, t_stab,NPT / T)
      + H(t_stab,NPT - T) * clip01(1 - tanh[D_KL(P_ML || P_ref,av) - D_KL(P_ref,i || P_ref,j)])
      + H(t_stab,NVT - T) * (1 - tanh(|D_ML - D_ref| / D_ref))

T is the configured full run length. H(t - T) is 1 for a *stable* run (no halt and the
full length reached, see :mod:`xfer.analysis.stability`) and 0 otherwise, so an unstable
run's density and diffusion terms are 0 whatever their inputs. A stable run whose input is
missing (e.g. too short for one MSD block under the settings) gets a NaN term (``None``
in JSON) and a reason; its Q is then NaN too and committee means skip it, saying so.

The primitive :func:`q_score` takes every value explicitly; :func:`build_reference` and
:func:`score_models` assemble them from analyzed runs for the campaign layer and the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xfer.analysis.kl import kl_divergence, reference_average, reference_tolerance
from xfer.analysis.results import Record, RunAnalysis, finite_or_none, opt
from xfer.analysis.settings import AnalysisSettings
from xfer.errors import InputError


class QTerms(Record):
    """Q of one model with every term and the values it came from."""

    stability: float
    density: float | None
    diffusion: float | None
    total: float | None
    kl_to_reference: float | None = None
    kl_tolerance: float | None = None
    D_cm2_s: float | None = None
    D_ref_cm2_s: float | None = None
    reasons: dict[str, str] = {}


def _diffusion_term(d_ml: float, d_ref: float) -> float:
    return 1.0 - math.tanh(abs(d_ml - d_ref) / d_ref)


def _density_term(kl_ml: float, kl_tol: float) -> float:
    return min(1.0, max(0.0, 1.0 - math.tanh(kl_ml - kl_tol)))


def q_score(
    *,
    t_stab_npt_ps: float,
    full_length_ps: float,
    stable_npt: bool,
    stable_nvt: bool,
    kl_ml: float,
    kl_tol: float,
    d_ml: float,
    d_ref: float,
) -> QTerms:
    """Q from explicit values (NaN = unknown); terms of unstable runs are 0."""
    reasons: dict[str, str] = {}
    stab = min(1.0, t_stab_npt_ps / full_length_ps)
    if not stable_npt:
        dens = 0.0
        reasons["density"] = "NPT run not stable for the full length"
    elif math.isnan(kl_ml) or math.isnan(kl_tol):
        dens = math.nan
        reasons["density"] = "KL divergence to the reference or the KL tolerance unavailable"
    else:
        dens = _density_term(kl_ml, kl_tol)
    if not stable_nvt:
        diff = 0.0
        reasons["diffusion"] = "NVT run not stable for the full length"
    elif math.isnan(d_ml) or math.isnan(d_ref) or d_ref <= 0:
        diff = math.nan
        reasons["diffusion"] = "model or reference diffusivity unavailable"
    else:
        diff = _diffusion_term(d_ml, d_ref)
    return QTerms(
        stability=stab,
        density=finite_or_none(dens),
        diffusion=finite_or_none(diff),
        total=finite_or_none(stab + dens + diff),
        kl_to_reference=finite_or_none(kl_ml),
        kl_tolerance=finite_or_none(kl_tol),
        D_cm2_s=finite_or_none(d_ml),
        D_ref_cm2_s=finite_or_none(d_ref),
        reasons=reasons,
    )


@dataclass(frozen=True)
class ModelRuns:
    """One model's analyzed NPT and NVT runs; ``group`` is its (architecture, recipe) label."""

    name: str
    group: str
    npt: RunAnalysis
    nvt: RunAnalysis

    def __post_init__(self):
        if self.npt.ensemble != "npt" or self.nvt.ensemble != "nvt":
            raise InputError(f"model {self.name}: needs one NPT and one NVT run")

    @property
    def histogram(self) -> np.ndarray | None:
        d = self.npt.density
        return None if d is None or d.histogram is None else np.asarray(d.histogram)

    @property
    def diffusivity(self) -> float:
        return math.nan if self.nvt.diffusion is None else opt(self.nvt.diffusion.D_cm2_s)


@dataclass(frozen=True)
class Reference:
    """Reference values Q compares against (NaN where unknown, with reasons)."""

    histogram: np.ndarray | None  # P_ref,av on the shared grid
    grid: tuple[float, float, float]  # (min, max, width) of that grid
    kl_tolerance: float
    d_ref_cm2_s: float
    members: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    def summary(self) -> dict:
        return {
            "members": list(self.members),
            "grid": list(self.grid),
            "kl_tolerance": finite_or_none(self.kl_tolerance),
            "D_ref_cm2_s": finite_or_none(self.d_ref_cm2_s),
            "histogram": None if self.histogram is None else self.histogram.tolist(),
            "reasons": list(self.reasons),
        }


def _grid(settings: AnalysisSettings) -> tuple[float, float, float]:
    g = settings.density_grid
    return (g.min, g.max, g.width)


def _check_grid(model: ModelRuns, grid: tuple[float, float, float]) -> None:
    d = model.npt.density
    if d is not None and (d.grid_min, d.grid_max, d.grid_width) != grid:
        raise InputError(
            f"model {model.name} was analyzed on density grid "
            f"{(d.grid_min, d.grid_max, d.grid_width)}, not {grid}: analyze all runs alike"
        )


def build_reference(members: Sequence[ModelRuns], settings: AnalysisSettings) -> Reference:
    """P_ref,av, the KL tolerance and D_ref from a reference committee's stable runs."""
    grid = _grid(settings)
    for m in members:
        _check_grid(m, grid)
    reasons = []
    hists = [m.histogram for m in members if m.npt.stability.stable and m.histogram is not None]
    if len(hists) < len(members):
        reasons.append(f"{len(members) - len(hists)} reference NPT run(s) unstable or unusable")
    p_av = reference_average(hists) if hists else None
    kl_tol = reference_tolerance(hists, settings.kl_epsilon) if len(hists) >= 2 else math.nan
    if len(hists) < 2:
        reasons.append("KL tolerance needs two stable reference NPT runs")
    ds = [m.diffusivity for m in members if m.nvt.stability.stable]
    ds = [d for d in ds if math.isfinite(d)]
    if len(ds) < len(members):
        reasons.append(f"{len(members) - len(ds)} reference NVT run(s) unstable or without D")
    return Reference(
        histogram=p_av,
        grid=grid,
        kl_tolerance=kl_tol,
        d_ref_cm2_s=float(np.mean(ds)) if ds else math.nan,
        members=tuple(m.name for m in members),
        reasons=tuple(reasons),
    )


def score_model(model: ModelRuns, reference: Reference, settings: AnalysisSettings) -> QTerms:
    """Q of one model against ``reference``."""
    _check_grid(model, reference.grid)
    hist = model.histogram
    kl_ml = math.nan
    if hist is not None and reference.histogram is not None:
        kl_ml = kl_divergence(hist, reference.histogram, settings.kl_epsilon)
    return q_score(
        t_stab_npt_ps=model.npt.stability.t_stab_ps,
        full_length_ps=settings.full_length_ps,
        stable_npt=model.npt.stability.stable,
        stable_nvt=model.nvt.stability.stable,
        kl_ml=kl_ml,
        kl_tol=reference.kl_tolerance,
        d_ml=model.diffusivity,
        d_ref=reference.d_ref_cm2_s,
    )


class Estimate(Record):
    """Committee mean and standard error (std ddof=1 / sqrt(n)) over n models."""

    mean: float | None
    sem: float | None
    n: int


def estimate(values: Sequence[float]) -> Estimate:
    """Mean and SE of the finite values (SE needs two)."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) == 0:
        return Estimate(mean=None, sem=None, n=0)
    sem = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None
    return Estimate(mean=float(v.mean()), sem=sem, n=len(v))


class ModelScore(Record):
    """One model's Q and the properties behind it."""

    name: str
    group: str
    q: QTerms
    t_stab_npt_ps: float
    t_stab_nvt_ps: float
    stable_npt: bool
    stable_nvt: bool
    density_mean: float | None
    D_cm2_s: float | None


class CommitteeScore(Record):
    """Committee averages, as in the paper's figures (density over stable NPT runs only,
    D over runs with at least one MSD block, Q and its terms over models with finite Q)."""

    models: list[str]
    Q: Estimate
    stability_term: Estimate
    density_term: Estimate
    diffusion_term: Estimate
    t_stab_npt_ps: Estimate
    t_stab_nvt_ps: Estimate
    density: Estimate
    D_cm2_s: Estimate
    excluded_from_Q: dict[str, str]


class ScoreReport(Record):
    """Everything ``xfer score`` writes to score.json."""

    settings: dict
    reference: dict
    models: list[ModelScore]
    committees: dict[str, CommitteeScore]


def score_models(
    models: Sequence[ModelRuns], reference: Reference, settings: AnalysisSettings
) -> ScoreReport:
    """Q per model and per committee (group) with every term reported separately."""
    scores = []
    for m in models:
        dens = m.npt.density
        scores.append(
            ModelScore(
                name=m.name,
                group=m.group,
                q=score_model(m, reference, settings),
                t_stab_npt_ps=m.npt.stability.t_stab_ps,
                t_stab_nvt_ps=m.nvt.stability.t_stab_ps,
                stable_npt=m.npt.stability.stable,
                stable_nvt=m.nvt.stability.stable,
                density_mean=None if dens is None else dens.mean,
                D_cm2_s=finite_or_none(m.diffusivity),
            )
        )
    committees = {}
    for group in dict.fromkeys(s.group for s in scores):
        members = [s for s in scores if s.group == group]
        committees[group] = CommitteeScore(
            models=[s.name for s in members],
            Q=estimate([s.q.total for s in members]),
            stability_term=estimate([s.q.stability for s in members if s.q.total is not None]),
            density_term=estimate([s.q.density for s in members if s.q.total is not None]),
            diffusion_term=estimate([s.q.diffusion for s in members if s.q.total is not None]),
            t_stab_npt_ps=estimate([s.t_stab_npt_ps for s in members]),
            t_stab_nvt_ps=estimate([s.t_stab_nvt_ps for s in members]),
            density=estimate([s.density_mean for s in members if s.stable_npt]),
            D_cm2_s=estimate([s.D_cm2_s for s in members]),
            excluded_from_Q={
                s.name: "; ".join(s.q.reasons.values()) for s in members if s.q.total is None
            },
        )
    return ScoreReport(
        settings=settings.model_dump(),
        reference=reference.summary(),
        models=scores,
        committees=committees,
    )
