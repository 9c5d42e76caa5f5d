"""Liquid-property analysis of validation runs and the quality score Q (SPEC section 5).

The public names are imported lazily, so ``from xfer.analysis.settings import
AnalysisSettings`` (e.g. in campaign configuration) does not pull in MDAnalysis and
matplotlib.
"""

from importlib import import_module

_EXPORTS = {
    "AnalysisSettings": "settings",
    "DensityGrid": "settings",
    "load_settings": "settings",
    "ModelRuns": "quality",
    "QTerms": "quality",
    "Reference": "quality",
    "ScoreReport": "quality",
    "build_reference": "quality",
    "q_score": "quality",
    "score_models": "quality",
    "analyze_run": "pipeline",
    "load_models": "pipeline",
    "load_or_analyze": "pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"xfer.analysis.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'xfer.analysis' has no attribute {name!r}")
