"""Importing external extxyz files: key maps, and clear errors naming file and frames."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

import xfer  # noqa: F401
from xfer.chem.molecules import get_molecule
from xfer.cli import main
from xfer.data.importer import import_frames
from xfer.data.store import write_frames
from xfer.errors import InputError


def _molecule(name: str, periodic: bool = False) -> Atoms:
    mol = get_molecule(name)
    atoms = Atoms(mol.symbols, positions=mol.positions)
    if periodic:
        atoms.set_cell([10.0, 11.0, 12.0])
        atoms.pbc = True
    return atoms


def _dft_frames(n: int = 3) -> list[Atoms]:
    rng = np.random.default_rng(1)
    frames = []
    for k in range(n):
        atoms = _molecule("EMC" if k % 2 else "EC", periodic=True)
        atoms.info["DFT_energy"] = -100.0 - k
        atoms.arrays["DFT_forces"] = rng.normal(size=(len(atoms), 3))
        atoms.info["DFT_virial"] = rng.normal(size=9)
        frames.append(atoms)
    return frames


def test_dft_key_map_gives_ref_labels_tags_and_compositions(tmp_path):
    frames = _dft_frames()
    write_frames(tmp_path / "dft.xyz", frames)
    got = import_frames(tmp_path / "dft.xyz", "dft", tag="imported")
    assert [f.info["composition"] for f in got] == ["EC1", "EMC1", "EC1"]
    assert [f.info["frame_id"] for f in got] == [f"imported-dft-{k:05d}" for k in range(3)]
    for src, f in zip(frames, got, strict=True):
        assert f.info["REF_energy"] == src.info["DFT_energy"]
        assert np.allclose(f.arrays["REF_forces"], src.arrays["DFT_forces"], atol=1e-8)
        assert np.allclose(f.info["REF_virial"], src.info["DFT_virial"])
        stress = -np.reshape(src.info["DFT_virial"], (3, 3)) / f.get_volume()
        assert np.allclose(f.info["REF_stress"], stress.ravel())
        assert f.info["config_type"] == "imported" and "DFT_energy" not in f.info


def test_ase_calculator_keys_and_custom_maps(tmp_path):
    a = _molecule("EC", periodic=True)
    forces = np.full((len(a), 3), 0.1)
    a.calc = SinglePointCalculator(a, energy=-5.0, forces=forces, stress=np.arange(6.0))
    write_frames(tmp_path / "ase.xyz", [a])
    (got,) = import_frames(tmp_path / "ase.xyz", "ase", tag="opls")
    assert got.info["REF_energy"] == -5.0 and np.allclose(got.arrays["REF_forces"], 0.1)
    assert np.allclose(np.reshape(got.info["REF_stress"], (3, 3))[0], [0.0, 5.0, 4.0])  # Voigt
    b = _molecule("EMC")
    b.info["energy_xtb"] = -7.0
    b.arrays["forces_xtb"] = np.zeros((len(b), 3))
    write_frames(tmp_path / "xtb.xyz", [b])
    (got,) = import_frames(
        tmp_path / "xtb.xyz", {"energy": "energy_xtb", "forces": "forces_xtb"}, "sm"
    )
    assert got.info["REF_energy"] == -7.0 and "REF_virial" not in got.info


def test_bad_frames_are_all_listed_with_file_and_index(tmp_path):
    frames = _dft_frames(5)
    del frames[1].arrays["DFT_forces"]
    frames[2].info["DFT_energy"] = float("nan")
    frames[4].set_cell(np.zeros((3, 3)))
    write_frames(tmp_path / "bad.xyz", frames)
    with pytest.raises(InputError) as err:
        import_frames(tmp_path / "bad.xyz", "dft", tag="x")
    text = str(err.value)
    assert "bad.xyz" in text and "3 of 5 frames rejected" in text
    assert "frame 1: missing forces 'DFT_forces'" in text
    assert "frame 2: non-finite energy" in text
    assert "frame 4: zero-size cell" in text
    assert "frame 0" not in text and "frame 3" not in text


def test_truncated_file_and_unknown_key_map(tmp_path):
    write_frames(tmp_path / "ok.xyz", _dft_frames(3))
    lines = (tmp_path / "ok.xyz").read_text().splitlines(keepends=True)
    (tmp_path / "cut.xyz").write_text("".join(lines[: len(lines) - 4]))
    with pytest.raises(InputError, match=r"cut\.xyz: frame 2 is malformed or truncated"):
        import_frames(tmp_path / "cut.xyz", "dft", tag="x")
    with pytest.raises(InputError, match="unknown key map 'castep'.*built-in maps: xfer, ase"):
        import_frames(tmp_path / "ok.xyz", "castep", tag="x")
    with pytest.raises(InputError, match="missing energy 'energy'"):
        import_frames(tmp_path / "ok.xyz", "ase", tag="x")


def test_cli_build_reports_a_bad_import_in_one_line(tmp_path, capsys):
    frames = _dft_frames(2)
    frames[1].info["DFT_energy"] = float("nan")
    write_frames(tmp_path / "bad.xyz", frames)
    (tmp_path / "c.toml").write_text('[[import]]\npath = "bad.xyz"\nkey_map = "dft"\n')
    code = main(["dataset", "build", str(tmp_path / "c.toml"), "--out", str(tmp_path / "ds")])
    err = capsys.readouterr().err
    assert code == 2
    assert "bad.xyz: 1 of 2 frames rejected: frame 1: non-finite energy" in " ".join(err.split())
    assert "Traceback" not in err
