"""Analyze run directories and score models: what ``xfer analyze`` and ``xfer score`` do.

``analyze_run`` turns one run directory into a :class:`RunAnalysis` (stability always;
density for NPT, COM diffusion for NVT) and ``write_run_outputs`` stores analysis.json
plus figures and CSV in the run directory. ``load_models`` finds the NPT and NVT run of
each model directory; the group of a model (its committee, e.g. ``mace/OPLS``) is its
parent directory relative to the common ancestor of all model directories.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xfer.analysis import figures
from xfer.analysis.density import density_distribution, grid_edges
from xfer.analysis.diffusion import diffusion
from xfer.analysis.dump import read_dump
from xfer.analysis.quality import ModelRuns, ScoreReport
from xfer.analysis.results import DensityResult, DiffusionResult, NotComputable, RunAnalysis
from xfer.analysis.rundir import RunDir, load_run
from xfer.analysis.settings import AnalysisSettings, DensityGrid
from xfer.analysis.stability import stability
from xfer.analysis.universe import load_system
from xfer.atomic import write_json, write_text
from xfer.errors import InputError

ANALYSIS_FILE = "analysis.json"


def analyze_run(path: str | Path, settings: AnalysisSettings) -> RunAnalysis:
    """Stability plus density (NPT) or COM diffusivity (NVT) of one run directory."""
    run = load_run(path)
    notes: list[str] = []
    density = diffusion_result = None
    if run.result.ensemble == "npt":
        density = _density(run, settings)
    else:
        diffusion_result = _diffusion(run, settings, notes)
    return RunAnalysis(
        run_dir=str(run.path),
        ensemble=run.result.ensemble,
        temperature_K=run.result.temperature_K,
        mix=run.result.mix,
        settings=settings.model_dump(),
        inputs=run.input_fingerprint(),
        stability=stability(run.result, settings.full_length_ps),
        density=density,
        diffusion=diffusion_result,
        notes=notes,
    )


def _density(run: RunDir, settings: AnalysisSettings) -> DensityResult:
    thermo = run.thermo
    every = getattr(run.result, "thermo_every", None)  # an extra field of result.json
    _check_complete(run, "thermo.csv", len(thermo["step"]), every)
    try:
        return density_distribution(thermo["time_ps"], thermo["density"], settings)
    except NotComputable as exc:
        g = settings.density_grid
        return DensityResult(grid_min=g.min, grid_max=g.max, grid_width=g.width, reason=str(exc))


def _diffusion(run: RunDir, settings: AnalysisSettings, notes: list[str]) -> DiffusionResult:
    traj = read_dump(run.dump_path)
    cut = " complete frames and a cut-off frame" if traj.dropped_partial_frame else " frames"
    _check_complete(run, "traj.dump", traj.n_frames, run.result.dump_every, cut)
    if traj.dropped_partial_frame:
        notes.append("the last, incomplete trajectory frame was ignored")
    system = load_system(run.data_path, traj, run.result.timestep_fs, run.result.mix)
    try:
        return diffusion(system, settings)
    except NotComputable as exc:
        return DiffusionResult(reason=str(exc))


def _check_complete(
    run: RunDir, name: str, found: int, every: int | None, what: str = " rows"
) -> None:
    """A finished run's file must hold every row/frame result.json implies (step 0 included).

    A run stopped by a LAMMPS error (lost atoms, NaN) may lack the output of its last step.
    """
    if not every:
        return
    expected = run.result.n_steps_done // every + 1
    if found < expected - (1 if run.result.halted else 0):
        raise InputError(
            f"{run.path / name} is truncated: {found}{what}, but result.json reports "
            f"{run.result.n_steps_done} steps with one every {every} ({expected}); "
            "rerun the simulation (xfer md ... --force)"
        )


def load_or_analyze(path: str | Path, settings: AnalysisSettings) -> RunAnalysis:
    """The run's analysis.json if it used these settings on unchanged inputs, else analyze."""
    path = Path(path)
    cached = path / ANALYSIS_FILE
    if cached.is_file():
        try:
            previous = RunAnalysis.model_validate_json(cached.read_text())
        except ValueError:
            previous = None
        if (
            previous is not None
            and previous.settings == settings.model_dump()
            and previous.inputs == load_run(path).input_fingerprint()
        ):
            return previous
    analysis = analyze_run(path, settings)
    write_run_outputs(path, analysis)
    return analysis


