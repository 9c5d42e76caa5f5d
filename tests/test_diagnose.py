"""Diagnostics (issue 12 parts 2-4): volume-ratio boxes, baseline shift, errors along a run,
generalisation. The slow tests train nothing new: they use the session's tiny GAP model and
GFN2-xTB labels of small boxes (tens of atoms)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xfer.analysis.volume_diag import scan_summary
from xfer.chem.molecules import SMILES, composition_label, get_molecule
from xfer.chem.volume_mix import LIQUID_DENSITY, mix_by_volume, parse_fractions
from xfer.cli import main
from xfer.data.molgraph import composition_of
from xfer.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def test_built_in_formulas_are_distinct_so_labels_are_unambiguous():
    formulas = {name: Counter(get_molecule(name).symbols) for name in SMILES}
    keys = [tuple(sorted(c.items())) for c in formulas.values()]
    assert len(set(keys)) == len(keys)
    assert formulas["DMC"] == Counter({"C": 3, "H": 6, "O": 3})


def test_a_dmc_box_is_named_by_its_molecules():
    from xfer.chem.packing import pack

    system = pack({"DMC": 2, "EMC": 1, "EC": 1}, 0.8, seed=2)
    label = composition_of(system.to_atoms(), system.mol_ids)
    assert label == composition_label({"EC": 1, "EMC": 1, "DMC": 2}) == "EC1EMC1DMC2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("EC:1,DEC:1", {"EC": 31, "DEC": 17}), ("VC:1,EMC:1", {"VC": 30, "EMC": 18}),
     ("PC:1", {"PC": 48})],
)  # fmt: skip
def test_mix_by_volume_counts_and_ideal_density(text, expected):
    parts = parse_fractions(text)
    mix, density = mix_by_volume(parts, 48)
    assert mix == expected and sum(mix.values()) == 48
    volumes = {n: c * get_molecule(n).mass / LIQUID_DENSITY[n] for n, c in mix.items()}
    fractions = np.array(list(volumes.values())) / sum(volumes.values())
    want = np.array([parts[n] for n in mix]) / sum(parts.values())
    assert np.abs(fractions - want).max() < 1.0 / 48 * 2  # rounding to whole molecules
    mass = sum(c * get_molecule(n).mass for n, c in mix.items())
    assert density == pytest.approx(mass / sum(volumes.values()))


def test_bad_volume_ratios_are_input_errors():
    for bad in ("EC", "EC:0", "EC:-1,DEC:1", "XX:1", ""):
        with pytest.raises(InputError):
            parse_fractions(bad)
    with pytest.raises(InputError, match="leave no"):
        mix_by_volume({"EC": 100.0, "DEC": 0.001}, 4)


def test_md_mix_vv_cli_errors(tmp_path, capsys):
    argv = ["md", "--out", str(tmp_path / "r"), "--mix", "EC:1", "--mix-vv", "EC:1,DEC:1"]
    assert main(argv) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["md", "--out", str(tmp_path / "r"), "--mix-vv", "EC:1,XX:1"]) == 2
    assert not (tmp_path / "r").exists()


def _constructed_scans(delta: float) -> pd.DataFrame:
    """Scan energies whose model partitions molecule energies wrongly by +2d (EC), -d (EMC).

    The wrong partition cancels at 4 EC + 8 EMC and gives 16d - 4d = 12d at 8 EC + 4 EMC;
    on top the model is wrong at the compressed end only (which the plateau must ignore).
    """
    rows = []
    for (n_ec, n_emc) in ((4, 8), (8, 4)):
        atoms = 10 * n_ec + 15 * n_emc
        for scan in range(3):
            for k, density in enumerate((1.8, 1.2, 0.9, 0.3, 0.15, 0.1)):
                e_ref = -1000.0 * n_ec - 1500.0 * n_emc + 50.0 * max(0.0, density - 1.0) ** 2
                e_model = e_ref + 2 * delta * n_ec - delta * n_emc + 5.0 * (density > 1.5)
                rows.append({
                    "model": "m", "composition": f"EC{n_ec}EMC{n_emc}", "scan_id": f"s{scan}",
                    "frame_id": f"{n_ec}-{scan}-{k}", "volume_A3": 2000.0 / density,
                    "density_gcm3": density, "n_atoms": atoms, "e_ref_eV": e_ref,
                    "e_model_eV": e_model + 0.01 * np.sin(scan + k),
                })  # fmt: skip
    return pd.DataFrame(rows)


def test_baseline_shift_detector_finds_the_constructed_partition_error():
    summary = scan_summary(_constructed_scans(delta=0.5), plateau_density=0.3, threshold=5.0)
    by = summary.set_index("composition")
    assert by.loc["EC8EMC4", "shift_eV"] == pytest.approx(12 * 0.5, abs=0.02)
    assert by.loc["EC4EMC8", "shift_eV"] == pytest.approx(0.0, abs=0.02)
    assert by.loc["EC8EMC4", "flagged"] and not by.loc["EC4EMC8", "flagged"]
    assert by.loc["EC8EMC4", "n_plateau"] == 9  # 3 scans x the 3 frames at <= 0.3 g/cm3
    assert by.loc["EC4EMC8", "rmse_meV_atom"] > 5.0  # the compressed-end error counts here
    none_dilute = scan_summary(_constructed_scans(0.5), plateau_density=0.01)
    assert (none_dilute["n_plateau"] == 3).all()  # then each scan's most dilute frame


@pytest.mark.slow
def test_volume_scan_cli_tables_figures_and_reuse(gap_model, tmp_path, capsys):
    out = tmp_path / "vs"
    argv = ["diagnose", "volume-scan", "--model", str(gap_model.path), "--out", str(out),
            "--mix", "EC:1,EMC:2", "--mix", "EC:2,EMC:1", "--scans", "1", "--points", "3"]
    assert main(argv) == 0, capsys.readouterr().err
    table = pd.read_csv(out / "volume_scan.csv")
    summary = pd.read_csv(out / "volume_scan_summary.csv")
    assert sorted(summary["composition"]) == ["EC1EMC2", "EC2EMC1"]
    assert len(table) == 6 and (table["model"] == "gap/" + gap_model.path.stem).all()
    from xfer.backends import get_backend
    from xfer.data.store import Dataset

    frames = {f.info["frame_id"]: f for f in Dataset.open(out / "scans").frames(["vs"])}
    calc = get_backend("gap").calculator(gap_model)
    for row in table.itertuples():
        atoms = frames[row.frame_id].copy()
        assert row.e_ref_eV == pytest.approx(atoms.info["REF_energy"], abs=1e-6)
        atoms.calc = calc
        assert row.e_model_eV == pytest.approx(atoms.get_potential_energy(), abs=1e-5)
    for png in ("volume_scan_energy.png", "volume_scan_parity.png"):
        assert (out / png).stat().st_size > 10_000
    log = out / "scans" / "work" / "vs.labels.jsonl"
    before = log.read_bytes()
    assert main(argv) == 0  # every label reused: the log is unchanged
    assert log.read_bytes() == before


def _tiny_run(model, out: Path, mix: str = "EC:2,EMC:1", steps: int = 60) -> Path:
    argv = ["md", "--out", str(out), "--potential", "ml", "--model", str(model.path),
            "--mix", mix, "--density", "0.9", "--ensemble", "nvt", "--temperature", "300",
            "--time-ps", str(steps * 0.0005), "--dump-every", "10",
            "--bond-stretch-max", "3.0"]  # fmt: skip
    assert main(argv) == 0
    return out


@pytest.mark.slow
def test_along_killed_and_restarted_relabels_nothing_twice(gap_model, tmp_path):
    run = _tiny_run(gap_model, tmp_path / "run")
    n_frames = (run / "traj.dump").read_text().splitlines().count("ITEM: TIMESTEP")
    assert n_frames == 7
    argv = [sys.executable, "-m", "xfer.cli", "diagnose", "along", str(run),
            "--model", str(gap_model.path), "--every-ps", "0.005"]
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    log = run / "along" / "labels.jsonl"
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not (log.exists() and log.read_text().count("\n") >= 2):
        assert proc.poll() is None and time.monotonic() < deadline, "along ended too early"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = [json.loads(line)["frame_id"] for line in log.read_text().splitlines()]
    assert 2 <= len(first) < n_frames and not (run / "along" / "along.csv").exists()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["frame_id"] for line in log.read_text().splitlines()]
    assert ids[: len(first)] == first and len(ids) == len(set(ids)) == n_frames
    table = pd.read_csv(run / "along" / "along.csv")
    assert list(table["time_ps"]) == pytest.approx([0.005 * k for k in range(n_frames)])
    # the CSV's force RMSE is the model's forces against the logged reference forces
    from xfer.backends import get_backend
    from xfer.lammps.dump import read_frames

    record = json.loads(log.read_text().splitlines()[-1])
    frame = {f"step{f.info['step']}": f for f in read_frames(run / "traj.dump")}[record["frame_id"]]
    frame.calc = get_backend("gap").calculator(gap_model)
    rmse = np.sqrt(np.mean((frame.get_forces() - np.array(record["forces"])) ** 2)) * 1000
    assert table.set_index("frame_id").loc[record["frame_id"], "f_rmse_meV_A"] == pytest.approx(
        rmse, rel=1e-6
    )
    assert (run / "along" / "along.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.timeout(2400)  # three MD runs and their labels; minutes on a loaded machine
def test_generalisation_runs_ec_dec_vc_emc_and_pc(gap_model, tmp_path, capsys):
    out = tmp_path / "gen"
    argv = ["diagnose", "generalise", "--model", str(gap_model.path), "--out", str(out),
            "--molecules", "4", "--ensemble", "nvt", "--temperature", "300",
            "--time-ps", "0.02", "--dump-every", "20", "--every-ps", "0.02"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    table = pd.read_csv(out / "generalisation.csv")
    assert list(table["liquid"]) == ["EC:DEC 1:1 v/v", "VC:EMC 1:1 v/v", "PC"]
    assert list(table["composition"]) == ["EC3DEC1", "VC2EMC2", "PC4"]  # mix_by_volume(.., 4)
    assert (table["t_stab_ps"] > 0).all() and (table["t_stab_ps"] <= 0.02).all()
    assert (table["n_frames"] >= 1).all() and (table["f_rmse_meV_A"] > 0).all()
    for liquid, row in zip(("EC_DEC_1_1_v_v", "VC_EMC_1_1_v_v", "PC"), table.itertuples()):
        result = json.loads((out / f"gap_{gap_model.path.stem}" / liquid / "md" /
                             "result.json").read_text())  # fmt: skip
        assert result["t_stab_ps"] == row.t_stab_ps
        from xfer.lammps.readdata import read_system

        system = read_system(out / f"gap_{gap_model.path.stem}" / liquid / "md" / "system.data")
        parts = {"EC_DEC_1_1_v_v": "EC:1,DEC:1", "VC_EMC_1_1_v_v": "VC:1,EMC:1", "PC": "PC:1"}
        mix, density = mix_by_volume(parse_fractions(parts[liquid]), 4)
        assert system.mix() == mix and system.density == pytest.approx(density, rel=1e-4)
    assert (out / "generalisation.png").stat().st_size > 10_000
