"""The task DAG of a campaign and its dry-run printout.

dataset -> recipe (one per recipe) -> train (arch x recipe x seed) -> md (NPT and NVT per
model) -> analyze (one per run). An OPLS reference committee adds md + analyze tasks that
depend on nothing. Keys are content hashes (see :mod:`xfer.workflow.store`), so the same
campaign file always yields the same task directories.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xfer.data.recipes import NAMED
from xfer.provenance import file_sha256
from xfer.workflow.campaign import Campaign
from xfer.workflow.store import Task, TaskStore

ENSEMBLES = ("npt", "nvt")
REFERENCE_GROUP = "opls/reference"


@dataclass(frozen=True)
class Member:
    """One model of the study (or one OPLS reference run set): its name and (arch, recipe)."""

    arch: str
    recipe: str
    seed: int

    @property
    def group(self) -> str:
        return f"{self.arch}/{self.recipe}"

    @property
    def name(self) -> str:
        return f"{self.group}/seed{self.seed}"


@dataclass
class Plan:
    """Every task of a campaign in dependency order, indexed by role."""

    campaign: Campaign
    tasks: list[Task] = field(default_factory=list)
    dataset: Task | None = None
    recipes: dict[str, Task] = field(default_factory=dict)
    train: dict[Member, Task] = field(default_factory=dict)
    md: dict[tuple[Member, str], Task] = field(default_factory=dict)
    analyze: dict[tuple[Member, str], Task] = field(default_factory=dict)
    members: list[Member] = field(default_factory=list)
    reference: list[Member] = field(default_factory=list)
    al: Any = None  # xfer.workflow.al_dag.ALPlan when the campaign has [active_learning]
    diagnostics: Any = None  # xfer.workflow.diag_dag.DiagPlan with a [diagnostics] table
    _by_key: dict[str, Task] = field(default_factory=dict, repr=False)

    def add(self, task: Task) -> Task:
        """Append ``task``; a task with the same key (shared inputs) is kept once."""
        if task.key in self._by_key:
            return self._by_key[task.key]
        self._by_key[task.key] = task
        self.tasks.append(task)
        return task


def ref(task: Task) -> str:
    return f"{task.kind}/{task.key}"


def _dataset_task(campaign: Campaign) -> Task:
    ds = campaign.dataset
    if ds.path is not None:
        from xfer.data.store import MANIFEST

        manifest = ds.path / MANIFEST
        digest = file_sha256(manifest) if manifest.is_file() else "missing"
        spec = {"source": "path", "path": str(ds.path), "manifest_sha256": digest}
        return Task("dataset", f"dataset {ds.path.name}", spec)
    config = ds.build_config()
    spec = {"source": "build", "config": config.model_dump(mode="json", by_alias=True)}
    name = ds.build.name if ds.build is not None else "[dataset.config]"
    return Task("dataset", f"dataset build {name}", spec)


def md_settings(campaign: Campaign, ensemble: str, potential: str, seed: int) -> dict:
    md = campaign.md
    common = {
        "potential": potential,
        "mix": md.mix,
        "ensemble": ensemble,
        "temperature": md.temperature,
        "time_ps": md.time_ps,
        "timestep_fs": md.timestep_fs,
        "seed": seed,
        "thermo_every": md.thermo_every,
        "dump_every": md.dump_every,
        "check_every": md.check_every,
        "bond_stretch_max": md.bond_stretch_max,
    }
    if md.minimize_steps:  # only when set: unset keeps older task keys
        common["minimize_steps"] = md.minimize_steps
    if ensemble == "npt":
        dr = md.npt.density_range
        npt = {
            "pressure": md.npt.pressure,
            "density": md.npt.density,
            "density_range": list(dr) if dr else None,
        }
        if md.npt.pdamp_fs is not None:  # only when set: unset keeps older task keys
            npt["pdamp_fs"] = md.npt.pdamp_fs
        return common | npt
    return common | {"density": md.nvt.density, "density_range": None}


def build_plan(campaign: Campaign) -> Plan:
    """All tasks of ``campaign`` (nothing is run or written)."""
    plan = Plan(campaign)
    plan.dataset = plan.add(_dataset_task(campaign))
    recipes = {**NAMED, **campaign.user_recipes()}
    ds = campaign.dataset
    for name in campaign.training.recipes:
        spec = {
            "recipe": recipes[name].model_dump(mode="json"),
            "valid_fraction": ds.valid_fraction,
            "split_seed": ds.split_seed,
        }
        deps = {"dataset": ref(plan.dataset)}
        plan.recipes[name] = plan.add(Task("recipe", f"recipe {name}", spec, deps))
    analysis = campaign.analysis_settings.model_dump(mode="json")
    for arch, settings in campaign.training.architectures.items():
        for name in campaign.recipes_of(arch):
            for seed in campaign.training.seed_list:
                member = Member(arch, name, seed)
                plan.members.append(member)
                spec = {
                    "arch": arch,
                    "recipe": name,
                    "seed": seed,
                    "hyper": {"preset": settings.preset, **settings.hyper},
                }
                deps = {"recipe": ref(plan.recipes[name])}
                plan.train[member] = plan.add(Task("train", f"train {member.name}", spec, deps))
                for ensemble in ENSEMBLES:
                    run_and_analyze(plan, member, ensemble, "ml", campaign.md.seed, analysis)
    reference = campaign.reference
    if reference.potential is not None:  # a classical potential: runs differing in seed
        for k in range(reference.members):
            member = Member(reference.potential, "reference", k)
            plan.reference.append(member)
            for ensemble in ENSEMBLES:
                seed = campaign.md.seed + k
                run_and_analyze(plan, member, ensemble, reference.potential, seed, analysis)
    else:
        plan.reference = [
            m for m in plan.members if (m.arch, m.recipe) == (reference.arch, reference.recipe)
        ]
    if campaign.active_learning is not None:
        from xfer.workflow.al_dag import add_active_learning

        plan.al = add_active_learning(plan)
    if campaign.diagnostics is not None:
        from xfer.workflow.diag_dag import add_diagnostics

        plan.diagnostics = add_diagnostics(plan)
    return plan


def run_and_analyze(
    plan: Plan, member: Member, ensemble: str, potential: str, seed: int, analysis: dict
) -> None:
    spec = {"settings": md_settings(plan.campaign, ensemble, potential, seed)}
    deps = {"model": ref(plan.train[member])} if potential == "ml" else {}
    md = plan.add(Task("md", f"md {ensemble} {member.name}", spec, deps))
    plan.md[member, ensemble] = md
    label = f"analyze {ensemble} {member.name}"
    plan.analyze[member, ensemble] = plan.add(
        Task("analyze", label, {"settings": analysis}, {"md": ref(md)})
    )


def counts(plan: Plan, store: TaskStore | None = None) -> dict[str, Counter[str]]:
    """Tasks per kind and state (state ``planned`` without a store)."""
    table: dict[str, Counter[str]] = {}
    for task in plan.tasks:
        state = store.state(task)[0] if store else "planned"
        table.setdefault(task.kind, Counter())[state] += 1
    return table


def print_dry_run(plan: Plan, store: TaskStore, console: Console) -> None:
    """The DAG as an indented tree (children under the task they depend on) plus counts."""
    campaign = plan.campaign
    console.print(
        f"campaign {campaign.campaign.name} ({campaign.source}) -> {store.out}", highlight=False
    )
    children: dict[str, list[Task]] = {}
    roots = []
    later = plan.al.later if plan.al is not None else set()
    for task in plan.tasks:
        if task.key in later:  # AL generations after the first: counted below, not listed
            continue
        if task.deps:
            parent = next(iter(task.deps.values())).split("/")[1]
            children.setdefault(parent, []).append(task)
        else:
            roots.append(task)

    def show(task: Task, depth: int) -> None:
        state, detail = store.state(task)
        extra = f" ({detail})" if detail else ""
        console.print(
            escape(f"{'  ' * depth}{task.label}  [{state}]{extra}  {task.kind}/{task.key}"),
            highlight=False,
            soft_wrap=True,
        )
        for child in children.get(task.key, []):
            show(child, depth + 1)

    for task in roots:
        show(task, 0)
    if plan.al is not None:
        from xfer.workflow.al_dag import print_generation_counts

        print_generation_counts(plan.al, console)
    print_counts(plan, store, console, title="tasks (dry run: nothing was run)")


def print_counts(plan: Plan, store: TaskStore, console: Console, title: str) -> None:
    table = Table(title=title)
    states = ("done", "running", "failed", "interrupted", "pending")
    table.add_column("stage")
    table.add_column("tasks", justify="right")
    for s in states:
        table.add_column(s, justify="right")
    total: Counter[str] = Counter()
    for kind, c in counts(plan, store).items():
        table.add_row(kind, str(sum(c.values())), *(str(c.get(s, 0)) for s in states))
        total.update(c)
    table.add_row("all", str(sum(total.values())), *(str(total.get(s, 0)) for s in states))
    console.print(table)
