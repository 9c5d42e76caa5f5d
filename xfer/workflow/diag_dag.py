"""The diagnostics' tasks in a campaign DAG (``[diagnostics]``, ``[[models]]``).

* ``user_model``  adopts a ``[[models]]`` file: loads it, exports it for LAMMPS (its
  result looks like a train task's, so md tasks take it as their model);
* ``diag_scans``  builds and labels the held-out volume scans once (shared by all models);
* ``diag_volume`` one model's energies on the scans;
* ``diag_along``  one model's errors along an md run (its validation run, or a
  generalisation run in a volume-ratio liquid, planned here as ordinary md tasks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xfer.chem.volume_mix import mix_by_volume
from xfer.data.config import ReferenceConfig
from xfer.data.diag_sets import scan_config
from xfer.data.reference import ReferenceSpec
from xfer.provenance import file_sha256
from xfer.workflow.dag import Plan, md_settings, ref
from xfer.workflow.store import Task


@dataclass
class DiagPlan:
    """Tasks of the diagnostics, by model name (and liquid)."""

    models: dict[str, tuple[str, Task]] = field(default_factory=dict)  # name -> (arch, task)
    scans: Task | None = None
    volume: dict[str, Task] = field(default_factory=dict)
    along: dict[str, Task] = field(default_factory=dict)
    generalisation: dict[tuple[str, str], Task] = field(default_factory=dict)


def reference_config(plan: Plan) -> ReferenceConfig:
    """``[diagnostics.reference]``, else the dataset build's reference, else the default."""
    campaign = plan.campaign
    if campaign.diagnostics and campaign.diagnostics.reference is not None:
        return campaign.diagnostics.reference
    if campaign.dataset.path is None:
        return campaign.dataset.build_config().reference
    return ReferenceConfig()


def add_diagnostics(plan: Plan) -> DiagPlan:
    """Add every diagnostic task of ``plan.campaign`` (which has a ``[diagnostics]`` table)."""
    campaign, diag = plan.campaign, DiagPlan()
    tables = campaign.diagnostics
    assert tables is not None
    for member in plan.members:
        diag.models[member.name] = (member.arch, plan.train[member])
    for model in campaign.models:
        digest = file_sha256(model.path) if model.path.is_file() else "missing"
        spec = {"name": model.name, "path": str(model.path), "arch": model.arch, "sha256": digest}
        diag.models[model.name] = (model.arch, plan.add(Task("user_model", f"model {model.name}",
                                                             spec)))  # fmt: skip
    reference = reference_config(plan).model_dump(mode="json")
    if (vs := tables.volume_scan) is not None:
        spec = ReferenceSpec(reference["calculator"], reference["kwargs"])
        config = scan_config(vs.mixes, vs.scans, vs.points, vs.density, reference=spec)
        diag.scans = plan.add(Task("diag_scans", "volume scans",
                                   {"config": config.model_dump(mode="json", by_alias=True)}))
        for name in campaign.diagnostic_models("volume_scan"):
            arch, model = diag.models[name]
            spec = {"name": name, "arch": arch, "plateau_density": vs.plateau_density,
                    "shift_threshold": vs.shift_threshold}  # fmt: skip
            deps = {"scans": ref(diag.scans), "model": ref(model)}
            diag.volume[name] = plan.add(Task("diag_volume", f"volume scan {name}", spec, deps))
    if (along := tables.along) is not None:
        for name in campaign.diagnostic_models("along"):
            run = _own_run(plan, diag, name, along.ensemble)
            diag.along[name] = _along(plan, diag, name, run, along.every_ps, reference, "")
    if (gen := tables.generalisation) is not None:
        for name in campaign.diagnostic_models("generalisation"):
            for liquid in gen.liquids:
                mix, density = mix_by_volume(liquid.mix_vv, gen.molecules)
                settings = md_settings(campaign, gen.ensemble, "ml", campaign.md.seed) | {
                    "mix": mix, "density": density, "time_ps": gen.time_ps or campaign.md.time_ps
                }
                deps = {"model": ref(diag.models[name][1])}
                run = plan.add(Task("md", f"md {gen.ensemble} {liquid.name} {name}",
                                    {"settings": settings}, deps))  # fmt: skip
                diag.generalisation[name, liquid.name] = _along(
                    plan, diag, name, run, gen.every_ps, reference, liquid.name
                )
    return diag


def _own_run(plan: Plan, diag: DiagPlan, name: str, ensemble: str) -> Task:
    """The model's validation run of ``ensemble`` (planned here for a ``[[models]]`` entry)."""
    for (member, ens), task in plan.md.items():
        if member.name == name and ens == ensemble:
            return task
    settings = md_settings(plan.campaign, ensemble, "ml", plan.campaign.md.seed)
    deps = {"model": ref(diag.models[name][1])}
    return plan.add(Task("md", f"md {ensemble} {name}", {"settings": settings}, deps))


def _along(
    plan: Plan, diag: DiagPlan, name: str, run: Task, every_ps: float, reference: dict,
    liquid: str,
) -> Task:
    arch, model = diag.models[name]
    spec = {"name": name, "arch": arch, "every_ps": every_ps, "reference": reference,
            "liquid": liquid}  # fmt: skip
    label = f"along {liquid + ' ' if liquid else ''}{name}"
    return plan.add(Task("diag_along", label, spec, {"md": ref(run), "model": ref(model)}))
