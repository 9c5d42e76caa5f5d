"""Halt triage on constructed halts names the right molecule, bond and failure mode, and
writes halt.json, the last frames as extxyz and a picture."""

import json

import ase.io
import numpy as np
import pytest

from xfer.analysis.rundir import load_run
from xfer.analysis.triage import HISTORY, triage
from xfer.analysis.triage_files import halt_line, write_halt_triage
from xfer.testing import halts


@pytest.fixture(scope="module")
def constructed(tmp_path_factory):
    root = tmp_path_factory.mktemp("halts")
    return {name: getattr(halts, name)(root / name) for name in (
        "stretched_bond", "pushed_together", "density_halt", "uncertainty_halt")}  # fmt: skip


def test_constructed_liquid_has_no_close_contacts(constructed):
    """The baseline the intermolecular test relies on: molecules > 2 A apart before the halt."""
    report = triage(load_run(constructed["stretched_bond"]))
    assert report.typical_contact_A > 2.0


def test_stretched_intramolecular_bond_names_molecule_bond_and_mode(constructed, tmp_path):
    report = write_halt_triage(constructed["stretched_bond"], tmp_path)
    assert report.reason == "bond" and report.kind == "intramolecular"
    assert [(m["mol"], m["species"]) for m in report.molecules] == [(4, "EMC")]
    bond = report.bond
    c, h = halts._ch_bond(4)
    assert [a.id for a in bond.atoms] == [c + 1, h + 1]
    assert bond.elements == "C-H" and bond.label == "C1-H8" and bond.bond_type == "C-H"
    assert bond.length_A == pytest.approx(2.1, abs=1e-3) and bond.r0_A == 1.09
    assert bond.lengths_A[0] == pytest.approx(1.09, abs=0.05)  # whole before the halt
    assert report.mode == "C-H bond, intramolecular"
    assert report.contact_at_halt.distance_A > 2.0
    saved = json.loads((tmp_path / "halt.json").read_text())
    assert saved["mode"] == report.mode and saved["step"] == halts.HALT_FRAME * 200
    line = halt_line(report)
    assert "EMC mol 4" in line and "C1-H8 2.10 A vs r0 1.09 A" in line


def test_two_molecules_pushed_together_is_intermolecular(constructed):
    report = triage(load_run(constructed["pushed_together"]))
    assert report.kind == "intermolecular"
    assert {(m["mol"], m["species"]) for m in report.molecules} == {(4, "EMC"), (1, "EC")}
    contact = report.contact_at_halt
    assert contact.distance_A == pytest.approx(0.9, abs=1e-3)
    assert {a.mol for a in contact.atoms} == {4, 1}
    assert contact.atoms[0].id == halts._ch_bond(4)[1] + 1  # the stretched bond's H
    assert report.bond.elements == "C-H" and report.bond.length_A == pytest.approx(1.7, 1e-3)
    assert report.mode.startswith("C-H bond, intermolecular approach 0.90 A")


def test_density_halt_keeps_the_density_trajectory(constructed):
    report = triage(load_run(constructed["density_halt"]))
    assert report.kind == "density" and report.reason == "density"
    assert report.molecules == []
    d = report.density
    assert d["start"] == pytest.approx(0.2) and d["at_halt"] == pytest.approx(0.12)
    assert np.all(np.diff(d["density"]) < 0) and len(d["time_ps"]) == halts.HALT_FRAME + 1
    assert report.mode == "density expansion (0.20 -> 0.12 g/cm3)"
    assert "density expansion" in halt_line(report)


def test_uncertainty_halt_lists_the_worst_atoms(constructed):
    report = triage(load_run(constructed["uncertainty_halt"]))
    assert report.kind == "uncertainty"
    worst = report.worst_atoms
    assert worst[0]["id"] == 30 and worst[0]["devi_f"] == pytest.approx(1.8)
    assert [w["devi_f"] for w in worst] == sorted((w["devi_f"] for w in worst), reverse=True)
    assert report.molecules == [{"mol": worst[0]["mol"], "species": worst[0]["species"],
                                 "n_atoms": 15}]  # fmt: skip
    assert "worst atom id 30" in halt_line(report)


def test_triage_writes_halted_frame_and_five_before_as_extxyz(constructed, tmp_path):
    report = write_halt_triage(constructed["uncertainty_halt"], tmp_path)
    frames = ase.io.read(tmp_path / report.files["frames"], index=":")
    assert len(frames) == HISTORY + 1
    assert [f.info["step"] for f in frames] == report.frames_steps
    assert report.frames_steps[-1] == halts.HALT_FRAME * 200
    assert np.all(np.diff(report.frames_steps) > 0)
    last = frames[-1]
    assert last.arrays["devi_f"][29] == pytest.approx(1.8)
    assert set(last.arrays["mol"]) == set(range(1, 6)) and last.pbc.all()
    png = (tmp_path / report.files["picture"]).read_bytes()
    assert png[:4] == b"\x89PNG"


