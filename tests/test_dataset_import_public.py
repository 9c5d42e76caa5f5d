"""Importing a public-style labelled extxyz: isolated atoms without forces
(``config_type=IsolatedAtom``), plain ``energy``/``forces``/``virial`` keys, per-atom
``molID`` and a ``Comp`` composition label, written as such files are (text, not by xfer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

import xfer  # noqa: F401
from xfer.backends.common import known_e0
from xfer.chem.molecules import get_molecule
from xfer.cli import main
from xfer.data.frames import CONFIG_TYPE
from xfer.data.store import Dataset, read_frames

E0 = {"H": -13.587, "C": -1027.61, "O": -2039.86}  # made-up isolated-atom energies, eV
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "import-public.toml"
CONFIG = EXAMPLE.read_text()  # the README's example, used as written


def _frame_text(atoms: Atoms, info: str, forces: np.ndarray | None, mol: list[int]) -> str:
    props = "species:S:1:pos:R:3" + (":forces:R:3" if forces is not None else "") + ":molID:I:1"
    lines = [str(len(atoms)), f"Properties={props} {info}"]
    for k, (symbol, pos) in enumerate(zip(atoms.get_chemical_symbols(), atoms.positions)):
        cols = [symbol, *(f"{x:.8f}" for x in pos)]
        cols += [f"{x:.8f}" for x in forces[k]] if forces is not None else []
        lines.append(" ".join([*cols, str(mol[k])]))
    return "\n".join(lines) + "\n"


def write_public_file(path: Path) -> Path:
    """3 isolated atoms (no forces), 2 isolated molecules, 2 periodic 2-molecule boxes."""
    rng = np.random.default_rng(5)
    text = ""
    for symbol, energy in E0.items():
        one = Atoms(symbol, positions=[[0.0, 0.0, 0.0]])
        text += _frame_text(one, f'energy={energy} config_type=IsolatedAtom pbc="F F F"', None, [0])
    for name in ("EC", "EMC"):
        mol = get_molecule(name)
        atoms = Atoms(
            mol.symbols, positions=mol.positions + rng.normal(0, 0.05, mol.positions.shape)
        )
        info = f'energy={-500.0 - len(atoms)} config_type=molecule Comp={name}1 pbc="F F F"'
        text += _frame_text(atoms, info, rng.normal(size=(len(atoms), 3)), [0] * len(atoms))
    for k in range(2):
        ec, emc = get_molecule("EC"), get_molecule("EMC")
        positions = np.vstack([ec.positions + 1.0, emc.positions + 6.0])
        atoms = Atoms([*ec.symbols, *emc.symbols], positions=positions)
        virial = " ".join(f"{v:.6f}" for v in rng.normal(size=9))
        info = (
            f'Lattice="12 0 0 0 12 0 0 0 12" energy={-1200.0 - k} virial="{virial}" '
            f'config_type=bulk Comp=EC1EMC1 pbc="T T T"'
        )
        mol = [1] * len(ec.symbols) + [2] * len(emc.symbols)
        text += _frame_text(atoms, info, rng.normal(size=(len(atoms), 3)), mol)
    path.write_text(text)
    return path


def test_public_file_builds_tags_e0_and_supplies_e0s(tmp_path, capsys):
    write_public_file(tmp_path / "public.xyz")
    (tmp_path / "build.toml").write_text(CONFIG)
    out = tmp_path / "ds"
    assert main(["dataset", "build", str(tmp_path / "build.toml"), "--out", str(out)]) == 0
    frames = Dataset.open(out).frames()
    by_tag: dict[str, list[Atoms]] = {}
    for frame in frames:
        by_tag.setdefault(frame.info[CONFIG_TYPE], []).append(frame)
    assert {t: len(f) for t, f in by_tag.items()} == {"e0": 3, "sm": 2, "opls": 2}
    for frame in by_tag["e0"]:
        symbol = frame.get_chemical_symbols()[0]
        assert frame.info["composition"] == symbol
        assert frame.info["REF_energy"] == E0[symbol]
        assert np.all(frame.arrays["REF_forces"] == 0.0)
    assert sorted(f.info["composition"] for f in by_tag["sm"]) == ["EC1", "EMC1"]
    box = by_tag["opls"][0]
    assert box.info["composition"] == "EC1EMC1" and "REF_virial" in box.info
    assert sorted(set(box.arrays["mol_id"])) == [1, 2]

    assert main(["dataset", "recipe", str(out), "Full", "--out", str(tmp_path / "t.xyz")]) == 0
    train = read_frames(tmp_path / "t.xyz")
    e0, sources = known_e0(train, None)  # what every backend's E0s come from
    assert e0 == E0 and sources == {"e0_frames"}

    capsys.readouterr()
    code = main(["dataset", "recipe", str(out), "OPLS+VS", "--out", str(tmp_path / "v.xyz")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "no frame has tag 'vs'" in err and "its tags: e0, opls, sm" in err


def test_without_routing_single_atoms_are_e0_and_the_rest_keeps_the_import_tag(tmp_path):
    write_public_file(tmp_path / "public.xyz")
    config = CONFIG.split("[import.config_types]")[0]
    (tmp_path / "build.toml").write_text(config)
    out = tmp_path / "ds"
    assert main(["dataset", "build", str(tmp_path / "build.toml"), "--out", str(out)]) == 0
    tags = [f.info[CONFIG_TYPE] for f in Dataset.open(out).frames()]
    assert sorted(tags) == ["e0"] * 3 + ["opls"] * 4


def test_failed_build_leaves_the_directory_reusable(tmp_path):
    write_public_file(tmp_path / "public.xyz")
    out = tmp_path / "ds"
    out.mkdir()  # the user made it beforehand
    twice = CONFIG + CONFIG  # the same file imported twice: frame ids clash in the build
    (tmp_path / "bad.toml").write_text(twice)
    assert main(["dataset", "build", str(tmp_path / "bad.toml"), "--out", str(out)]) == 2
    assert out.is_dir() and not any(out.iterdir())
    (tmp_path / "good.toml").write_text(CONFIG)
    assert main(["dataset", "build", str(tmp_path / "good.toml"), "--out", str(out)]) == 0
