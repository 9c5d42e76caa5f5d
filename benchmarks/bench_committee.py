"""Benchmark: cost of the in-LAMMPS committee deviation, per architecture and system size.

For each committee root given (4 seed directories; seed 0 drives) and each box size, runs
the standard ``xfer md`` input (NVT 100 K, in this process, bond halt at 1000 A) with the
driving model alone and with the whole committee checked every 1, 10 and 100 steps, all in
one invocation under the same machine load (results of other architectures or sizes
already in the file are kept). Every variant lives in its own LAMMPS instance
(model loading and a warm-up of two deviation intervals excluded); blocks of N steps are
timed round-robin over the variants, and the fastest block of each counts (DeePMD's run
chunks and their set-ups are inside the blocks). Reported as ratios to the driving model
alone, and the every-step committee against N separate models (N x the driving model).
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


class Variant:
    """One LAMMPS instance running one variant (driving model alone, or the committee)."""

    def __init__(self, settings: MDSettings, workdir: Path) -> None:
        every = settings.deviation_interval if settings.committee else 1
        self.warm = 2 * every + 2  # two deviation steps: TorchScript warm-up of every member
        self.workdir = workdir
        prepared = prepare_run(
            settings.model_copy(update={"time_ps": self.warm * TIMESTEP_FS / 1e3}), workdir)
        self.committee = prepared["committee"]
        self.chunked = self.committee is not None and not self.committee.engine
        self.blocks: list[float] = []
        with contextlib.chdir(workdir):
            self.lmp = LammpsRun(plugins_needed=[settings.pair.plugin]).lmp
            self.lmp.file("in.lammps")  # runs the warm-up (engine) or only sets up (chunked)
            if self.chunked:
                self.committee.run_chunks(self.lmp, self.warm)

    def time_block(self, steps: int) -> None:
        with contextlib.chdir(self.workdir):
            start = time.perf_counter()
            if self.chunked:
                self.committee.run_chunks(self.lmp, self.warm + (len(self.blocks) + 1) * steps)
            else:
                self.lmp.command(f"run {steps}")
            self.blocks.append((time.perf_counter() - start) / steps)

    def result(self, steps: int) -> dict:
        done = int(self.lmp.extract_global("ntimestep")) - self.warm
        self.lmp.close()
        if done != len(self.blocks) * steps:
            raise SystemExit(f"a timed run stopped early ({done} of {len(self.blocks) * steps})")
        return {"steps": steps, "warmup_steps": self.warm, "s_per_step": min(self.blocks),
                "s_per_step_blocks": self.blocks}  # fmt: skip


def bench_committee(root: Path, size: int, steps: int, repeats: int, everies: list[int],
                    work: Path) -> dict:
    """Driving model alone and the committee at each interval, one box size; the variants'
    blocks are interleaved so that changing machine load hits them alike."""
    members = load_committee(root)
    _, single = export_model(members[0].path)
    spec = committee_spec(members)
    base = MDSettings(
        potential="ml", pair=single, mix=parse_mix(MIXES[size]), density=1.0, ensemble="nvt",
        temperature=100.0, timestep_fs=TIMESTEP_FS, bond_stretch_max=1000.0, dump_every=100,
    )  # fmt: skip
    variants = {"single": Variant(base, work / "single")}
    for every in everies:
        variant = base.model_copy(update={"committee": spec, "deviation_every": every})
        variants[str(every)] = Variant(variant, work / f"every{every}")
    for _ in range(repeats):
        for variant in variants.values():
            variant.time_block(steps)
    timings = {name: v.result(steps) for name, v in variants.items()}
    alone = timings.pop("single")
    for timing in timings.values():
        timing["ratio_to_single"] = timing["s_per_step"] / alone["s_per_step"]
        timing["ratio_to_separate_models"] = timing["s_per_step"] / (
            len(members) * alone["s_per_step"])
    return {"arch": members[0].arch, "n_atoms": size, "n_members": len(members),
            "single": alone, "committee": timings}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--committee", type=Path, action="append", required=True,
                        help="committee root (seed dirs; repeat for several architectures)")
    parser.add_argument("--sizes", default="160,640", help="box sizes (160 and/or 640 atoms)")
    parser.add_argument("--steps", type=int, default=100, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks (fastest kept)")
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
                record = bench_committee(root, size, args.steps, args.repeats, everies,
                                         Path(tmp) / "w")
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
