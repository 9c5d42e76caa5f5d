"""COM MSD and diffusivity: FFT MSD, known-D random walks, periodic boundaries, bad input."""

import shutil

import numpy as np
import pytest

from xfer.analysis import AnalysisSettings, analyze_run
from xfer.analysis.diffusion import CentreOfMassTrajectory, msd_all_origins
from xfer.analysis.dump import read_dump
from xfer.analysis.rundir import load_run
from xfer.analysis.universe import load_system
from xfer.errors import InputError
from xfer.testing.synthetic import SyntheticRun, write_synthetic_run

# synthetic frames are 0.1 ps apart (dump every 200 steps of 0.5 fs)
SHORT = AnalysisSettings(
    full_length_ps=10.0, equilibration_ps=1.0, block_ps=4.0, block_spacing_ps=1.0, ballistic_ps=0.5
)


def _com(run_dir):
    run = load_run(run_dir)
    system = load_system(run.data_path, read_dump(run.dump_path), 0.5, run.result.mix)
    return system, CentreOfMassTrajectory(system.universe.atoms).run().results.com


def test_msd_all_origins_matches_direct_average():
    x = np.random.default_rng(0).normal(size=(50, 4, 3)).cumsum(axis=0)
    direct = np.array(
        [
            [np.mean(np.sum((x[m:, i] - x[: len(x) - m, i]) ** 2, axis=-1)) for i in range(4)]
            for m in range(50)
        ]
    )
    np.testing.assert_allclose(msd_all_origins(x), direct, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("origins", ["block_start", "all"])
def test_msd_random_walk_recovers_known_d(tmp_path, origins):
    d_true = 0.5  # A^2/ps = 5e-5 cm2/s
    spec = SyntheticRun(mix={"EC": 64}, n_frames=401, diffusivity={"EC": d_true}, seed=11)
    run = write_synthetic_run(tmp_path / "nvt", spec)
    # independent (non-overlapping) blocks, so std/sqrt(n) is an honest standard error
    settings = AnalysisSettings(
        full_length_ps=40.0,
        equilibration_ps=0.0,
        block_ps=4.0,
        block_spacing_ps=4.0,
        ballistic_ps=0.0,
        msd_origins=origins,
    )
    diff = analyze_run(run, settings).diffusion
    assert diff.n_blocks == 10
    assert diff.species["EC"].n_molecules == 64
    assert abs(diff.D_cm2_s - d_true * 1e-4) < 2.0 * diff.sem_cm2_s
    assert diff.sem_cm2_s < 0.1 * d_true * 1e-4


@pytest.mark.parametrize("tilt", [0.0, 2.5])
def test_msd_com_correct_across_periodic_boundary(tmp_path, tilt):
    drift = np.array([3.0, -2.0, 1.5])  # A/ps: ~30 A in 10 ps, several box lengths
    spec = SyntheticRun(
        mix={"EMC": 2}, diffusivity={"EMC": 0.0}, drift_A_ps=tuple(drift), tilt_xy=tilt
    )
    run = write_synthetic_run(tmp_path / "nvt", spec)
    dump_text = (run / "traj.dump").read_text()
    assert " 1 0 0\n" in dump_text or " -1 0 0\n" in dump_text  # atoms did cross
    system, com = _com(run)
    t = system.times_ps
    expected = np.broadcast_to(t[:, None, None] * drift, com.shape)
    np.testing.assert_allclose(com - com[0], expected, atol=2e-3)
    diff = analyze_run(run, SHORT).diffusion
    lag = np.asarray(diff.lag_ps)
    msd = np.asarray(diff.species["EMC"].msd_A2)
    np.testing.assert_allclose(msd, (drift @ drift) * lag**2, rtol=1e-3, atol=1e-3)


def test_diffusivity_combined_is_count_weighted(tmp_path):
    spec = SyntheticRun(mix={"EC": 10, "EMC": 20}, diffusivity={"EC": 0.2, "EMC": 0.8})
    diff = analyze_run(write_synthetic_run(tmp_path / "nvt", spec), SHORT).diffusion
    ec, emc = diff.species["EC"], diff.species["EMC"]
    assert (ec.n_molecules, emc.n_molecules) == (10, 20)
    assert diff.D_cm2_s == pytest.approx((10 * ec.D_cm2_s + 20 * emc.D_cm2_s) / 30, rel=1e-9)
    assert ec.D_cm2_s < emc.D_cm2_s  # 0.2 vs 0.8 A^2/ps resolved per species
    assert diff.n_blocks == len(ec.block_D_cm2_s) == 6  # starts at 1..6 ps, 4 ps long


def test_diffusivity_run_too_short_for_one_block_has_reason(tmp_path):
    run = write_synthetic_run(tmp_path / "nvt", SyntheticRun(n_frames=40))
    diff = analyze_run(run, SHORT).diffusion
    assert diff.D_cm2_s is None and diff.n_blocks == 0
    assert "too short for one MSD block" in diff.reason


def test_diffusivity_without_image_flags_is_refused(tmp_path):
    run = write_synthetic_run(tmp_path / "nvt", SyntheticRun(image_flags=False))
    with pytest.raises(InputError, match="image flags"):
        analyze_run(run, SHORT)


def test_diffusivity_mismatched_topology_and_dump(tmp_path):
    run = write_synthetic_run(tmp_path / "a", SyntheticRun(mix={"EC": 2, "EMC": 4}))
    fewer = write_synthetic_run(tmp_path / "b", SyntheticRun(mix={"EC": 3, "EMC": 3}))
    swapped = write_synthetic_run(tmp_path / "c", SyntheticRun(mix={"EMC": 4, "EC": 2}))
    shutil.copy(fewer / "system.data", run / "system.data")
    with pytest.raises(InputError, match="atoms but the dump has"):
        analyze_run(run, SHORT)
    shutil.copy(swapped / "system.data", run / "system.data")
    with pytest.raises(InputError, match="types"):
        analyze_run(run, SHORT)


def test_truncated_dump_of_a_finished_run_is_an_error(tmp_path):
    """result.json says how many frames the dump holds; a cut file is refused, not analysed."""
    run = write_synthetic_run(tmp_path / "nvt", SyntheticRun())
    text = (run / "traj.dump").read_text()
    (run / "traj.dump").write_text(text[: len(text) - 200])  # cut mid-frame
    with pytest.raises(InputError, match="truncated: .* and a cut-off frame"):
        analyze_run(run, SHORT)
