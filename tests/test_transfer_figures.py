"""Figure 1 of the preprint from a synthetic campaign: PNG + CSV with the right numbers, no
label running into another panel (checked on the renderer's bounding boxes)."""

import csv

import numpy as np
import pytest
from matplotlib.figure import Figure

from xfer.analysis import AnalysisSettings, build_reference, load_models, score_models
from xfer.analysis.figures import committee_bars_figure, layout_overlaps
from xfer.analysis.transfer_figures import write_transfer_figure
from xfer.testing.synthetic import SyntheticRun, write_synthetic_model

SETTINGS = AnalysisSettings(
    full_length_ps=10.0, equilibration_ps=2.0, block_ps=4.0, block_spacing_ps=1.0,
    ballistic_ps=1.0,
)  # fmt: skip
ARCHS, RECIPES = ["mace", "deepmd"], ["OPLS", "OPLS+VS", "Full"]
HALTED_FRAME = {("deepmd", "OPLS"): (30, 45), ("deepmd", "OPLS+VS"): (None, 80)}  # by seed


def _model(model_dir, seed, halted_at=None, rho=1.0, d=0.5):
    return write_synthetic_model(
        model_dir,
        SyntheticRun(ensemble="npt", seed=seed, density=rho, halted_at_frame=halted_at),
        SyntheticRun(ensemble="nvt", seed=seed + 50, diffusivity={"EC": d, "EMC": 2 * d}),
    )


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """Two architectures x three recipes x two seeds, and a two-member reference."""
    root = tmp_path_factory.mktemp("campaign")
    dirs = []
    for a, arch in enumerate(ARCHS):
        for r, recipe in enumerate(RECIPES):
            halts = HALTED_FRAME.get((arch, recipe), (None, None))
            for seed in range(2):
                rho = 0.9 + 0.05 * r + 0.01 * seed
                model_dir = root / arch / recipe / f"seed{seed}"
                dirs.append(_model(model_dir, 10 * a + 3 * r + seed, halts[seed], rho))
    refs = [_model(root / "opls" / "reference" / f"seed{s}", 90 + s) for s in range(2)]
    models = load_models(dirs, SETTINGS)
    reference = load_models(refs, SETTINGS)
    return root, models, reference


def _rows(path):
    with open(path) as fh:
        return {(r["quantity"], r["arch"], r["recipe"]): r for r in csv.DictReader(fh)}


def test_transfer_figure_writes_png_and_csv_with_committee_numbers(campaign, tmp_path):
    _, models, reference = campaign
    png, table = write_transfer_figure(tmp_path / "figure1.png", models, reference, ARCHS, RECIPES)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and table.name == "figure1.csv"
    rows = _rows(table)
    # t_stab: a halt after frame 30 / 45 of 0.1 ps frames; the others ran the full 10 ps
    t = rows["t_stab_npt_ps", "deepmd", "OPLS"]
    assert float(t["mean"]) == pytest.approx(3.75) and int(t["n"]) == 2
    assert float(t["sem"]) == pytest.approx(np.std([3.0, 4.5], ddof=1) / np.sqrt(2))
    assert float(rows["t_stab_npt_ps", "mace", "Full"]["mean"]) == pytest.approx(10.0)
    # density: only members stable in NPT count; none of deepmd/OPLS, one of deepmd/OPLS+VS
    assert rows["density", "deepmd", "OPLS"]["n"] == "0"
    assert rows["density", "deepmd", "OPLS"]["mean"] == ""
    one = rows["density", "deepmd", "OPLS+VS"]
    assert one["n"] == "1" and one["sem"] == ""
    by_name = {m.name: m for m in models}
    stable = by_name["deepmd/OPLS+VS/seed0"].npt.density.mean
    assert float(one["mean"]) == pytest.approx(stable, rel=1e-5)
    full = [by_name[f"mace/Full/seed{s}"].npt.density.mean for s in range(2)]
    assert float(rows["density", "mace", "Full"]["mean"]) == pytest.approx(np.mean(full), 1e-5)
    assert float(rows["density", "mace", "Full"]["mean"]) == pytest.approx(1.005, abs=0.02)
    ref = rows["density", "reference", ""]
    assert int(ref["n"]) == 2 and float(ref["mean"]) == pytest.approx(1.0, abs=0.02)
    # D per species: EMC set to twice EC in every synthetic NVT run
    for arch in ARCHS:
        ec = float(rows["D_EC", arch, "Full"]["mean"])
        emc = float(rows["D_EMC", arch, "Full"]["mean"])
        want = [by_name[f"{arch}/Full/seed{s}"].nvt.diffusion.species["EC"].D_cm2_s for s in (0, 1)]
        assert ec == pytest.approx(np.mean(want), rel=1e-5)
        assert 1.2 < emc / ec < 4.0
    assert {q for q, _, _ in rows} == {"t_stab_npt_ps", "density", "D_EC", "D_EMC"}


def test_transfer_figure_has_no_overlapping_labels(campaign):
    from xfer.analysis.transfer_figures import figure_table, transfer_figure

    _, models, reference = campaign
    table = figure_table(models, reference, ARCHS, RECIPES)
    fig = transfer_figure(table, ARCHS, RECIPES, ["EC", "EMC"])
    assert layout_overlaps(fig) == []


def test_committee_bars_labels_stay_out_of_the_panels_below(campaign):
    _, models, reference = campaign
    report = score_models(models, build_reference(reference, SETTINGS), SETTINGS)
    assert layout_overlaps(committee_bars_figure(report)) == []


def test_layout_overlaps_sees_a_label_running_into_the_panel_below():
    fig = Figure(figsize=(3, 3))
    top, bottom = fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2)
    top.set_xticks([0, 1], ["a very long recipe name", "another long one"], rotation=90)
    bottom.plot([0, 1])
    assert any("runs into axes 1" in p for p in layout_overlaps(fig))
