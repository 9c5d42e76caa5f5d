"""``xfer dataset build/info/recipe`` end to end at test scale, resume, config guard; the
laptop-scale example build (needs the OPLS-AA engine) is marked slow."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms

import xfer  # noqa: F401
from xfer.chem.molecules import get_molecule
from xfer.cli import main
from xfer.data.frames import has_labels
from xfer.data.store import Dataset, write_frames

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dataset-mini.toml"


def _source_box(path: Path) -> None:
    """1 EC + 1 EMC in a 12 A box; EMC crosses the boundary and is stored wrapped."""
    ec, emc = get_molecule("EC"), get_molecule("EMC")
    pos = np.vstack([ec.positions + [3.0, 2.5, 6.0], emc.positions + [10.0, 8.0, 6.0]])
    atoms = Atoms(ec.symbols + emc.symbols, positions=pos, cell=[12.0] * 3, pbc=True)
    atoms.wrap()
    write_frames(path, [atoms])


def _imported(path: Path) -> None:
    mol = get_molecule("EC")
    atoms = Atoms(mol.symbols, positions=mol.positions)
    atoms.info["DFT_energy"] = -123.0
    atoms.arrays["DFT_forces"] = np.zeros((len(atoms), 3))
    write_frames(path, [atoms])


CONFIG = """
[sm]
molecules = {EC = 2, EMC = 2}
temperatures = [300, 500]

[[vs]]
source = "box.xyz"
scans = 1
points = 3
max_density = 0.5
min_density = 0.05

[e0]

[[import]]
path = "dft.xyz"
key_map = "dft"
tag = "extra"
method = "PBE test set"
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    _source_box(root / "box.xyz")
    _imported(root / "dft.xyz")
    (root / "c.toml").write_text(CONFIG)
    assert main(["dataset", "build", str(root / "c.toml"), "--out", str(root / "ds")]) == 0
    return root


def test_build_writes_tagged_labelled_frames_and_manifest(built):
    ds = Dataset.open(built / "ds")
    m = ds.manifest
    assert m["counts"] == {
        "sm": {"EC1": 2, "EMC1": 2},
        "vs": {"EC1EMC1": 3},
        "e0": {"C": 1, "H": 1, "O": 1},
        "extra": {"EC1": 1},
    }
    assert m["total_frames"] == 11 and m["failed"] == [] and ds.verify() == []
    assert m["reference_methods"] == {"tblite:GFN2-xTB": 10, "PBE test set": 1}
    assert set(m["files"]) == {"sm.extxyz", "vs.extxyz", "e0.extxyz", "extra.extxyz"}
    frames = ds.frames()
    assert len({f.info["frame_id"] for f in frames}) == 11
    for f in frames:
        assert has_labels(f) and f.info["config_type"] in ("sm", "vs", "e0", "extra")
        assert np.isfinite(f.info["REF_energy"]) and f.calc is None
    sm = ds.frames(["sm"])
    assert {f.info["temperature_K"] for f in sm} == {300, 500}
    assert all(f.info["sampler"] == "reference" for f in sm)
    vs = ds.frames(["vs"])
    assert all(f.info["scan_id"] == "v0s0" and "mol_id" in f.arrays for f in vs)
    assert all(len(np.unique(f.arrays["mol_id"])) == 2 for f in vs)
    assert all(np.shape(f.info["REF_virial"]) == (9,) for f in vs)
    assert vs[-1].info["density_gcm3"] == pytest.approx(0.05)


def test_info_prints_table_and_writes_histograms(built, capsys):
    assert main(["dataset", "info", str(built / "ds")]) == 0
    out = capsys.readouterr().out
    for tag in ("sm", "vs", "e0", "extra"):
        assert f" {tag} " in out
    assert "relative to the isolated atoms" in out
    assert (built / "ds" / "histograms.png").stat().st_size > 5000


def test_rebuild_resumes_without_recomputing_and_guards_the_config(built, capsys):
    logs = {p.name: p.read_bytes() for p in (built / "ds" / "work").glob("*.labels.jsonl")}
    start = time.perf_counter()
    assert main(["dataset", "build", str(built / "c.toml"), "--out", str(built / "ds")]) == 0
    assert time.perf_counter() - start < 20  # no SCF was redone (labelling took longer)
    assert logs == {p.name: p.read_bytes() for p in (built / "ds" / "work").glob("*.labels.jsonl")}
    changed = built / "c2.toml"
    changed.write_text(CONFIG.replace("points = 3", "points = 4"))
    capsys.readouterr()
    assert main(["dataset", "build", str(changed), "--out", str(built / "ds")]) == 2
    assert "different configuration" in capsys.readouterr().err


def test_recipe_on_built_dataset(built):
    out = built / "full.xyz"
    assert main(["dataset", "recipe", str(built / "ds"), "Full", "--out", str(out)]) == 0
    summary = json.loads((built / "full.xyz.json").read_text())
    assert summary["train_frames"] + summary["valid_frames"] == 11
    assert len(ase.io.read(out, ":")) == summary["train_frames"]


def test_bad_config_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "c.toml").write_text("[sm]\nmolecules = {EC = 2}\ntemprature = [300]\n")
    assert main(["dataset", "build", str(tmp_path / "c.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "sm.temprature: Extra inputs are not permitted" in capsys.readouterr().err


@pytest.mark.slow
def test_example_mini_build(tmp_path):
    """Acceptance: the laptop-scale example (opls + sm + one 5-point scan + e0) builds."""
    pytest.importorskip("xfer.lammps.dump", reason="needs the OPLS-AA engine")
    shutil.copy(EXAMPLE, tmp_path / "mini.toml")
    assert (
        main(["dataset", "build", str(tmp_path / "mini.toml"), "--out", str(tmp_path / "ds")]) == 0
    )
    ds = Dataset.open(tmp_path / "ds")
    counts = ds.manifest["counts"]
    assert sum(counts["opls"].values()) == 6 and sum(counts["sm"].values()) == 4
    assert sum(counts["vs"].values()) == 5 and set(counts["e0"]) == {"H", "C", "O"}
    assert ds.manifest["failed"] == []
    for f in ds.frames():
        assert has_labels(f) and f.info["REF_method"] == "tblite:GFN2-xTB"
    vs = ds.frames(["vs"])
    energies = [f.info["REF_energy"] for f in vs]
    assert energies[0] == max(energies)  # the most compressed point is the highest