def write_run_outputs(path: str | Path, analysis: RunAnalysis) -> list[Path]:
    """analysis.json, plus density or MSD numbers (CSV) and figure (PNG), atomically."""
    path = Path(path)
    written = [path / ANALYSIS_FILE]
    write_json(written[0], analysis.model_dump(mode="json"))
    dens, diff = analysis.density, analysis.diffusion
    if dens is not None and dens.histogram is not None:
        edges = grid_edges_of(dens)
        rows = [
            (f"{lo:.6g}", f"{hi:.6g}", f"{p:.8g}")
            for lo, hi, p in zip(edges[:-1], edges[1:], dens.histogram, strict=True)
        ]
        written.append(_write_csv(path / "density_hist.csv", ("rho_lo", "rho_hi", "p"), rows))
        written.append(figures.density_histogram(path / "density_hist.png", analysis))
    if diff is not None and diff.species:
        names = list(diff.species)
        rows = [
            (f"{lag:.6g}", *(f"{diff.species[n].msd_A2[i]:.8g}" for n in names))
            for i, lag in enumerate(diff.lag_ps)
        ]
        header = ("lag_ps", *(f"msd_{n}_A2" for n in names))
        written.append(_write_csv(path / "msd.csv", header, rows))
        written.append(figures.msd_curves(path / "msd.png", analysis))
    return written


def grid_edges_of(dens: DensityResult) -> np.ndarray:
    """Bin edges of the grid a density result was computed on."""
    return grid_edges(DensityGrid(min=dens.grid_min, max=dens.grid_max, width=dens.grid_width))


def _write_csv(target: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(target, buf.getvalue())
    return target


def _run_dirs(model_dir: Path) -> dict[str, Path]:
    """Ensemble -> run directory among the immediate subdirectories of ``model_dir``."""
    found: dict[str, Path] = {}
    for sub in sorted(p for p in model_dir.iterdir() if (p / "result.json").is_file()):
        ensemble = load_run(sub).result.ensemble
        if ensemble in found:
            raise InputError(
                f"{model_dir} holds two {ensemble.upper()} runs: {found[ensemble]}, {sub}"
            )
        found[ensemble] = sub
    for ensemble in ("npt", "nvt"):
        if ensemble not in found:
            raise InputError(
                f"model directory {model_dir} has no {ensemble.upper()} run "
                "(a subdirectory with result.json)"
            )
    return found


def load_models(model_dirs: Sequence[str | Path], settings: AnalysisSettings) -> list[ModelRuns]:
    """Analyzed NPT+NVT runs of every model directory, grouped by parent directory."""
    dirs = [Path(d).resolve() for d in model_dirs]
    for d in dirs:
        if not d.is_dir():
            raise InputError(f"{d} is not a directory")
    parents = [d.parent for d in dirs]
    root = Path(os.path.commonpath(parents)) if parents else Path()
    models = []
    for d in dirs:
        relative = str(d.parent.relative_to(root))
        group = relative if relative != "." else d.parent.name
        runs = _run_dirs(d)
        models.append(
            ModelRuns(
                name=f"{group}/{d.name}",
                group=group,
                npt=load_or_analyze(runs["npt"], settings),
                nvt=load_or_analyze(runs["nvt"], settings),
            )
        )
    return models


def write_score_outputs(
    out: str | Path, report: ScoreReport, models: Sequence[ModelRuns]
) -> list[Path]:
    """score.json, score.csv (per model), committees.csv and the figures into ``out``."""
    out = Path(out)
    written = [out / "score.json"]
    write_json(written[0], report.model_dump(mode="json"))
    header = (
        "model",
        "group",
        "Q",
        "stability_term",
        "density_term",
        "diffusion_term",
        "t_stab_npt_ps",
        "t_stab_nvt_ps",
        "density_mean",
        "D_cm2_s",
        "kl_to_reference",
        "reasons",
    )
    rows = [
        (
            s.name,
            s.group,
            _fmt(s.q.total),
            _fmt(s.q.stability),
            _fmt(s.q.density),
            _fmt(s.q.diffusion),
            _fmt(s.t_stab_npt_ps),
            _fmt(s.t_stab_nvt_ps),
            _fmt(s.density_mean),
            _fmt(s.D_cm2_s),
            _fmt(s.q.kl_to_reference),
            "; ".join(f"{k}: {v}" for k, v in s.q.reasons.items()),
        )
        for s in report.models
    ]
    written.append(_write_csv(out / "score.csv", header, rows))
    quantities = (
        "Q",
        "stability_term",
        "density_term",
        "diffusion_term",
        "t_stab_npt_ps",
        "t_stab_nvt_ps",
        "density",
        "D_cm2_s",
    )
    header = ("group", *(f"{q}_{part}" for q in quantities for part in ("mean", "sem", "n")))
    rows = []
    for group, c in report.committees.items():
        row = [group]
        for q in quantities:
            e = getattr(c, q)
            row += [_fmt(e.mean), _fmt(e.sem), str(e.n)]
        rows.append(row)
    written.append(_write_csv(out / "committees.csv", header, rows))
    written.append(figures.committee_bars(out / "committees.png", report))
    written.append(figures.density_comparison(out / "density_vs_reference.png", report, models))
    return written


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"
