"""Benchmark: cost of the in-LAMMPS committee deviation, per architecture and system size.

For each committee root given (4 seed directories; seed 0 drives) and each box size, runs
the standard ``xfer md`` input (NVT 100 K, in this process, bond halt at 1000 A) with the
driving model alone and with the whole committee checked every 1, 10 and 100 steps, all in
one invocation under the same machine load (results of other architectures or sizes
already in the file are kept). Each variant is timed over N steps inside one LAMMPS
instance after a warm-up of two deviation intervals (model loading and TorchScript warm-up
excluded; DeePMD's run chunks and their set-ups counted). Reported as ratios to the
driving model alone, and the every-step committee against N separate models (N x the
driving model alone).
Result: benchmarks/results/committee.json.

    .venv/bin/xfer train --arch mace --recipe b --train t.xyz --seeds 0-3 --preset tiny --out m
    .venv/bin/python benchmarks/bench_committee.py --committee m/mace/b [--committee ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import tempfile
import time
from pathlib import Path

import xfer
from xfer.atomic import write_json
from xfer.backends.committee_pair import committee_spec
from xfer.chem.molecules import parse_mix
from xfer.lammps.runner import LammpsRun
from xfer.md import MDSettings, prepare_run
from xfer.training import export_model, load_committee

RESULTS = Path(__file__).resolve().parent / "results"
MIXES = {160: "EC:4,EMC:8", 640: "EC:16,EMC:32"}
TIMESTEP_FS = 0.25


def seconds_per_step(settings: MDSettings, workdir: Path, steps: int) -> dict:
    """Time per step of ``steps`` steps timed inside one LAMMPS instance after a warm-up
    that covers two deviation steps (model loading and TorchScript warm-up excluded)."""
    every = settings.deviation_interval if settings.committee else 1
    warm = 2 * every + 2
    prepared = prepare_run(settings.model_copy(update={"time_ps": warm * TIMESTEP_FS / 1e3}),
                           workdir)  # fmt: skip
    committee = prepared["committee"]
    chunked = committee is not None and not committee.engine
    with contextlib.chdir(workdir):
        runner = LammpsRun(plugins_needed=[settings.pair.plugin] if settings.pair else [])
        lmp = runner.lmp
        lmp.file("in.lammps")  # runs the warm-up steps (engine) or only sets up (chunked)
        if chunked:
            committee.run_chunks(lmp, warm)
        start = time.perf_counter()
        if chunked:
            committee.run_chunks(lmp, warm + steps)
        else:
            lmp.command(f"run {steps}")
        elapsed = time.perf_counter() - start
        done = int(lmp.extract_global("ntimestep")) - warm
        lmp.close()
    return {"steps": done, "warmup_steps": warm, "s_per_step": elapsed / done}


def bench_committee(root: Path, size: int, steps: int, everies: list[int], work: Path) -> dict:
    """Driving model alone and the committee at each interval, one box size."""
    members = load_committee(root)
    _, single = export_model(members[0].path)
    spec = committee_spec(members)
    base = MDSettings(
        potential="ml", pair=single, mix=parse_mix(MIXES[size]), density=1.0, ensemble="nvt",
        temperature=100.0, timestep_fs=TIMESTEP_FS, bond_stretch_max=1000.0, dump_every=100,
    )  # fmt: skip
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
    out = RESULTS / "committee.json"
    old = json.loads(out.read_text())["results"] if out.exists() else []
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for root in args.committee:
            for size in sizes:
                record = bench_committee(root, size, args.steps, everies, Path(tmp) / "w")
                record["steps_per_run"] = args.steps
                record["measured"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                records.append(record)
                print(json.dumps({"arch": record["arch"], "n_atoms": size, **{
                    e: round(t["ratio_to_single"], 3) for e, t in record["committee"].items()}}))
    measured = {(r["arch"], r["n_atoms"]) for r in records}
    records += [r for r in old if (r["arch"], r["n_atoms"]) not in measured]
    records.sort(key=lambda r: (r["arch"], r["n_atoms"]))
    write_json(out, {
        "benchmark": "committee deviation cost: s/step vs the driving model alone",
        "targets": {"every_10_ratio_to_single": 1.5, "every_1_ratio_to_separate_models": 1.1},
        "timestep_fs": TIMESTEP_FS,
        "note": "tiny test-scale models, NVT 100 K; bond halt off (1000 A) so that no run "
                "stops early; one thread, 2 shared cores",
        "results": records,
        "build": {"threads": 1, "nprocs": 1, "device": "cpu", "machine": platform.machine(),
                  "xfer": xfer.__version__},
    })  # fmt: skip


if __name__ == "__main__":
    main()
