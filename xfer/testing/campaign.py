"""A finished campaign without training or MD: synthetic runs behind real task markers.

:func:`write_synthetic_campaign` plans :data:`CAMPAIGN` (MACE and DeePMD on OPLS and Full,
two seeds, two OPLS-AA reference members) and finishes its tasks in a results directory:
train tasks with a placeholder pair style, md tasks with synthetic run directories
(:mod:`xfer.testing.synthetic`; the constructed halts of :mod:`xfer.testing.halts` for the
members in :data:`HALTS`), and analyze tasks by the real analyze step. The campaign report
then renders from it as from a real campaign.
"""

from __future__ import annotations

import json
from pathlib import Path

from xfer.atomic import write_json
from xfer.testing import halts
from xfer.testing.synthetic import SyntheticRun, write_synthetic_run
from xfer.workflow.campaign import parse_campaign
from xfer.workflow.dag import Member, Plan, build_plan
from xfer.workflow.store import TaskStore
from xfer.workflow.tasks import work_analyze

CAMPAIGN = """
[campaign]
name = "synthetic"
[dataset]
path = "{dataset}"
[training]
recipes = ["OPLS", "Full"]
committee = 2
[training.architectures]
mace = {{ preset = "tiny" }}
deepmd = {{ preset = "tiny" }}
[md]
mix = {{ EC = 2, EMC = 3 }}
time_ps = 10.0
timestep_fs = 0.5
dump_every = 200
[analysis]
equilibration_ps = 2.0
block_ps = 4.0
block_spacing_ps = 1.0
ballistic_ps = 1.0
[reference]
potential = "opls"
members = 2
"""
# (arch, recipe, seed, ensemble) -> constructed halt
HALTS = {
    ("deepmd", "OPLS", 0, "npt"): halts.stretched_bond,
    ("deepmd", "OPLS", 1, "npt"): halts.pushed_together,
    ("deepmd", "Full", 0, "nvt"): halts.uncertainty_halt,
}


def _finish(store: TaskStore, task, result: dict) -> Path:
    """Write ``task``'s done marker with ``result``; returns its attempt directory."""
    directory = store.dir_of(task)
    attempt = directory / "attempt-1"
    attempt.mkdir(parents=True, exist_ok=True)
    write_json(directory / "task.json", task.as_dict())
    done = {"key": task.key, "kind": task.kind, "label": task.label, "output": attempt.name,
            "attempt": 1, "note": result.pop("note", ""), "result": result}  # fmt: skip
    write_json(directory / "done.json", done)
    return attempt


def _run(member: Member, ensemble: str, target: Path, index: int) -> Path:
    build = HALTS.get((member.arch, member.recipe, member.seed, ensemble))
    if build is not None:
        return build(target, ensemble=ensemble)
    spec = SyntheticRun(mix=halts.MIX, ensemble=ensemble, seed=index, density_tau_ps=0.3,
                        density=1.0 + 0.01 * (member.arch == "mace"))  # fmt: skip
    return write_synthetic_run(target, spec)


def write_synthetic_campaign(out: Path) -> tuple[Plan, TaskStore]:
    """Plan :data:`CAMPAIGN` with results in ``out`` and finish every task that reports read."""
    import tomllib

    dataset = out / "dataset"
    dataset.mkdir(parents=True, exist_ok=True)
    plan = build_plan(parse_campaign(tomllib.loads(CAMPAIGN.format(dataset=dataset))))
    store = TaskStore(out)
    for member, task in plan.train.items():
        pair = {"pair_style": f"{member.arch} (synthetic)", "elements": ["H", "C", "O"]}
        _finish(store, task, {"pair": pair, "validation_errors": {}})
    for k, ((member, ensemble), task) in enumerate(plan.md.items()):
        attempt = _finish(store, task, {})
        run = _run(member, ensemble, attempt / "run", k)
        result = json.loads((run / "result.json").read_text())
        _finish(store, task, {
            "run": "attempt-1/run", "halted": result["halted"],
            "halt_reason": result["halt_reason"], "t_stab_ps": result["t_stab_ps"],
            "pair_style": member.arch, "lammps_version": "synthetic",
        })  # fmt: skip
    for key, task in plan.analyze.items():
        md = store.outputs("md", plan.md[key].key)
        attempt = store.dir_of(task) / "attempt-1"
        attempt.mkdir(parents=True, exist_ok=True)
        result = work_analyze(task.spec, {"md": md}, attempt, store.dir_of(task))
        _finish(store, task, result)
    return plan, store
