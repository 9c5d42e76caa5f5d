"""Work functions of the active-learning tasks (run inside a task's worker process).

* ``al_starts``  OPLS-AA start boxes of one composition (:mod:`xfer.data.al_starts`), kept in
  ``<task>/starts`` so a killed try reuses its finished classical run;
* ``al_explore`` one NPT trajectory of the primary model with the committee deviation
  evaluated in LAMMPS, halting on the variance threshold, bonds and density;
* ``al_select``  one frame per trajectory of a generation (:mod:`xfer.data.al_select`),
  tagged with generation, loop and provenance (:mod:`xfer.data.al_frames`);
* ``al_label``   labels them with the dataset's reference calculator through the resumable
  log ``<task>/labels.jsonl`` (a restart labels only missing frames) and writes the next
  generation's dataset: the previous one plus the new frames, none twice.
* ``al_gate``    (with ``[active_learning.stop]``) scores a generation's validation against
  the reference committee; when the targets are met its result carries ``stopped``, and
  every task downstream finishes as not needed (:mod:`xfer.workflow.worker`).

Results hold paths relative to the task directory, like every task's.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from xfer.atomic import write_json
from xfer.errors import InputError
from xfer.progress import report
from xfer.workflow.resources import md_run_resources
from xfer.workflow.task_io import adopt_unfinished_run, md_progress, pair_from_result, rel

AL_KINDS = ("al_starts", "al_explore", "al_select", "al_label", "al_gate")
STARTS_DIR = "starts"


def work_al_starts(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """Seeded OPLS-AA start boxes of one composition."""
    from xfer.data.al_starts import StartSettings, starting_frames

    report("al_starts", detail=f"OPLS-AA NPT of {spec['mix']}")
    frames = starting_frames(
        spec["mix"], spec["count"], task_dir / STARTS_DIR, StartSettings(**spec["settings"])
    )
    densities = ", ".join(f"{f.density_gcm3:.3f}" for f in frames)
    return {
        "starts": rel(task_dir / STARTS_DIR, task_dir),
        "frames": [f.data for f in frames],
        "composition": frames[0].composition,
        "note": f"{len(frames)} boxes, {densities} g/cm3",
    }


def explore_run_settings(spec: dict, deps: dict):
    """The :class:`xfer.md.MDSettings` of an exploration run, on the MPI ranks and threads
    the execution profile gives the task (:func:`xfer.workflow.resources.md_run_resources`)."""
    from xfer.backends.committee_pair import committee_spec
    from xfer.md import MDSettings
    from xfer.training import load_model

    names = sorted((k for k in deps if k.startswith("member")), key=lambda k: int(k[6:]))
    models = [load_model(Path(deps[k]["model"])) for k in names]
    starts = deps["starts"]
    return MDSettings(
        **spec["settings"],
        data=Path(starts["starts"]) / starts["frames"][spec["start"]],
        pair=pair_from_result(deps[names[0]]["pair"]),
        committee=committee_spec(models),
        **md_run_resources(),
    )


def work_al_explore(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """One exploration run: primary model drives, the committee's deviation can halt it."""
    from xfer.md import run_md

    starts = deps["starts"]
    settings = explore_run_settings(spec, deps)
    progress = md_progress("explore", settings.n_steps, settings.timestep_fs)
    adopt_unfinished_run(task_dir, attempt / "run")  # a killed try continues from its checkpoint
    result = run_md(settings, attempt / "run", progress=progress)
    largest = (result.get("committee") or {}).get("largest_max_devi_f")
    note = f"{result['t_stab_ps']:g} ps"
    if result["halted"]:
        note = f"halted ({result['halt_reason']}) at {note}"
    return {
        "run": rel(attempt / "run", task_dir),
        "start": f"{starts['composition']}/{starts['frames'][spec['start']]}",
        "composition": starts["composition"],
        "halted": result["halted"],
        "halt_reason": result["halt_reason"],
        "t_stab_ps": result["t_stab_ps"],
        "largest_max_devi_f": largest,
        "note": note + ("" if largest is None else f", max devi_f {largest:.3g} eV/A"),
    }


