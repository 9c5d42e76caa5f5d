"""What a campaign's finished tasks hold, collected once into a typed :class:`CampaignResults`.

The report (:mod:`xfer.workflow.report`) renders these; nothing here formats or draws.
A member without results carries the reason (its first unfinished task and that task's
state), so the report can say why a cell is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from xfer.analysis.quality import ModelRuns, Reference, ScoreReport, build_reference, score_models
from xfer.analysis.results import RunAnalysis
from xfer.analysis.settings import AnalysisSettings
from xfer.analysis.triage import HaltReport
from xfer.errors import InputError, validation_message
from xfer.jsonfiles import read_json
from xfer.workflow.dag import Member, Plan
from xfer.workflow.store import TaskStore


@dataclass(frozen=True)
class Halt:
    """A halted run's triage (halt.json) and the directory with its frames and picture."""

    report: HaltReport
    directory: Path


@dataclass(frozen=True)
class CampaignResults:
    """Scores and task results of a campaign, as far as its tasks are finished."""

    settings: AnalysisSettings
    models: dict[Member, ModelRuns]  # members whose NPT and NVT analyses are both done
    reference: Reference
    reference_runs: list[ModelRuns]  # the reference committee's members with results
    scores: ScoreReport
    trained: dict[Member, dict[str, Any]]  # train task results (pair lines, errors)
    md: dict[tuple[Member, str], dict[str, Any]]  # md task results by (member, ensemble)
    status: dict[Member, str]  # "done", or the first unfinished task and its state
    halts: dict[tuple[Member, str], Halt]  # triage of halted runs by (member, ensemble)


def _analysis(store: TaskStore, task) -> RunAnalysis | None:
    try:
        path = Path(store.outputs(task.kind, task.key)["analysis"])
    except KeyError:  # not finished
        return None
    return RunAnalysis.model_validate_json(path.read_text())


def _halts(store: TaskStore, tasks: dict) -> dict:
    """``key -> Halt`` of the analyzed runs that halted (their analyze task's halt.json)."""
    found = {}
    for key, task in tasks.items():
        try:
            path = store.outputs(task.kind, task.key).get("halt")
        except KeyError:  # not finished
            continue
        if path is not None:
            path = Path(path)
            fix = f"delete {store.dir_of(task) / 'done.json'} and rerun the campaign"
            try:
                report = HaltReport.model_validate(read_json(path, fix))
            except ValidationError as exc:
                raise InputError(f"{path}: {validation_message(exc)}; {fix}") from None
            found[key] = Halt(report, path.parent)
    return found


def _member_status(plan: Plan, store: TaskStore, member: Member) -> str:
    """Why a member has no score: the first unfinished task on its path, with its state."""
    chain = [plan.train[member]] if member in plan.train else []
    chain += [plan.md[member, e] for e in ("npt", "nvt")]
    chain += [plan.analyze[member, e] for e in ("npt", "nvt")]
    for task in chain:
        state, detail = store.state(task)
        if state != "done":
            return f"{task.kind} {state}" + (f": {detail}" if detail else "")
    return "done"


def _results(store: TaskStore, tasks: dict) -> dict:
    """``key -> result`` of the finished tasks among ``tasks`` (each done marker read once)."""
    found = {}
    for key, task in tasks.items():
        done = store.done(task)
        if done is not None and "stopped" not in done["result"]:  # not a loop's unneeded task
            found[key] = done["result"]
    return found


def member_runs(plan: Plan, store: TaskStore, member: Member) -> ModelRuns | None:
    """The NPT and NVT analyses of ``member``, or None until both are finished."""
    npt = _analysis(store, plan.analyze[member, "npt"])
    nvt = _analysis(store, plan.analyze[member, "nvt"])
    if npt is None or nvt is None:
        return None
    return ModelRuns(name=member.name, group=member.group, npt=npt, nvt=nvt)


def collect(plan: Plan, store: TaskStore) -> CampaignResults:
    """Model runs, reference and scores from the finished tasks."""
    settings = plan.campaign.analysis_settings
    models = {m: r for m in plan.members if (r := member_runs(plan, store, m)) is not None}
    ref_runs = [
        r for m in plan.reference if (r := models.get(m) or member_runs(plan, store, m)) is not None
    ]
    reference = build_reference(ref_runs, settings)
    return CampaignResults(
        settings=settings,
        models=models,
        reference=reference,
        reference_runs=ref_runs,
        scores=score_models(list(models.values()), reference, settings),
        trained=_results(store, plan.train),
        md=_results(store, plan.md),
        status={m: _member_status(plan, store, m) for m in (*plan.members, *plan.reference)},
        halts=_halts(store, plan.analyze),
    )
