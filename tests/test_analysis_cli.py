"""``xfer analyze`` and ``xfer score`` on synthetic run directories (outputs, bad input)."""

import json

from xfer.cli import main
from xfer.testing.synthetic import SyntheticRun, write_synthetic_model, write_synthetic_run

SHORT = [
    "--full-length-ps", "10", "--equilibration-ps", "1", "--block-ps", "4",
    "--block-spacing-ps", "1", "--ballistic-ps", "0.5",
]  # fmt: skip


def test_analyze_cli_writes_analysis_and_figures(tmp_path, capsys):
    npt = write_synthetic_run(tmp_path / "npt", SyntheticRun(ensemble="npt"))
    nvt = write_synthetic_run(tmp_path / "nvt", SyntheticRun(ensemble="nvt"))
    assert main(["analyze", str(npt), str(nvt), *SHORT]) == 0
    for f in ("analysis.json", "density_hist.csv", "density_hist.png"):
        assert (npt / f).stat().st_size > 0
    for f in ("analysis.json", "msd.csv", "msd.png"):
        assert (nvt / f).stat().st_size > 0
    analysis = json.loads((nvt / "analysis.json").read_text())
    assert analysis["settings"]["block_ps"] == 4.0
    assert analysis["diffusion"]["D_cm2_s"] > 0
    assert "cm2/s" in capsys.readouterr().out


def test_analyse_is_an_alias_of_analyze(tmp_path, capsys):
    nvt = write_synthetic_run(tmp_path / "nvt", SyntheticRun(ensemble="nvt"))
    assert main(["analyse", str(nvt), *SHORT]) == 0
    analysis = json.loads((nvt / "analysis.json").read_text())
    assert analysis["settings"]["block_ps"] == 4.0 and analysis["diffusion"]["D_cm2_s"] > 0
    assert "cm2/s" in capsys.readouterr().out


def test_score_cli_writes_score_files(tmp_path, capsys):
    for group in ("ref", "mlip"):
        for seed in range(2):
            write_synthetic_model(
                tmp_path / "runs" / group / f"seed{seed}",
                SyntheticRun(ensemble="npt", seed=seed),
                SyntheticRun(ensemble="nvt", seed=seed + 10),
            )
    out = tmp_path / "score"
    runs = str(tmp_path / "runs" / "*" / "seed*")
    ref = str(tmp_path / "runs" / "ref" / "seed*")
    assert main(["score", "--runs", runs, "--reference", ref, "--out", str(out), *SHORT]) == 0
    report = json.loads((out / "score.json").read_text())
    assert set(report["committees"]) == {"ref", "mlip"}
    assert len(report["models"]) == 4
    assert all(2.0 < m["q"]["total"] <= 3.0 for m in report["models"])
    for f in ("score.csv", "committees.csv", "committees.png", "density_vs_reference.png"):
        assert (out / f).stat().st_size > 0
    assert "Q =" in capsys.readouterr().out


def test_score_cli_bad_input_is_one_line_error(tmp_path, capsys):
    model = tmp_path / "ref" / "seed0"
    write_synthetic_run(model / "npt", SyntheticRun(ensemble="npt"))  # no NVT run
    code = main(["score", "--runs", str(model), "--reference", str(model), *SHORT])
    err = capsys.readouterr().err
    assert code == 2
    assert "has no NVT run" in err and "Traceback" not in err
    assert main(["analyze", str(tmp_path / "missing")]) == 2
