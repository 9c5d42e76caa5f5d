"""GAP backend: presets, training-set preparation, a real tiny fit, and clear errors for
every known QUIP failure (in Python and in LAMMPS) instead of a Fortran STOP."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from fixtures.gap import TEST_HYPER
from fixtures.structures import molecular_box

from xfer.backends import gap as gapmod
from xfer.backends import get_backend
from xfer.backends.gap_files import inspect_model
from xfer.errors import EnvironmentProblem, InputError

# ---------------------------------------------------------------- no training needed


def test_presets_resolve_and_reject_unknown_keys():
    tiny = gapmod.resolve_hyper({})
    assert tiny["preset"] == "tiny"
    paper = gapmod.resolve_hyper({"preset": "paper", "n_sparse_soap": 123})
    assert paper["n_sparse_soap"] == 123 and paper["l_max"] > tiny["l_max"]
    with pytest.raises(InputError, match="unknown gap hyperparameter"):
        gapmod.resolve_hyper({"n_sparse": 5})
    with pytest.raises(InputError, match="unknown gap preset"):
        gapmod.resolve_hyper({"preset": "huge"})


def _frame(symbols: str, energy: float) -> Atoms:
    atoms = Atoms(symbols, positions=np.arange(3 * len(symbols)).reshape(-1, 3) * 1.1)
    atoms.info["REF_energy"] = energy
    atoms.arrays["REF_forces"] = np.zeros((len(atoms), 3))
    return atoms


def test_reference_energies_from_e0_frames_and_least_squares():
    true = {"H": -10.5, "C": -48.25, "O": -102.0}
    frames = [_frame(s, sum(true[c] for c in s)) for s in ("HHC", "CO", "OOH", "HCO", "CC")]
    e0, source = gapmod.reference_energies(frames, ["H", "C", "O"])
    assert source == "least_squares"
    assert all(abs(e0[el] - true[el]) < 1e-9 for el in true)

    isolated = _frame("H", -11.0)
    isolated.info["config_type"] = "e0"
    e0, source = gapmod.reference_energies([*frames, isolated], ["H", "C", "O"])
    assert source == "e0_frames+least_squares" and e0["H"] == -11.0
    # the other two refit with H fixed: C and O absorb the 0.5 eV shift per H
    assert abs(e0["C"] - true["C"]) > 1e-3


def test_gap_fit_frame_converts_stress_and_boxes_molecules():
    box = _frame("HCO", -1.0)
    box.cell = np.diag([6.0, 7.0, 8.0])
    box.pbc = True
    box.info["REF_stress"] = np.array([1.0, 2.0, 3.0, 0.1, 0.2, 0.3])  # xx yy zz yz xz xy
    out = gapmod.gap_fit_frame(box, 0, cutoff=4.0)
    virial = out.info["REF_virial"]
    assert virial[0, 0] == pytest.approx(-336.0) and virial[0, 1] == pytest.approx(-0.3 * 336)
    assert virial[1, 2] == pytest.approx(-0.1 * 336)

    mol = gapmod.gap_fit_frame(_frame("HCO", -1.0), 1, cutoff=4.0)
    assert not mol.pbc.any() and mol.cell[0, 0] > np.ptp(mol.positions[:, 0]) + 8.0

    slab = _frame("HCO", -1.0)
    slab.cell, slab.pbc = np.eye(3) * 9.0, [True, True, False]
    with pytest.raises(InputError, match="periodic in some directions"):
        gapmod.gap_fit_frame(slab, 2, cutoff=4.0)
    with pytest.raises(InputError, match="lacks REF_energy"):
        gapmod.gap_fit_frame(Atoms("H"), 3, cutoff=4.0)


def test_gap_fit_args_carry_species_e0_and_seed():
    hyper = gapmod.resolve_hyper({"config_type_sigma": {"sm": [0.001, 0.05, 0.05]}})
    args = gapmod.gap_fit_args(hyper, {"H": -1.0, "O": -2.0}, "t.extxyz", "gap.xml", seed=4)
    joined = " ".join(args)
    assert "species_Z={{1 8}}" in joined and "n_species=2" in joined
    assert "e0={H:-1.0:O:-2.0}" in args and "rnd_seed=5" in args
    assert "config_type_sigma={sm:0.001:0.05:0.05:0.0}" in args
    with pytest.raises(InputError, match="seeds must be"):
        gapmod.gap_seed(-1)


def test_missing_plugin_is_an_environment_problem(monkeypatch, tmp_path):
    monkeypatch.setattr(gapmod, "PLUGIN_DIR", tmp_path)
    with pytest.raises(EnvironmentProblem, match="build_plugins"):
        gapmod.plugin_library()


# ---------------------------------------------------------------- with a trained model


def test_training_writes_model_files_and_metadata(gap_model, gap_train_file):
    xml = gap_model.path
    meta = json.loads(xml.with_name(xml.name + ".json").read_text())
    assert meta["arch"] == "gap" and meta["seed"] == 0 and meta["species"] == ["H", "C", "O"]
    assert meta["e0_source"] == "e0_frames"
    assert len(meta["sparse_files"]) == 9  # 6 element pairs (2b) + 3 central species (SOAP)
    assert all((xml.parent / name).is_file() for name in meta["sparse_files"])
    errors = meta["validation_errors"]
    assert 0 < errors["energy_rmse_meV_per_atom"] < 100 and 0 < errors["force_rmse_meV_per_A"]
    assert errors["n_frames"] == 13  # e0 frames are not validated
    assert meta["versions"]["quippy-ase"] and len(meta["train_sha256"]) == 64
    assert get_backend("gap").export(gap_model) == xml


def test_seeds_give_different_models(gap_model, gap_train_file, tmp_path):
    other = get_backend("gap").train(gap_train_file, gap_train_file, tmp_path, 1, TEST_HYPER)
    atoms = molecular_box(["EC", "EMC"], np.eye(3) * 8.0, seed=3)
    calcs = [get_backend("gap").calculator(m) for m in (gap_model, other)]
    energies = []
    for calc in (*calcs, *calcs):  # quippy holds several models at once (committees)
        atoms.calc = calc
        energies.append(atoms.get_potential_energy())
        atoms = atoms.copy()
    assert abs(energies[0] - energies[1]) > 1e-4
    assert energies[2:] == energies[:2]


def test_pair_spec_and_calculator_species(gap_model):
    spec = get_backend("gap").pair_spec(gap_model)
    assert spec.pair_style == "quip" and spec.plugin == "quip" and spec.newton_pair
    assert spec.pair_coeff == f'* * {gap_model.path} "IP GAP" H C O'
    calc = get_backend("gap").calculator(gap_model)
    with pytest.raises(InputError, match="also has N"):
        Atoms("HCN", positions=[[0, 0, 0], [1.1, 0, 0], [2.2, 0, 0]], calculator=calc).get_forces()
    with pytest.raises(InputError, match="also has N"):
        gapmod.gap_pair_spec(inspect_model(gap_model.path), ["H", "N"])


def _copy_model(model_xml: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for path in gapmod.model_files(model_xml):
        shutil.copy(path, dest / path.name)
    return dest / model_xml.name


def _broken_models(model_xml: Path, root: Path) -> dict[str, tuple[Path, str]]:
    """Broken copies of a model, with the message each must give."""
    cases = {}
    missing = _copy_model(model_xml, root / "missing")
    sorted(missing.parent.glob("*.sparseX.*"))[-1].unlink()
    cases["missing"] = (missing, "sparseX")
    truncated = _copy_model(model_xml, root / "truncated")
    truncated.write_text(truncated.read_text()[: len(truncated.read_text()) // 2])
    cases["truncated"] = (truncated, "corrupt|truncated|not a complete")
    tampered = _copy_model(model_xml, root / "tampered")
    sparse = sorted(tampered.parent.glob("*.sparseX.*"))[-1]
    sparse.write_text(sparse.read_text().replace("e-0", "e-1", 1))
    cases["tampered"] = (tampered, "md5")
    cases["absent"] = (root / "nowhere" / "gap.xml", "does not exist|cannot read")
    return cases


def test_broken_model_files_raise_input_errors(gap_model, tmp_path):
    for name, (xml, message) in _broken_models(gap_model.path, tmp_path).items():
        with pytest.raises(InputError, match=message):
            get_backend("gap").load(xml)
        with pytest.raises(InputError, match=message):
            gapmod.GapCalculator(xml)
        if name == "tampered":
            continue  # the plugin checks presence, not md5 sums (the Python side does)
        # LAMMPS itself: a LAMMPS error, never a Fortran STOP killing the process
        result = _lammps_pair_coeff(xml, "H C O")
        assert result.returncode == 0, result.stderr
        assert "LAMMPS_ERROR" in result.stdout and "pair_style quip" in result.stdout, name


def _lammps_pair_coeff(
    *models_and_elements: str | Path, extra: str = ""
) -> subprocess.CompletedProcess:
    """Run pair_coeff for (xml, elements) pairs in one fresh process; report errors."""
    pairs = list(zip(models_and_elements[::2], models_and_elements[1::2], strict=True))
    script = textwrap.dedent(
        f"""
        import xfer
        from lammps import lammps
        base = '''units metal
        atom_style atomic
        region b block 0 10 0 10 0 10
        create_box 3 b
        create_atoms 1 single 1 1 1
        create_atoms 2 single 2 1 1
        create_atoms 3 single 1 2 1
        mass * 1.0
        pair_style quip
        '''
        {extra}
        for xml, elements in {[(str(x), e) for x, e in pairs]!r}:
            lmp = lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
            try:
                coeff = f'pair_coeff * * {{xml}} "IP GAP" {{elements}}'
                lmp.commands_string(base + coeff + chr(10) + "run 0")
                print("LAMMPS_OK", lmp.get_thermo("pe"))
            except Exception as exc:
                print("LAMMPS_ERROR", str(exc).splitlines()[0])
        """
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )


def test_plugin_refuses_unknown_species_and_a_second_model(gap_model, tmp_path):
    result = _lammps_pair_coeff(gap_model.path, "H N O")
    assert result.returncode == 0, result.stderr
    assert "LAMMPS_ERROR" in result.stdout and "element N" in result.stdout

    copy = _copy_model(gap_model.path, tmp_path / "copy")
    result = _lammps_pair_coeff(gap_model.path, "H C O", gap_model.path, "1 6 8", copy, "H C O")
    assert result.returncode == 0, result.stderr
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("LAMMPS_")]
    assert lines[0].startswith("LAMMPS_OK") and lines[1] == lines[0]  # same model: reused
    assert lines[2].startswith("LAMMPS_ERROR") and "one model per process" in lines[2]


def test_quippy_and_plugin_share_a_process(gap_model):
    """The plugin keeps libAtoms' verbosity stack valid for quippy's exit handler."""
    load_quippy = (
        f"from quippy.potential import Potential; Potential(param_filename='{gap_model.path}')"
    )
    result = _lammps_pair_coeff(gap_model.path, "H C O", extra=load_quippy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LAMMPS_OK" in result.stdout and "ABORT" not in result.stderr
