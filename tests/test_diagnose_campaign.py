"""Campaign ``[diagnostics]`` and ``[[models]]``: schema errors, the planned tasks, and (slow)
a tiny real campaign whose report links the diagnostics' CSV and PNG files."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from xfer.chem.volume_mix import mix_by_volume
from xfer.errors import InputError
from xfer.workflow.campaign import parse_campaign
from xfer.workflow.dag import build_plan, counts

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
USER = {"name": "mace-off", "path": "models/mace-off.model", "arch": "mace"}


def _paper(**extra) -> dict:
    return tomllib.loads((EXAMPLES / "paper.toml").read_text()) | extra


def _error(data: dict) -> str:
    with pytest.raises(InputError) as info:
        parse_campaign(data, EXAMPLES / "paper.toml")
    return str(info.value)


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        ({"diagnostics": {"along": {"models": ["gap/Full/seed9"]}}},
         ["diagnostics.along.models.0", "unknown model 'gap/Full/seed9'", "gap/Full/seed0"]),
        ({"models": [USER | {"arch": "schnet"}]}, ["models.0.arch", "allowed: deepmd, gap, mace"]),
        ({"models": [USER | {"name": "mace/OPLS/seed0"}]}, ["models.0.name", "already a model"]),
        ({"diagnostics": {"generalisation": {"liquids": [{"name": "x", "mix_vv": {"XX": 1}}]}}},
         ["diagnostics.generalisation.liquids.0.mix_vv", "liquid density"]),
        ({"diagnostics": {"volume_scan": {"scans": 0}}}, ["diagnostics.volume_scan.scans"]),
        ({"diagnostics": {"bogus": {}}}, ["diagnostics.bogus", "allowed: reference, volume_scan"]),
    ],
)  # fmt: skip
def test_diagnostics_errors_name_the_field(extra, needles):
    message = _error(_paper(**extra))
    for needle in needles:
        assert needle in message, message


def test_diagnostics_tasks_are_planned_per_selected_model():
    diagnostics = {
        "volume_scan": {},
        "along": {"models": ["mace/OPLS/seed0", "mace-off"]},
        "generalisation": {"models": ["mace-off"], "molecules": 48},
    }
    campaign = parse_campaign(_paper(models=[USER], diagnostics=diagnostics), EXAMPLES / "x")
    assert campaign.models[0].path == (EXAMPLES / "models/mace-off.model").resolve()
    plan = build_plan(campaign)
    table = {kind: sum(c.values()) for kind, c in counts(plan).items()}
    # every trained model + the user's in the volume scan; along reuses mace/OPLS/seed0's own
    # NVT run and plans one for mace-off; generalisation: 3 liquids for mace-off
    trained = len(plan.members)
    assert trained == 75  # paper.toml: 3 architectures x 5 recipes x 5 seeds
    assert table["user_model"] == 1 and table["diag_scans"] == 1
    assert table["diag_volume"] == trained + 1 and table["diag_along"] == 2 + 3
    assert table["md"] == 2 * trained + 1 + 3
    diag = plan.diagnostics
    member = next(m for m in plan.members if m.name == "mace/OPLS/seed0")
    assert diag.along["mace/OPLS/seed0"].deps["md"] == f"md/{plan.md[member, 'nvt'].key}"
    mix, density = mix_by_volume({"EC": 1, "DEC": 1}, 48)
    run = plan._by_key[diag.generalisation["mace-off", "EC:DEC 1:1 v/v"].deps["md"][3:]]
    assert run.spec["settings"]["mix"] == mix == {"EC": 31, "DEC": 17}
    assert run.spec["settings"]["density"] == pytest.approx(density)
    assert run.deps["model"] == f"user_model/{diag.models['mace-off'][1].key}"
    scans = diag.scans.spec["config"]["vs"]
    assert [s["mix"] for s in scans] == [{"EC": 4, "EMC": 8}, {"EC": 8, "EMC": 4}]
    assert {s["scans"] for s in scans} == {5}


DIAGNOSTICS = """
[[models]]
name = "user-gap"
path = "{bare}"
arch = "gap"
[diagnostics.volume_scan]
models = ["gap/OPLS/seed0", "user-gap"]
mixes = [{{ EC = 1, EMC = 2 }}, {{ EC = 2, EMC = 1 }}]
scans = 1
points = 3
[diagnostics.along]
models = ["gap/OPLS/seed0", "user-gap"]
every_ps = 0.01
[diagnostics.generalisation]
models = ["user-gap"]
molecules = 4
every_ps = 0.01
[[diagnostics.generalisation.liquids]]
name = "PC"
mix_vv = {{ PC = 1 }}
"""


@pytest.mark.slow
@pytest.mark.timeout(3000)  # a whole campaign plus its diagnostics on 2 shared cores
def test_tiny_campaign_with_diagnostics_reports_csv_and_png(gap_model, tmp_path):
    from fixtures.campaign import campaign_command, write_campaign, write_dataset_dir

    from xfer.workflow.store import TaskStore

    bare = tmp_path / "bare"  # the GAP files without xfer's metadata JSON
    bare.mkdir()
    for f in gap_model.path.parent.glob(gap_model.path.name + "*"):
        if f.suffix != ".json":
            shutil.copy(f, bare / f.name)
    path = write_campaign(tmp_path, write_dataset_dir(tmp_path))
    path.write_text(path.read_text() + DIAGNOSTICS.format(bare=bare / gap_model.path.name))
    out = tmp_path / "out"
    run = subprocess.run(campaign_command(path, out), capture_output=True, text=True, timeout=2900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    from xfer.workflow.campaign import load_campaign

    plan = build_plan(load_campaign(path))
    store = TaskStore(out)
    assert all(store.state(t)[0] == "done" for t in plan.tasks)
    report = (out / "report" / "report.md").read_text()
    assert "## Diagnostics" in report
    for name in ("gap/OPLS/seed0", "user-gap"):  # volume-scan and along rows per model
        assert f"| {name} | EC2EMC1 |" in report, report
        assert re.search(rf"\| {re.escape(name)} \| [1-3] \| \d", report), report
    assert "| user-gap | PC | PC4 |" in report
    folder = out / "report" / "diagnostics"
    for name in ("volume_scan_energy.png", "volume_scan_parity.png", "along.png",
                 "generalisation.png"):  # fmt: skip
        assert f"(diagnostics/{name})" in report and (folder / name).stat().st_size > 10_000
    summary = pd.read_csv(folder / "volume_scan_summary.csv")
    assert len(summary) == 4 and set(summary["model"]) == {"gap/OPLS/seed0", "user-gap"}
    gen = pd.read_csv(folder / "generalisation.csv")
    assert gen.loc[0, "t_stab_ps"] > 0 and gen.loc[0, "f_rmse_meV_A"] > 0
    assert (out / "report" / "report.html").read_text().count("data:image/png") >= 8
