"""Density equilibration of the reference liquid at the study's conditions (issue 14 part 0).

OPLS-AA, 4 EC + 8 EMC (160 atoms) and 16 EC + 32 EMC (640 atoms), 500 K, 1 atm, NPT from
the packed 1.1 g/cm3 start, for several barostat damping times; plus NVT at 0.92 g/cm3
for the diffusivity. Per run: equilibration time (the cut that maximises the number of
uncorrelated samples, Chodera J. Chem. Theory Comput. 12, 1799 (2016)), mean, std,
statistical inefficiency and correlation time (xfer.analysis.blocking), the blocking
curve, the drift between the halves of the production part, and whether the liquid
evaporates (density below 0.4 g/cm3). D from NVT runs for several MSD block lengths.
Writes benchmarks/results/density_equilibration.{json,csv,png} (+ _blocking.csv, _D.csv).

    .venv/bin/python benchmarks/bench_density_equilibration.py [--jobs 2] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from xfer.analysis import AnalysisSettings, analyze_run
from xfer.analysis.blocking import (
    block_means,
    blocking_curve,
    detect_equilibration,
    statistical_inefficiency,
)
from xfer.analysis.density import histogram
from xfer.analysis.figures import save_figure
from xfer.analysis.kl import kl_divergence
from xfer.analysis.settings import DensityGrid
from xfer.atomic import write_json, write_text
from xfer.jsonfiles import read_json
from xfer.md import MDSettings, run_md

RESULTS = Path(__file__).resolve().parent / "results"
SMALL, LARGE = {"EC": 4, "EMC": 8}, {"EC": 16, "EMC": 32}


@dataclass(frozen=True)
class Case:
    """One OPLS-AA run of the benchmark."""

    name: str
    mix: dict[str, int]
    ensemble: str
    time_ps: float
    pdamp_fs: float = 1000.0
    seed: int = 1
    density: float = 1.1
    minimize_steps: int = 0

    def settings(self, timestep_fs: float) -> MDSettings:
        return MDSettings(
            potential="opls", mix=self.mix, density=self.density, ensemble=self.ensemble,
            temperature=500.0, pressure=1.0, time_ps=self.time_ps, timestep_fs=timestep_fs,
            pdamp_fs=self.pdamp_fs, seed=self.seed, thermo_every=10,
            minimize_steps=self.minimize_steps,
            dump_every=100 if self.ensemble == "nvt" else 10_000, checkpoint_every=20_000,
        )


CASES = [
    # from the packed box as it is (1.0e5 atm at step 0): the barostat kick
    Case("npt160_pdamp1000", SMALL, "npt", 60.0),
    Case("npt640_pdamp1000", LARGE, "npt", 15.0),
    Case("npt160_pdamp1000_start0.9", SMALL, "npt", 30.0, density=0.9),
    # after 200 conjugate-gradient steps on the packed box (3.7e3 atm at step 0)
    Case("npt160_pdamp1000_min200", SMALL, "npt", 20.0, minimize_steps=200),
    Case("nvt160_min200", SMALL, "nvt", 20.0, density=0.92, minimize_steps=200),
    Case("npt160_pdamp500_min200", SMALL, "npt", 20.0, pdamp_fs=500.0, minimize_steps=200),
    Case("npt160_pdamp250_min200", SMALL, "npt", 20.0, pdamp_fs=250.0, minimize_steps=200),
    Case("npt160_pdamp1000_min200_seed2", SMALL, "npt", 20.0, seed=2, minimize_steps=200),
    Case("npt160_pdamp2000_min200", SMALL, "npt", 20.0, pdamp_fs=2000.0, minimize_steps=200),
]


def _run(args: tuple[Case, float, Path]) -> str:
    case, timestep_fs, root = args
    os.nice(10)  # the priority of the other work on the shared machine
    result = run_md(case.settings(timestep_fs), root / case.name)
    return f"{case.name}: {result['t_stab_ps']:g} ps, halted={result['halted']}, " \
           f"wall {result['wall_s']:.0f} s"


WINDOWS_PS = (0.5, 1.0, 2.0, 5.0, 10.0)  # run lengths whose mean/P(rho) error is measured
GRID = DensityGrid(min=0.2, max=2.0, width=0.02)  # coarser than Q's: short windows
EVAPORATED = 0.4  # g/cm3: a 160-atom box below this has lost its liquid
D_BLOCKS_PS = (1.0, 2.0, 5.0, 10.0)  # MSD block lengths tried on the NVT runs


def _thermo(run_dir: Path) -> dict[str, np.ndarray]:
    data = np.genfromtxt(run_dir / "thermo.csv", delimiter=",", names=True)
    return {name: np.asarray(data[name]) for name in data.dtype.names}


def npt_statistics(run_dir: Path) -> dict:
    """Equilibration, fluctuation, correlation and run-length errors of one NPT density."""
    th = _thermo(run_dir)
    t, rho = th["time_ps"], th["density"]
    dt = float(t[1] - t[0])
    eq = detect_equilibration(rho)
    prod = rho[eq.t0 :]
    g = statistical_inefficiency(prod)
    levels = blocking_curve(prod, min_blocks=8)
    half = len(prod) // 2
    halves = [prod[:half], prod[half:]]
    sem_half = [h.std(ddof=1) * np.sqrt(statistical_inefficiency(h) / len(h)) for h in halves]
    p_all, _ = histogram(prod, GRID)
    windows = []
    for length in WINDOWS_PS:
        size = int(round(length / dt))
        if len(prod) < 2 * size:
            continue
        means = block_means(prod, size)
        kls = [kl_divergence(histogram(prod[k * size : (k + 1) * size], GRID)[0], p_all)
               for k in range(len(means))]
        windows.append({"window_ps": length, "n_windows": len(means),
                        "std_of_means": float(means.std(ddof=1)),
                        "mean_kl_to_whole": float(np.mean(kls))})
    path = run_dir / "result.json"
    result = read_json(path, "rerun the benchmark") if path.exists() else None
    return {
        "complete": result is not None, "halted": bool(result and result["halted"]),
        "time_ps": float(t[-1]), "sample_dt_ps": dt,
        "start_density": float(rho[0]), "min_density": float(rho.min()),
        "max_density": float(rho.max()), "evaporated": bool(rho.min() < EVAPORATED),
        "equilibration_ps": float(t[eq.t0] - t[0]),
        "first_below_production_mean_ps": float(t[np.argmax(rho <= prod.mean())] - t[0]),
        "mean": float(prod.mean()), "std": float(prod.std(ddof=1)),
        "statistical_inefficiency": g, "correlation_time_ps": (g - 1.0) / 2.0 * dt,
        "n_independent": len(prod) / g,
        "sem": float(prod.std(ddof=1) * np.sqrt(g / len(prod))),
        "sem_blocking": max(lv.sem for lv in levels),
        "half_means": [float(h.mean()) for h in halves],
        "half_drift_in_sem": float(abs(halves[1].mean() - halves[0].mean())
                                   / np.hypot(*sem_half)),
        "blocking": [{"block_ps": lv.block_size * dt, **asdict(lv)} for lv in levels],
        "windows": windows,
        "wall_s": result["wall_s"] if result else None,
    }


def nvt_statistics(run_dir: Path) -> list[dict]:
    """COM diffusivity for several MSD block lengths (cut 2 ps, ballistic 10% of a block)."""
    rows = []
    for block in D_BLOCKS_PS:
        for origins in ("block_start", "all"):
            settings = AnalysisSettings(
                full_length_ps=100.0, equilibration_ps=2.0, block_ps=block,
                block_spacing_ps=0.5, ballistic_ps=0.1 * block, msd_origins=origins,
            )
            diff = analyze_run(run_dir, settings).diffusion
            if diff is None or diff.D_cm2_s is None:
                continue
            rows.append({"block_ps": block, "msd_origins": origins, "n_blocks": diff.n_blocks,
                         "D_cm2_s": diff.D_cm2_s, "sem_cm2_s": diff.sem_cm2_s,
                         **{f"D_{n}_cm2_s": s.D_cm2_s for n, s in diff.species.items()}})
    return rows


def _csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    keys = list(dict.fromkeys(k for row in rows for k in row))
    lines = [",".join(keys)] + [",".join(_fmt(row.get(k)) for k in keys) for row in rows]
    write_text(path, "\n".join(lines) + "\n")


def _fmt(value) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def series(root: Path, npt: dict[str, dict], every_ps: float = 0.1) -> list[dict]:
    """The density series of every NPT case every ``every_ps`` (the figure's top left)."""
    rows = []
    for name in npt:
        th = _thermo(root / name)
        stride = max(1, int(round(every_ps / (th["time_ps"][1] - th["time_ps"][0]))))
        rows += [{"case": name, "time_ps": float(t), "density": float(r)}
                 for t, r in zip(th["time_ps"][::stride], th["density"][::stride], strict=True)]
    return rows


def figure(target: Path, root: Path, npt: dict[str, dict], nvt: list[dict]) -> None:
    """Density vs time, blocking curves, run-length error and D vs MSD block length."""
    fig = Figure(figsize=(11, 8))
    ax = fig.subplots(2, 2)
    for name, stats in npt.items():
        th = _thermo(root / name)
        line, = ax[0, 0].plot(th["time_ps"], th["density"], lw=0.6, label=name)
        ax[0, 0].axvline(stats["equilibration_ps"], color=line.get_color(), ls=":", lw=1)
        b = stats["blocking"]
        ax[0, 1].errorbar([r["block_ps"] for r in b], [r["sem"] for r in b],
                          [r["sem_error"] for r in b], marker="o", ms=3, label=name)
        w = stats["windows"]
        ax[1, 0].plot([r["window_ps"] for r in w], [r["std_of_means"] for r in w], "o-",
                      label=name)
    ax[0, 0].set(xlabel="t (ps)", ylabel="density (g/cm3)", xlim=(0, 20),
                 title="OPLS-AA NPT 500 K, 1 atm from 1.1 g/cm3 (dotted: cut)")
    ax[0, 0].legend(fontsize=7)
    ax[0, 1].set(xscale="log", xlabel="block length (ps)", ylabel="SEM of mean density",
                 title="blocking (production part)")
    ax[1, 0].set(xscale="log", yscale="log", xlabel="run length after the cut (ps)",
                 ylabel="std of window means (g/cm3)",
                 title="error of the mean density of one run")
    for origins, marker in (("block_start", "o"), ("all", "s")):
        rows = [r for r in nvt if r["msd_origins"] == origins]
        ax[1, 1].errorbar([r["block_ps"] for r in rows], [1e5 * r["D_cm2_s"] for r in rows],
                          [1e5 * (r["sem_cm2_s"] or 0) for r in rows], marker=marker,
                          label=f"origins: {origins}")
    ax[1, 1].set(xscale="log", xlabel="MSD block length (ps)", ylabel="D (1e-5 cm2/s)",
                 title="OPLS-AA NVT 0.92 g/cm3, 160 atoms")
    ax[1, 1].legend(fontsize=7)
    save_figure(fig, target)


def analyse(root: Path, cases: list[Case], out: Path) -> dict:
    """Statistics of every case found under ``root``; JSON, CSVs and the PNG under ``out``."""
    npt = {c.name: npt_statistics(root / c.name) for c in cases
           if c.ensemble == "npt" and (root / c.name / "thermo.csv").exists()}
    nvt = [row for c in cases if c.ensemble == "nvt" and (root / c.name / "result.json").exists()
           for row in nvt_statistics(root / c.name)]
    load = os.getloadavg()
    report = {
        "conditions": "OPLS-AA, 500 K, 1 atm (NPT) / 0.92 g/cm3 (NVT), packed at 1.1 g/cm3",
        "cases": {c.name: asdict(c) for c in cases},
        "npt": npt, "nvt_diffusion": nvt,
        "load_average_at_analysis": [round(x, 2) for x in load],
        "note": "wall times are on a shared 2-core machine (see load); compare ratios only",
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "density_equilibration.json", report)
    summary = [{"case": name, **{k: v for k, v in s.items() if k not in ("blocking", "windows",
                                                                        "half_means")}}
               for name, s in npt.items()]
    _csv(out / "density_equilibration.csv", summary)
    _csv(out / "density_equilibration_windows.csv",
         [{"case": n, **w} for n, s in npt.items() for w in s["windows"]])
    _csv(out / "density_equilibration_blocking.csv",
         [{"case": n, **b} for n, s in npt.items() for b in s["blocking"]])
    _csv(out / "density_equilibration_D.csv", nvt)
    _csv(out / "density_equilibration_series.csv", series(root, npt))
    figure(out / "density_equilibration.png", root, npt, nvt)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-root", type=Path, default=Path("runs/bench-density-equilibration"))
    parser.add_argument("--timestep-fs", type=float, default=1.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="case names to run (default: all)")
    parser.add_argument("--no-run", action="store_true", help="analyse existing runs only")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cases = [c for c in CASES if not args.only or c.name in args.only]
    if not args.no_run:
        with ProcessPoolExecutor(args.jobs) as pool:
            for line in pool.map(_run, [(c, args.timestep_fs, args.run_root) for c in cases]):
                print(line, flush=True)
    report = analyse(args.run_root, cases, args.out)
    for name, st in report["npt"].items():
        print(f"{name}: {st['time_ps']:.0f} ps, cut {st['equilibration_ps']:.1f} ps, "
              f"rho {st['mean']:.3f} +- {st['sem']:.3f} (std {st['std']:.3f}), "
              f"tau {st['correlation_time_ps']:.2f} ps, min {st['min_density']:.2f}")


if __name__ == "__main__":
    main()
