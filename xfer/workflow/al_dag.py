"""The active-learning part of a campaign DAG (the ``[active_learning]`` table, SPEC section 6).

Per loop (architecture x starting recipe) and generation g = 0 .. G::

    recipe g (on dataset g) -> train g (committee seeds) -> md + analyze (validation)
                                     \\-> explore g (one per start box, primary + committee)
                                           -> select g -> label g = dataset g+1 (g < G)

With ``[active_learning.stop]`` a gate task per generation g < G scores the validation
(``analyze g`` of every member and the reference's analyses) and every explore task of g
depends on it: once the targets are met the gate's result says ``stopped`` and every task
downstream of it (the rest of the loop) finishes as "not needed" without running (see
:mod:`xfer.workflow.worker`). With ``init = "previous"`` each seed's train task of g >= 1
depends on the same seed's train task of g - 1 (MACE, DeePMD: warm start; GAP refits, so
its tasks are the fresh ones).

Dataset 0 is the campaign's dataset; dataset g+1 is dataset g plus the loop's labelled
``al`` frames of generation g+1, written by its label task. The recipe of generation g >= 1
is the starting recipe plus every ``al`` frame of that dataset. Start boxes (one task per
composition) are shared by every loop and generation.

Nothing here needs a result to plan: each task's key hashes its inputs and its upstream
keys, so the whole chain of generations is known (and content-addressed) before anything
runs. Generation g+1 runs only after g's labels exist because its recipe depends on them;
a restarted campaign finds every finished task by its key and redoes none of them. Tasks
shared with the main study (generation 0 of a loop whose recipe, seed and preset the
``[training]`` table also has) have the same key and appear once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rich import box
from rich.console import Console
from rich.table import Table

from xfer.backends.base import backend_class
from xfer.chem.molecules import composition_label
from xfer.data.recipes import NAMED, Recipe, Selection
from xfer.workflow.al_tasks import AL_KINDS
from xfer.workflow.dag import ENSEMBLES, Member, Plan, ref, run_and_analyze
from xfer.workflow.store import Task


@dataclass(frozen=True)
class Loop:
    """One active-learning loop: an architecture and its generation-0 recipe."""

    arch: str
    recipe: str

    @property
    def name(self) -> str:
        return f"{self.arch}/{self.recipe}"


@dataclass
class Generation:
    """The tasks of one generation of one loop (explore/select/label absent for the last)."""

    loop: Loop
    number: int
    recipe: Task
    members: list[Member] = field(default_factory=list)  # seed 0 (the primary) first
    explore: list[Task] = field(default_factory=list)
    select: Task | None = None
    label: Task | None = None
    gate: Task | None = None  # with [active_learning.stop]: whether the loop goes on

    @property
    def tasks(self) -> list[Task]:
        order = (self.recipe, self.gate, *self.explore, self.select, self.label)
        return [t for t in order if t is not None]


@dataclass
class ALPlan:
    """Start-box tasks and every loop's generations."""

    starts: dict[str, Task] = field(default_factory=dict)  # composition label -> task
    loops: dict[Loop, list[Generation]] = field(default_factory=dict)
    counts: dict[int, Counter[str]] = field(default_factory=dict)  # new tasks per kind
    later: set[str] = field(default_factory=set)  # keys first needed after generation 0


def generation_recipe(start: Recipe, generation: int) -> Recipe:
    """The training set of a generation: the starting recipe, plus all ``al`` frames from 1 on."""
    if generation == 0:
        return start
    return Recipe(
        name=f"{start.name}+AL",
        select=(*start.select, Selection(tags=("al",))),
        include_e0=start.include_e0,
        description=f"{start.name} plus the loop's active-learned frames",
    )


def member_recipe(loop: Loop, generation: int) -> str:
    """The recipe label of a generation's models (plain for generation 0)."""
    return loop.recipe if generation == 0 else f"{loop.recipe}@al{generation}"


def explore_settings(campaign, seed: int) -> dict:
    """MD settings of an exploration run (the start data file and models come from deps)."""
    al, md = campaign.active_learning, campaign.md
    ex = al.explore
    return {
        "potential": "ml",
        "ensemble": "npt",
        "temperature": ex.temperature or md.temperature,
        "pressure": ex.pressure,
        "time_ps": ex.time_ps,
        "timestep_fs": ex.timestep_fs,
        "seed": seed,
        "thermo_every": ex.deviation_every,
        "dump_every": ex.dump_every,
        "check_every": ex.check_every,
        "bond_stretch_max": None,
        "bond_stretch_rel": ex.bond_stretch_rel,
        "density_range": list(ex.density_range),
        "max_force_deviation": al.max_force_deviation,
        "deviation_every": ex.deviation_every,
    }


