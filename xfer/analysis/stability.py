"""Stability of a run: t_stab from result.json against the configured full run length.

A run is stable when it did not halt and reached the configured full length
(``AnalysisSettings.full_length_ps``); shorter runs count as unstable for Q's Heaviside
terms even if they ended normally.
"""

from __future__ import annotations

from xfer.analysis.results import StabilityResult
from xfer.analysis.rundir import RunResult

TOLERANCE = 1e-6  # relative slack for floating-point t_stab == full length


def stability(result: RunResult, full_length_ps: float) -> StabilityResult:
    """t_stab, the score fraction min(1, t_stab / full) and the stable flag with a reason."""
    t = result.t_stab_ps
    reason = None
    if result.halted:
        reason = f"halted ({result.halt_reason or 'unknown reason'}) at {t:g} ps"
    elif t < full_length_ps * (1.0 - TOLERANCE):
        reason = f"ran {t:g} ps, shorter than the full length {full_length_ps:g} ps"
    return StabilityResult(
        t_stab_ps=t,
        full_length_ps=full_length_ps,
        fraction=min(1.0, t / full_length_ps),
        stable=reason is None,
        halted=result.halted,
        halt_reason=result.halt_reason,
        reason=reason,
    )
