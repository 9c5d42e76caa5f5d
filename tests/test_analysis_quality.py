"""Q score: the worked example, the limits of the formula, and scoring synthetic run dirs."""

import math
import shutil

import pytest

from xfer.analysis import (
    AnalysisSettings,
    build_reference,
    load_models,
    q_score,
    score_models,
)
from xfer.testing.synthetic import SyntheticRun, write_synthetic_model

# 100 frames of 0.1 ps = 10 ps runs, analyzed with scaled-down settings
SETTINGS = AnalysisSettings(
    full_length_ps=10.0,
    equilibration_ps=2.0,
    block_ps=4.0,
    block_spacing_ps=1.0,
    ballistic_ps=1.0,
)


def _q(**kw):
    args = dict(
        t_stab_npt_ps=1000.0,
        full_length_ps=1000.0,
        stable_npt=True,
        stable_nvt=True,
        kl_ml=0.1,
        kl_tol=0.1,
        d_ml=48e-6,
        d_ref=48e-6,
    )
    args.update(kw)
    return q_score(**args)


def test_q_score_third_term_worked_example():
    # SPEC: D_ML = 39e-6, D_ref = 48e-6 cm2/s -> 1 - tanh(9/48) = 0.81467 (0.815 at 3 d.p.)
    term = _q(d_ml=39e-6).diffusion
    assert f"{term:.3f}" == "0.815"
    assert abs(term - 0.8147) < 1e-4


def test_q_score_is_three_for_a_perfect_stable_model():
    q = _q(kl_ml=0.0, kl_tol=0.0)
    assert (q.stability, q.density, q.diffusion, q.total) == (1.0, 1.0, 1.0, 3.0)


def test_q_score_density_term_clipped_and_decreasing():
    better = _q(kl_ml=0.05, kl_tol=0.1).density  # below the tolerance: clipped to 1
    worse = _q(kl_ml=0.6, kl_tol=0.1).density
    assert better == 1.0
    assert worse == pytest.approx(1.0 - math.tanh(0.5))
    assert _q(kl_ml=50.0).density < 1e-6


def test_q_score_unstable_runs_score_only_their_stability():
    q = _q(t_stab_npt_ps=250.0, stable_npt=False, stable_nvt=False, d_ml=math.nan)
    assert q.total == 0.25 and q.density == 0.0 and q.diffusion == 0.0
    assert "not stable" in q.reasons["density"]


def test_q_score_missing_input_of_stable_run_is_nan_with_reason():
    q = _q(d_ml=math.nan)
    assert q.diffusion is None and q.total is None
    assert "diffusivity" in q.reasons["diffusion"]


def _model(root, name, *, seed, halted_at=None, diffusivity=0.5):
    """NPT + NVT synthetic runs; ``halted_at`` halts both (a model that is unstable)."""
    return write_synthetic_model(
        root / name,
        SyntheticRun(ensemble="npt", seed=seed, density_tau_ps=0.3, halted_at_frame=halted_at),
        SyntheticRun(
            ensemble="nvt",
            seed=seed + 100,
            halted_at_frame=halted_at,
            diffusivity={"EC": diffusivity, "EMC": diffusivity},
        ),
    )


def test_q_score_identical_to_reference_is_three(tmp_path):
    ref = _model(tmp_path / "ref", "seed0", seed=1)
    shutil.copytree(ref, tmp_path / "ref" / "seed1")  # a committee of two identical models
    other = _model(tmp_path / "ref", "seed2", seed=2, diffusivity=0.9)
    reference = build_reference(load_models([ref, tmp_path / "ref" / "seed1"], SETTINGS), SETTINGS)
    assert reference.kl_tolerance == 0.0
    report = score_models(load_models([ref, other], SETTINGS), reference, SETTINGS)
    same, different = report.models
    assert same.q.total == pytest.approx(3.0, abs=1e-12)
    assert different.q.total < 3.0 and different.q.diffusion < 1.0
    assert different.q.kl_to_reference > 0.0


def test_q_score_halted_model_below_one(tmp_path):
    refs = [_model(tmp_path / "ref", f"seed{i}", seed=i) for i in range(2)]
    halted = _model(tmp_path / "ml", "seed0", seed=5, halted_at=40)
    reference = build_reference(load_models(refs, SETTINGS), SETTINGS)
    report = score_models(load_models([halted, *refs], SETTINGS), reference, SETTINGS)
    q = report.models[0].q
    assert q.total < 1.0
    assert q.stability == pytest.approx(4.0 / SETTINGS.full_length_ps)
    assert q.density == 0.0 and q.diffusion == 0.0
    committees = report.committees
    assert set(committees) == {"ml", "ref"}
    assert committees["ml"].Q.n == 1 and committees["ml"].Q.sem is None
    assert committees["ref"].Q.n == 2 and committees["ref"].Q.mean > 2.0


def test_q_score_too_short_for_block_is_excluded_with_reason(tmp_path):
    refs = [_model(tmp_path / "ref", f"seed{i}", seed=i) for i in range(2)]
    # a complete 10 ps run analyzed with 20 ps blocks: stable, but no MSD block fits
    settings = SETTINGS.model_copy(update={"block_ps": 20.0})
    reference = build_reference(load_models(refs, settings), settings)
    assert math.isnan(reference.d_ref_cm2_s)
    report = score_models(load_models(refs, settings), reference, settings)
    assert all(m.q.total is None for m in report.models)
    excluded = report.committees["ref"].excluded_from_Q
    assert set(excluded) == {m.name for m in report.models}
    assert "diffusivity unavailable" in next(iter(excluded.values()))