def test_triage_refuses_a_run_that_did_not_halt(tmp_path):
    from xfer.errors import InputError
    from xfer.testing.synthetic import SyntheticRun, write_synthetic_run

    run = write_synthetic_run(tmp_path / "ok", SyntheticRun(n_frames=5))
    with pytest.raises(InputError, match="did not halt"):
        triage(load_run(run))


def test_triage_of_a_real_lammps_bond_halt(tmp_path):
    """OPLS-AA in LAMMPS with one C-H bond stretched to ~1.9 A: the engine's halt files
    (result.json, traj.dump, last_frame.dump) triage to that bond, intramolecular."""
    from xfer.chem.packing import pack
    from xfer.lammps.datafile import write_opls_data
    from xfer.md import MDSettings, run_md

    system = pack({"EC": 4, "EMC": 8}, 1.0, seed=2)
    c, h = next((a, b) for a, b in system.bonds if system.symbols[a] + system.symbols[b] == "CH")
    direction = system.positions[h] - system.positions[c]
    system.positions[h] += 0.8 * direction / np.linalg.norm(direction)
    write_opls_data(system, tmp_path / "stretched.data")
    settings = MDSettings(potential="opls", data=tmp_path / "stretched.data", ensemble="npt",
                          temperature=500.0, time_ps=0.05, timestep_fs=0.5, seed=1,
                          dump_every=20, thermo_every=10, check_every=1)  # fmt: skip
    result = run_md(settings, tmp_path / "run")
    assert result["halted"] and result["halt_reason"] == "bond"
    report = write_halt_triage(tmp_path / "run", tmp_path / "triage")
    assert sorted(a.id for a in report.bond.atoms) == sorted([c + 1, h + 1])
    assert report.bond.elements == "C-H" and report.bond.length_A > 1.5
    assert report.kind == "intramolecular" and report.mode == "C-H bond, intramolecular"
    mol = int(system.mol_ids[c])
    assert [m["mol"] for m in report.molecules] == [mol]
    assert (tmp_path / "triage" / "halt_frames.extxyz").is_file()


def test_halt_without_a_written_frame_uses_the_last_dumped_one(constructed, tmp_path):
    """LAMMPS stopped on an error (e.g. lost atoms): no last_frame.dump; triage still runs."""
    import shutil

    run = shutil.copytree(constructed["stretched_bond"], tmp_path / "run")
    (run / "last_frame.dump").unlink()
    result = json.loads((run / "result.json").read_text())
    result.update(halt_reason="lost_atoms", halt_detail={"message": "Lost atoms: original 75"})
    (run / "result.json").write_text(json.dumps(result))
    report = triage(load_run(run))
    assert not report.halted_frame_written and report.reason == "lost_atoms"
    assert report.frames_steps[-1] == halts.HALT_FRAME * 200 and len(report.frames_steps) == 6
    assert report.kind == "intramolecular" and report.mode.startswith("lost_atoms (")
    assert "halted frame not written" in halt_line(report)


def test_xfer_analyze_triages_a_halted_run(constructed, tmp_path, capsys):
    import shutil

    from xfer.cli import main

    run = shutil.copytree(constructed["pushed_together"], tmp_path / "run")
    assert main(["analyze", str(run), "--full-length-ps", "4"]) == 0
    out = capsys.readouterr().out
    assert "halt: C-H bond, intermolecular approach 0.90 A" in out and "halt/halt.json" in out
    saved = json.loads((run / "halt" / "halt.json").read_text())
    assert saved["kind"] == "intermolecular"
    assert (run / "halt" / "halt.png").is_file() and (run / "halt" / "halt_frames.extxyz").is_file()


def test_uncertainty_halt_without_devi_column_names_the_detail_atom(constructed, tmp_path):
    import shutil

    run = shutil.copytree(constructed["uncertainty_halt"], tmp_path / "run")
    (run / "last_frame.dump").unlink()
    report = triage(load_run(run))
    assert report.kind == "uncertainty"
    assert [(w["id"], w["devi_f"]) for w in report.worst_atoms] == [(30, 1.8)]
    assert report.molecules[0]["mol"] == report.worst_atoms[0]["mol"]
