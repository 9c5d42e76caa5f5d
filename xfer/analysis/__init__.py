"""Liquid-property analysis of validation runs and the quality score Q (SPEC section 5)."""

from xfer.analysis.pipeline import analyze_run, load_models, load_or_analyze
from xfer.analysis.quality import (
    ModelRuns,
    QTerms,
    Reference,
    ScoreReport,
    build_reference,
    q_score,
    score_models,
)
from xfer.analysis.settings import AnalysisSettings, DensityGrid, load_settings

__all__ = [
    "AnalysisSettings",
    "DensityGrid",
    "ModelRuns",
    "QTerms",
    "Reference",
    "ScoreReport",
    "analyze_run",
    "build_reference",
    "load_models",
    "load_or_analyze",
    "load_settings",
    "q_score",
    "score_models",
]
