"""Real LAMMPS runs through ``xfer md``: completion, reproducibility, halts, resume, errors."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from xfer.chem.packing import pack
from xfer.lammps.datafile import write_opls_data
from xfer.lammps.readdata import read_system
from xfer.lammps.templates import TEMPLATE_DIR
from xfer.md import MDSettings, run_md

XFER = [sys.executable, "-m", "xfer.cli"]
SMALL = {"EC": 4, "EMC": 8}


def short(**kw) -> MDSettings:
    base = dict(potential="opls", mix=SMALL, density=1.0, ensemble="npt", temperature=500.0,
                time_ps=0.1, timestep_fs=0.5, seed=1, dump_every=20, thermo_every=10)
    return MDSettings(**{**base, **kw})


def test_npt_run_completes_and_writes_the_run_directory(tmp_path):
    result = run_md(short(), tmp_path / "run")
    run = tmp_path / "run"
    for name in ("system.data", "in.lammps", "thermo.csv", "traj.dump", "result.json"):
        assert (run / name).is_file(), name
    assert result["halted"] is False and result["halt_reason"] is None
    assert result["n_steps_done"] == result["n_steps_requested"] == 200
    assert result["t_stab_ps"] == pytest.approx(0.1)
    thermo = np.genfromtxt(run / "thermo.csv", delimiter=",", names=True)
    assert thermo.dtype.names[:6] == ("step", "time_ps", "temp", "press", "density", "pe")
    assert np.allclose(thermo["etotal"] - thermo["pe"], 1.5 * 159 * 8.617333e-5 * thermo["temp"],
                       rtol=1e-4)  # etotal = pe + ke, ke from 3N-3 degrees of freedom
    assert thermo["step"][-1] == 200 and np.all(np.isfinite(thermo["pe"]))
    assert 0.5 < thermo["density"][-1] < 1.5
    header = (run / "traj.dump").read_text().split("ITEM: ATOMS ")[1].splitlines()[0]
    assert header.split() == ["id", "mol", "type", "element", "x", "y", "z", "ix", "iy", "iz"]


def test_progress_callback_follows_the_run(tmp_path):
    steps: list[int] = []
    run_md(short(), tmp_path / "run", progress=steps.append)
    assert steps and steps[-1] == 200 and steps == sorted(steps)


def test_same_seed_is_bit_for_bit_reproducible(tmp_path):
    run_md(short(seed=7), tmp_path / "a")
    run_md(short(seed=7), tmp_path / "b")
    run_md(short(seed=8), tmp_path / "c")
    for name in ("thermo.csv", "traj.dump"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = (tmp_path / "c" / "thermo.csv").read_bytes()
    assert (tmp_path / "a" / "thermo.csv").read_bytes() != other


def test_finished_run_is_not_redone(tmp_path):
    first = run_md(short(), tmp_path / "run")
    stamp = (tmp_path / "run" / "traj.dump").stat().st_mtime_ns
    again = run_md(short(), tmp_path / "run")
    assert again == first
    assert (tmp_path / "run" / "traj.dump").stat().st_mtime_ns == stamp


def test_stretched_bond_halts_with_its_atom_ids(tmp_path):
    system = pack(SMALL, 1.0, seed=2)
    i, j = next((a, b) for a, b in system.bonds
                if {system.symbols[a], system.symbols[b]} == {"C", "H"})
    h = j if system.symbols[j] == "H" else i
    c = i if h == j else j
    direction = system.positions[h] - system.positions[c]
    system.positions[h] += 0.8 * direction / np.linalg.norm(direction)  # C-H now ~1.9 A
    write_opls_data(system, tmp_path / "stretched.data")
    result = run_md(short(data=tmp_path / "stretched.data", mix=None, check_every=1),
                    tmp_path / "run")
    assert result["halted"] and result["halt_reason"] == "bond"
    detail = result["halt_detail"]
    assert sorted(detail["atom_ids"]) == sorted([c + 1, h + 1])
    assert detail["length_A"] > detail["threshold_A"] == pytest.approx(detail["r0_A"] + 0.5)
    assert result["n_steps_done"] < result["n_steps_requested"]
    assert (tmp_path / "run" / "last_frame.dump").is_file()


def test_expanding_box_halts_on_density(tmp_path):
    result = run_md(short(temperature=1500.0, time_ps=1.0, density_range=(0.9, 2.0)),
                    tmp_path / "run")
    assert result["halted"] and result["halt_reason"] == "density"
    assert result["halt_detail"]["density_g_cm3"] < 0.9
    assert 0 < result["t_stab_ps"] < 1.0


def test_minimization_relaxes_the_packed_box_before_the_halts_watch(tmp_path):
    # the start density is outside the halt range: the halt must fire in MD, not inside
    # minimize (there a soft halt ended the minimization as "walltime limit reached" and
    # the run after it failed with "Energy was not tallied")
    result = run_md(short(minimize_steps=30, density_range=(1.2, 2.0)), tmp_path / "run")
    assert result["halted"] and result["halt_reason"] == "density"
    assert result["n_steps_done"] == 10  # the first check of the MD run
    log = (tmp_path / "run" / "log.lammps").read_text()
    assert "Stopping criterion = max iterations" in log
    assert "walltime limit reached" not in log
    plain = run_md(short(time_ps=0.005), tmp_path / "plain")
    relaxed = np.genfromtxt(tmp_path / "run" / "thermo.csv", delimiter=",", names=True)
    packed = np.genfromtxt(tmp_path / "plain" / "thermo.csv", delimiter=",", names=True)
    assert plain["n_steps_done"] == 10
    assert relaxed["press"][0] < 0.5 * packed["press"][0]  # packmol contacts relaxed
    assert relaxed["pe"][0] < packed["pe"][0]


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_stable_runs_never_halt_falsely(tmp_path, seed):
    result = run_md(short(seed=seed, density=1.1, check_every=1), tmp_path / "run")
    assert not result["halted"], result["halt_detail"]


def test_data_file_round_trip_keeps_molecules_whole(tmp_path):
    system = pack(SMALL, 1.0, seed=4)
    write_opls_data(system, tmp_path / "s.data")
    back = read_system(tmp_path / "s.data")
    assert back.molecule_names == system.molecule_names
    assert back.bonds == sorted(tuple(sorted(b)) for b in system.bonds) or set(back.bonds) == {
        tuple(sorted(b)) for b in system.bonds}
    for i, j in back.bonds:
        assert np.linalg.norm(back.positions[i] - back.positions[j]) < 1.7


def _cli(args, **env):
    return subprocess.run(XFER + args, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--data", "missing.data"], "data file not found"),
        (["--mix", "EC:4,XYZ:8"], "unknown molecule"),
        (["--mix", "EC:16,EMC:32", "--density", "3.0"], "cannot pack"),
        (["--mix", "EC:16,EMC:32", "--density", "2.4"], "cannot pack"),
        (["--mix", "EC:4,EMC:8", "--ensemble", "npx"], "ensemble"),
        (["--mix", "EC:4,EMC:8", "--device", "gpu"], "device"),
        (["--mix", "EC:4,EMC:8", "--device", "cuda"], "lj/charmm/coul/long runs on the CPU"),
    ],
)
def test_bad_input_is_one_line_and_leaves_no_run(tmp_path, args, needle):
    out = tmp_path / "run"
    proc = _cli(["md", *args, "--time-ps", "0.01", "--out", str(out)])
    assert proc.returncode != 0
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (out / "result.json").exists()


def test_undefined_template_variable_is_a_clear_error(tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, templates)
    md = templates / "md.lmp.j2"
    md.write_text(md.read_text().replace("run             {{ n_steps }}", "run {{ n_stepz }}"))
    out = tmp_path / "run"
    proc = _cli(["md", "--mix", "EC:4,EMC:8", "--time-ps", "0.01", "--out", str(out)],
                XFER_TEMPLATES=str(templates))
    assert proc.returncode == 2
    assert "n_stepz" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.ci
def test_cli_acceptance_run_640_atoms_500K(tmp_path):
    """The issue's acceptance run: 16 EC + 32 EMC, NPT 500 K, 2 ps, no halt."""
    out = tmp_path / "run"
    proc = _cli(["md", "--potential", "opls", "--mix", "EC:16,EMC:32", "--density", "1.0",
                 "--ensemble", "npt", "--temperature", "500", "--pressure", "1",
                 "--time-ps", "2", "--seed", "1", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["halted"] is False and result["n_atoms"] == 640


def test_read_frames_gives_whole_molecules(tmp_path):
    from xfer.lammps.dump import read_frames

    run_md(short(time_ps=0.5, dump_every=100), tmp_path / "run")
    frames = read_frames(tmp_path / "run" / "traj.dump")
    assert len(frames) == 11
    system = read_system(tmp_path / "run" / "system.data")
    last = frames[-1]
    assert last.get_chemical_symbols() == system.symbols
    assert np.array_equal(last.arrays["mol_id"], system.mol_ids)
    for i, j in system.bonds:  # unwrapped: no bond is split across the box
        assert np.linalg.norm(last.positions[i] - last.positions[j]) < 1.8


def test_unknown_option_is_a_usage_error_without_traceback(tmp_path):
    proc = _cli(["md", "--bogus", "--out", str(tmp_path / "run")])
    assert proc.returncode == 2
    assert "--bogus" in proc.stderr and "Traceback" not in proc.stderr


def test_site_lammps_switches_reach_the_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("XFER_LAMMPS_ARGS", "-sf omp")  # as a GPU site passes -k on g 1 -sf kk
    run_md(short(time_ps=0.01), tmp_path / "run")
    assert "lj/charmm/coul/long/omp" in (tmp_path / "run" / "log.lammps").read_text()
