"""Real LAMMPS output through the analysis pipeline: a short SPC/E water NVT run.

The full validation against the published SPC/E diffusivity (hundreds of ps) is
benchmarks/validate_diffusion_spce.py; this slow test runs its simulation for a few ps
to prove that LAMMPS' own data file (write_data) and dump parse and give a sane D.
"""

import pytest
from fixtures.scripts import benchmark_module

from xfer.analysis import AnalysisSettings, analyze_run


def _validation_module():
    return benchmark_module("validate_diffusion_spce")


@pytest.mark.slow
def test_diffusivity_of_short_spce_water_lammps_run(tmp_path):
    run = tmp_path / "spce"
    _validation_module().simulate(run, production_ps=4.0, equilibration_ps=1.0, seed=7, n_side=6)
    settings = AnalysisSettings(
        full_length_ps=4.0, equilibration_ps=0.5, block_ps=2.0, block_spacing_ps=0.5,
        ballistic_ps=0.5,
    )  # fmt: skip
    analysis = analyze_run(run, settings)
    diff = analysis.diffusion
    assert analysis.stability.stable
    assert diff.species["H2O"].n_molecules == 216
    assert diff.n_blocks == 4
    # a few ps cannot validate D, but it must be a liquid-water magnitude (1-5e-5 cm2/s)
    assert 1e-5 < diff.D_cm2_s < 5e-5
