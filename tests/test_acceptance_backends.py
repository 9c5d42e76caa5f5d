"""Backend acceptance: tiny 2-seed committees of every architecture train on a small
GFN2-xTB set, export, and run 200 NVT steps through ``xfer md`` with the halts active.

Slow (~35 min on 2 idle cores: 3 min labelling, ~5 min per MACE seed, ~7 min per DeePMD seed,
seconds per GAP seed, ~10-50 s per MD run); run it with
``.venv/bin/pytest -m slow tests/test_acceptance_backends.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xfer import training

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
XFER = [sys.executable, "-m", "xfer.cli"]
SEEDS = (0, 1)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


def xfer(*args: str, cwd: Path) -> str:
    """Run one ``xfer`` verb in a fresh process; its output (fails the test on exit != 0)."""
    proc = subprocess.run([*XFER, *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"xfer {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """examples/dataset-small.toml built and split into the Full recipe's files."""
    root = tmp_path_factory.mktemp("acceptance")
    shutil.copy(EXAMPLES / "dataset-small.toml", root / "dataset.toml")
    xfer("dataset", "build", "dataset.toml", "--out", "ds", cwd=root)
    xfer("dataset", "recipe", "ds", "Full", "--out", "train.xyz", cwd=root)
    return root


@pytest.mark.parametrize("arch", ["mace", "deepmd", "gap"])
def test_tiny_committee_trains_exports_and_runs_200_nvt_steps(work, arch):
    xfer(
        "train", "--arch", arch, "--recipe", "Full", "--train", "train.xyz",
        "--valid", "train-valid.xyz", "--seeds", "0-1", "--preset", "tiny",
        "--out", "models", cwd=work,
    )  # fmt: skip
    models = [m for m in training.find_models(work / "models") if m.arch == arch]
    assert sorted(m.meta["seed"] for m in models) == list(SEEDS)
    assert arch in xfer("models", "list", "models", cwd=work)
    for model in models:
        exported = xfer("export", str(model.path), cwd=work)
        assert "pair_style" in exported
        run = work / f"md-{arch}-seed{model.meta['seed']}"
        xfer(
            "md", "--potential", "ml", "--model", str(model.path), "--mix", "EC:4,EMC:8",
            "--density", "1.1", "--ensemble", "nvt", "--temperature", "300",
            "--time-ps", "0.1", "--timestep-fs", "0.5", "--check-every", "10",
            "--bond-stretch-max", "0.5", "--out", str(run), cwd=work,
        )  # fmt: skip
        result = json.loads((run / "result.json").read_text())
        assert result["n_steps_requested"] == 200
        assert (result["n_steps_done"], result["halted"]) == (200, False), result["halt_detail"]
        settings = result["settings"]  # the halts were active
        assert (settings["check_every"], settings["bond_stretch_max"]) == (10, 0.5)
        assert "halt_bond all halt 10 " in (run / "in.lammps").read_text()
