"""Benchmark: cost of the in-LAMMPS committee deviation, per architecture and system size.

For each committee root given (4 seed directories; seed 0 drives) and each box size, runs
the standard ``xfer md`` input (NVT, halts active, in this process) with the driving model
alone and with the whole committee checked every 1, 10 and 100 steps, all in one
invocation under the same machine load. The time per step of a variant is
``(wall(N steps) - wall(1 step)) / (N - 1)``, so model loading and set-up cancel while
DeePMD's run chunks stay counted. Reported as ratios to the driving model alone, and the
every-step committee against N separate models (N x the driving model alone).
Result: benchmarks/results/committee.json.

    .venv/bin/xfer train --arch mace --recipe b --train t.xyz --seeds 0-3 --preset tiny --out m
    .venv/bin/python benchmarks/bench_committee.py --committee m/mace/b [--committee ...]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import xfer
from xfer.atomic import write_json
from xfer.backends.committee_pair import committee_spec
from xfer.chem.molecules import parse_mix
from xfer.md import MDSettings, run_md
from xfer.training import export_model, load_committee

RESULTS = Path(__file__).resolve().parent / "results"
MIXES = {160: "EC:4,EMC:8", 640: "EC:16,EMC:32"}
TIMESTEP_FS = 0.5


def wall(settings: MDSettings, workdir: Path, steps: int) -> tuple[float, int]:
    """Wall time of one in-process run of ``steps`` steps, and the steps it did."""
    run = settings.model_copy(update={"time_ps": steps * TIMESTEP_FS / 1000.0})
    start = time.perf_counter()
    result = run_md(run, workdir, force=True)
    return time.perf_counter() - start, result["n_steps_done"]


def seconds_per_step(settings: MDSettings, workdir: Path, steps: int) -> dict:
    short, _ = wall(settings, workdir, 1)
    long, done = wall(settings, workdir, steps)
    return {"steps": done, "s_per_step": (long - short) / max(done - 1, 1)}


def bench_committee(root: Path, size: int, steps: int, everies: list[int], work: Path) -> dict:
    """Driving model alone and the committee at each interval, one box size."""
    members = load_committee(root)
    _, single = export_model(members[0].path)
    spec = committee_spec(members)
    base = MDSettings(
        potential="ml", pair=single, mix=parse_mix(MIXES[size]), density=1.0, ensemble="nvt",
        temperature=300.0, timestep_fs=TIMESTEP_FS, bond_stretch_max=5.0, dump_every=100,
    )  # fmt: skip
    committee = base.model_copy(update={"committee": spec, "deviation_every": everies[0]})
    wall(committee, work / "warmup", 1)  # loads every member once (QUIP keeps them)
    alone = seconds_per_step(base, work / "single", steps)
    record = {"arch": members[0].arch, "n_atoms": size, "n_members": len(members),
              "single": alone, "committee": {}}  # fmt: skip
    for every in everies:
        variant = base.model_copy(update={"committee": spec, "deviation_every": every})
        timing = seconds_per_step(variant, work / f"every{every}", steps)
        timing["ratio_to_single"] = timing["s_per_step"] / alone["s_per_step"]
        timing["ratio_to_separate_models"] = timing["s_per_step"] / (
            len(members) * alone["s_per_step"])
        record["committee"][str(every)] = timing
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--committee", type=Path, action="append", required=True,
                        help="committee root (seed dirs; repeat for several architectures)")
    parser.add_argument("--sizes", default="160,640", help="box sizes (160 and/or 640 atoms)")
    parser.add_argument("--steps", type=int, default=100, help="steps per timed run")
    parser.add_argument("--every", default="1,10,100", help="deviation intervals")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    everies = [int(e) for e in args.every.split(",")]
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for root in args.committee:
            for size in sizes:
                record = bench_committee(root, size, args.steps, everies, Path(tmp) / "w")
                records.append(record)
                print(json.dumps({"arch": record["arch"], "n_atoms": size, **{
                    e: round(t["ratio_to_single"], 3) for e, t in record["committee"].items()}}))
    write_json(RESULTS / "committee.json", {
        "benchmark": "committee deviation cost: s/step vs the driving model alone",
        "targets": {"every_10_ratio_to_single": 1.5, "every_1_ratio_to_separate_models": 1.1},
        "timestep_fs": TIMESTEP_FS, "steps_per_run": args.steps,
        "results": records,
        "build": {"threads": 1, "nprocs": 1, "device": "cpu", "machine": platform.machine(),
                  "xfer": xfer.__version__},
    })  # fmt: skip


if __name__ == "__main__":
    main()
