"""Bookkeeping of active-learned frames: generation/loop tags and provenance, additions that
a restart never duplicates (also after a kill between the frame file and the manifest)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms

from xfer.chem.molecules import get_molecule
from xfer.data.al_frames import add_al_frames, al_frame, extend_dataset, generation_counts
from xfer.data.al_select import DumpFrame, Pick
from xfer.data.frames import tag_frame
from xfer.data.store import Dataset, write_dataset, write_frames
from xfer.errors import InputError


def box(shift: float, mix=(("EC", 1), ("EMC", 2))) -> Atoms:
    """Whole molecules in a 12 A box with a per-atom mol_id (what the dump reader gives)."""
    symbols, positions, mol_id = [], [], []
    for name, count in mix:
        mol = get_molecule(name)
        for _ in range(count):
            symbols += mol.symbols
            positions += list(mol.positions + [3.0 + 3.0 * len(set(mol_id)), 6.0, 6.0 + shift])
            mol_id += [len(set(mol_id)) + 1] * mol.n_atoms
    atoms = Atoms(symbols, positions=positions, cell=np.eye(3) * 12.0, pbc=True)
    atoms.arrays["mol_id"] = np.array(mol_id)
    return atoms


def labelled(frame: Atoms) -> Atoms:
    frame.info["REF_energy"] = -1.0
    frame.info["REF_virial"] = np.zeros(9)
    frame.arrays["REF_forces"] = np.zeros((len(frame), 3))
    return frame


def picked(step: int, devi: float = 0.9, source: str = "traj.dump") -> Pick:
    return Pick(DumpFrame(source, step // 10, step), devi, "first_above")


def al(step: int, generation: int = 1, shift: float = 0.0, traj: str = "EC1EMC2/s00") -> Atoms:
    return labelled(al_frame(box(shift), picked(step), generation, "gap", "OPLS+VS", traj))


@pytest.fixture
def dataset(tmp_path):
    base = [labelled(tag_frame(box(0.1 * k), "opls", "EC1EMC2", f"opls-{k}")) for k in range(3)]
    return write_dataset(tmp_path / "ds", {"opls": base})


def test_al_frames_carry_generation_loop_composition_and_provenance():
    frame = al_frame(box(0.0, (("EC", 4), ("EMC", 8))), picked(120, 0.8, "last_frame.dump"), 3,
                     "deepmd", "OPLS+VS", "md/abc123", start="EC4EMC8/start-02.data")  # fmt: skip
    info = frame.info
    assert info["config_type"] == "al" and info["composition"] == "EC4EMC8"
    assert (info["al_generation"], info["al_arch"], info["al_recipe"]) == (3, "deepmd", "OPLS+VS")
    assert (info["source_trajectory"], info["source_step"]) == ("md/abc123", 120)
    assert info["source_file"] == "last_frame.dump" and info["start"] == "EC4EMC8/start-02.data"
    assert info["max_force_variance"] == pytest.approx(0.64) and info["al_rule"] == "first_above"
    assert info["frame_id"] == "al-g03-deepmd-OPLS_VS-md_abc123-step120"
    assert "step" not in info
    with pytest.raises(InputError, match="generation must be >= 1"):
        al_frame(box(0.0), picked(0), 0, "gap", "OPLS", "t")


def test_adding_twice_adds_once_and_new_frames_join(dataset):
    ds, added = add_al_frames(dataset.path, [al(10), al(20)])
    assert added == 2 and ds.manifest["counts"]["al"] == {"EC1EMC2": 2}
    ds, added = add_al_frames(dataset.path, [al(10), al(20), al(30)])  # a restarted step
    assert added == 1 and ds.manifest["total_frames"] == 6
    ids = [f.info["frame_id"] for f in Dataset.open(dataset.path).frames()]
    assert len(ids) == len(set(ids)) == 6
    assert Dataset.open(dataset.path).verify() == []


def test_kill_between_frame_file_and_manifest_leaves_no_duplicate(dataset):
    add_al_frames(dataset.path, [al(10)])
    manifest = (dataset.path / "manifest.json").read_text()
    add_al_frames(dataset.path, [al(10), al(20)])
    (dataset.path / "manifest.json").write_text(manifest)  # as if killed before the manifest
    assert Dataset.open(dataset.path).verify() == ["al.extxyz"]
    ds, added = add_al_frames(dataset.path, [al(10), al(20)])
    assert added == 0 and ds.verify() == [] and ds.manifest["counts"]["al"] == {"EC1EMC2": 2}
    assert len(ds.frames(["al"])) == 2


def test_same_id_with_another_geometry_and_foreign_edits_are_errors(dataset):
    add_al_frames(dataset.path, [al(10)])
    with pytest.raises(InputError, match="already in the dataset with another geometry"):
        add_al_frames(dataset.path, [al(10, shift=0.5)])
    with pytest.raises(InputError, match="given twice"):
        add_al_frames(dataset.path, [al(20), al(20)])
    write_frames(dataset.path / "opls.extxyz", Dataset.open(dataset.path).frames(["opls"])[:1])
    with pytest.raises(InputError, match="files changed since the manifest"):
        add_al_frames(dataset.path, [al(30)])


def test_extend_dataset_writes_a_new_generation_and_leaves_the_base(dataset, tmp_path):
    gen1 = extend_dataset(dataset, [al(10), al(20)], tmp_path / "gen1")
    gen2 = extend_dataset(gen1, [al(10), al(30, generation=2)], tmp_path / "gen2")
    assert Dataset.open(dataset.path).manifest["total_frames"] == 3
    assert gen1.manifest["total_frames"] == 5 and gen2.manifest["total_frames"] == 6
    assert generation_counts(gen2.frames()) == {"gap/OPLS+VS": {1: 2, 2: 1}}
    config = json.loads((tmp_path / "gen2" / "manifest.json").read_text())["config"]
    assert config["extended_from"] == str(gen1.path)