def work_al_select(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """The selected frame of every trajectory of one generation, tagged ``al``."""
    from xfer.data.al_frames import al_frame
    from xfer.data.al_select import picked_atoms, select_from_run
    from xfer.data.store import write_frames

    root = task_dir.parents[2]  # <out>/tasks/<kind>/<key>
    frames, rows = [], []
    for name in sorted(deps):
        run = Path(deps[name]["run"])
        pick, result = select_from_run(run, spec["max_force_variance"], spec["rule"])
        row = {"trajectory": os.path.relpath(run, root), "start": deps[name]["start"],
               "halt_reason": result["halt_reason"], "t_stab_ps": result["t_stab_ps"]}  # fmt: skip
        if pick is None:
            rows.append(row | {"selected": None, "reason": "no frame before the halt"})
            continue
        frame = al_frame(
            picked_atoms(run, pick), pick, spec["generation"], spec["arch"], spec["recipe"],
            row["trajectory"], start=row["start"], halt_reason=result["halt_reason"],
            t_stab_ps=result["t_stab_ps"],
        )  # fmt: skip
        frames.append(frame)
        rows.append(row | {"selected": frame.info["frame_id"], "step": pick.frame.step,
                           "source_file": pick.frame.source, "rule": pick.rule,
                           "max_force_variance": pick.variance})  # fmt: skip
    selected = None
    if frames:
        write_frames(attempt / "selected.extxyz", frames)
        selected = rel(attempt / "selected.extxyz", task_dir)
    write_json(attempt / "picks.json", rows)
    above = sum(1 for r in rows if r.get("rule") == "first_above")
    return {
        "selected": selected,
        "picks": rel(attempt / "picks.json", task_dir),
        "n_selected": len(frames),
        "n_trajectories": len(rows),
        "note": f"{len(frames)} frames of {len(rows)} trajectories ({above} above threshold)",
    }


def work_al_label(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """Label the selected frames and write the next generation's dataset."""
    from xfer.data.al_frames import dataset_reference, extend_dataset
    from xfer.data.labelling import label_frames
    from xfer.data.store import Dataset, read_frames

    base = Dataset.open(deps["dataset"]["dataset"])
    selected = deps["select"].get("selected")
    frames = read_frames(Path(selected)) if selected else []
    outcome = label_frames(
        frames,
        task_dir / "labels.jsonl",
        dataset_reference(base),
        workers=int(spec["workers"]),
        progress=False,
        desc="label al",
        scratch=task_dir / "scratch",
    )
    if frames and not outcome.labelled:
        reasons = "; ".join(f"{f['frame_id']}: {f['reason']}" for f in outcome.failed[:2])
        raise InputError(f"no selected frame could be labelled ({reasons})")
    dataset = extend_dataset(base, outcome.labelled, attempt / "dataset")
    return {
        "dataset": rel(attempt / "dataset", task_dir),
        "frames": int(dataset.manifest["total_frames"]),
        "added": len(outcome.labelled),
        "failed": outcome.failed,
        "note": f"+{len(outcome.labelled)} al frames ({len(outcome.failed)} failed labelling)",
    }


def _committee_runs(deps: dict, prefix: str, group: str):
    """ModelRuns of the ``<prefix>npt<k>`` / ``<prefix>nvt<k>`` analyses among ``deps``."""
    from xfer.analysis.quality import ModelRuns
    from xfer.analysis.results import RunAnalysis

    def analysis(name: str) -> RunAnalysis:
        return RunAnalysis.model_validate_json(Path(deps[name]["analysis"]).read_text())

    count = sum(1 for k in deps if k.startswith(f"{prefix}npt"))
    return [ModelRuns(name=f"{group}{k}", group=group, npt=analysis(f"{prefix}npt{k}"),
                      nvt=analysis(f"{prefix}nvt{k}")) for k in range(count)]  # fmt: skip


def work_al_gate(spec: dict, deps: dict, attempt: Path, task_dir: Path) -> dict:
    """Whether generation ``spec['generation']``'s committee meets the stop targets."""
    from xfer.analysis.quality import build_reference, score_models
    from xfer.analysis.settings import AnalysisSettings
    from xfer.workflow.al_schema import Stop

    settings = AnalysisSettings.model_validate(spec["analysis"])
    members = _committee_runs(deps, "", "loop")
    reference = build_reference(_committee_runs(deps, "ref_", "reference"), settings)
    scores = score_models(members, reference, settings)
    q = scores.committees["loop"].Q.mean
    stable = sum(1 for s in scores.models if s.stable_npt and s.stable_nvt)
    met = Stop.model_validate(spec["stop"]).met(q, stable == len(members))
    summary = f"Q {q:.3g}, {stable}/{len(members)} stable"
    result = {
        "Q": q if math.isfinite(q) else None,
        "n_stable": stable,
        "n_models": len(members),
        "target_met": met,
        "note": f"{summary}: " + ("target met, the loop stops" if met else "goes on"),
    }
    if met:
        result["stopped"] = {"generation": spec["generation"], "reason": summary}
    return result


AL_WORK = {
    "al_starts": work_al_starts,
    "al_explore": work_al_explore,
    "al_select": work_al_select,
    "al_label": work_al_label,
    "al_gate": work_al_gate,
}