def add_active_learning(plan: Plan) -> ALPlan:
    """Add every AL task of ``plan.campaign`` to ``plan`` (see the module docstring)."""
    campaign = plan.campaign
    al = campaign.active_learning
    out = ALPlan()
    for mix in al.explore.compositions:
        mix = {name: n for name, n in mix.items() if n}
        label = composition_label(mix)
        spec = {"mix": mix, "count": al.explore.starts_per_composition,
                "settings": al.starts.model_dump(mode="json")}  # fmt: skip
        out.starts[label] = plan.add(Task("al_starts", f"al starts {label}", spec))
    out.counts[0] = Counter(t.kind for t in out.starts.values())
    recipes = {**NAMED, **campaign.user_recipes()}
    analysis = campaign.analysis_settings.model_dump(mode="json")
    ds = campaign.dataset
    for arch in campaign.al_architectures:
        settings = campaign.training.architectures[arch]
        hyper = {"preset": settings.preset, **settings.hyper}
        warm = al.init == "previous" and backend_class(arch).warm_starts
        for start in al.start_recipes:
            loop = Loop(arch, start)
            dataset = plan.dataset
            chain: list[Generation] = []
            for g in range(al.generations + 1):
                keys_before = len(plan.tasks)
                recipe = generation_recipe(recipes[start], g)
                rspec = {"recipe": recipe.model_dump(mode="json"),
                         "valid_fraction": ds.valid_fraction, "split_seed": ds.split_seed}
                rlabel = f"recipe {start}" if g == 0 else f"recipe {loop.name} g{g}"
                rtask = plan.add(Task("recipe", rlabel, rspec, {"dataset": ref(dataset)}))
                gen = Generation(loop, g, rtask)
                for seed in range(al.committee):
                    member = Member(arch, member_recipe(loop, g), seed)
                    spec = {"arch": arch, "recipe": recipe.name, "seed": seed, "hyper": hyper}
                    deps = {"recipe": ref(rtask)}
                    if warm and g:  # the same seed's model of the generation before
                        spec["init"] = "previous"
                        deps["init"] = ref(plan.train[chain[-1].members[seed]])
                    plan.train[member] = plan.add(Task("train", f"train {member.name}", spec, deps))
                    gen.members.append(member)
                    for ensemble in ENSEMBLES:
                        run_and_analyze(plan, member, ensemble, "ml", campaign.md.seed, analysis)
                if g < al.generations:
                    if al.stop is not None:
                        gen.gate = _gate(plan, gen, analysis)
                    _explore_select_label(plan, out, gen, dataset)
                    dataset = gen.label
                chain.append(gen)
                new = plan.tasks[keys_before:]
                out.counts.setdefault(g, Counter()).update(t.kind for t in new)
                if g:
                    out.later.update(t.key for t in new)
            out.loops[loop] = chain
    return out


def _gate(plan: Plan, gen: Generation, analysis: dict) -> Task:
    """The task that decides, from generation ``gen``'s validation, whether its loop goes on."""
    deps = {}
    for ensemble in ENSEMBLES:
        for k, member in enumerate(gen.members):
            deps[f"{ensemble}{k}"] = ref(plan.analyze[member, ensemble])
        for k, member in enumerate(plan.reference):
            deps[f"ref_{ensemble}{k}"] = ref(plan.analyze[member, ensemble])
    stop = plan.campaign.active_learning.stop
    spec = {"stop": stop.model_dump(mode="json"), "generation": gen.number, "analysis": analysis}
    return plan.add(Task("al_gate", f"al gate {gen.loop.name} g{gen.number}", spec, deps))


def _explore_select_label(plan: Plan, out: ALPlan, gen: Generation, dataset: Task) -> None:
    campaign = plan.campaign
    al = campaign.active_learning
    loop, g = gen.loop, gen.number
    models = {f"member{k}": ref(plan.train[m]) for k, m in enumerate(gen.members)}
    if gen.gate is not None:
        models["gate"] = ref(gen.gate)
    trajectories = {}
    for label, starts in out.starts.items():
        for k in range(al.explore.starts_per_composition):
            spec = {"settings": explore_settings(campaign, seed=1 + k), "start": k}
            name = f"al explore {loop.name} g{g} {label} s{k}"
            task = plan.add(Task("al_explore", name, spec, {**models, "starts": ref(starts)}))
            gen.explore.append(task)
            trajectories[f"traj{len(trajectories):03d}"] = ref(task)
    spec = {"generation": g + 1, "arch": loop.arch, "recipe": loop.recipe,
            "max_force_variance": al.max_force_variance, "rule": al.select}  # fmt: skip
    gen.select = plan.add(Task("al_select", f"al select {loop.name} g{g}", spec, trajectories))
    deps = {"dataset": ref(dataset), "select": ref(gen.select)}
    spec = {"workers": al.labelling_workers}
    gen.label = plan.add(Task("al_label", f"al label {loop.name} g{g}", spec, deps))


def print_generation_counts(al: ALPlan, console: Console) -> None:
    """New tasks per AL generation and kind (tasks shared with earlier ones count once)."""
    kinds = ("recipe", "train", "md", "analyze", *AL_KINDS)
    table = Table(
        title=f"active learning, {len(al.loops)} loops: new tasks per generation "
        "(a task shared with the main study or an earlier generation counts there)",
        box=box.SIMPLE,
        padding=(0, 1),
        collapse_padding=True,
    )
    table.add_column("gen", justify="right")
    for kind in kinds:
        table.add_column(kind.removeprefix("al_"), justify="right")
    table.add_column("all", justify="right")
    for g, row in sorted(al.counts.items()):
        table.add_row(str(g), *(str(row.get(k, 0)) for k in kinds), str(sum(row.values())))
    console.print(table)
