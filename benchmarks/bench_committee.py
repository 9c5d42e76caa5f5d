"""Benchmark: cost of the in-LAMMPS committee deviation, per architecture and system size.

For each architecture (mace, deepmd, gap) it takes a 4-member committee — by default the
tiny preset trained on examples/dataset-small.toml for seeds 0-3 from xfer's tiny-model
cache (built if missing: xfer.workflow.tiny_models), or ``--committee ROOT`` per
architecture — and runs the standard ``xfer md`` input (NVT, or with ``--ensemble npt``
NPT at 1 atm, the ensemble of active-learning explorations; 100 K, bond halt at 1000 A,
an uncertainty threshold of 1e6 eV/A so the halt machinery is active but never fires)
with the driving model alone and with the committee checked every 1, 10 and 100 steps,
at 160 and 640 atoms. Every variant is its own process (QUIP keeps one potential per
process, so GAP variants cannot share one), set up and warmed up (two deviation
intervals) before timing; blocks of N steps are then timed round-robin over the
variants, and the fastest block of each counts, so changing machine load hits every
variant alike. For DeePMD a further variant, the driving model alone with per-atom
energy and virial requested every step, measures what deepmd-kit's committee step costs
per model (its model-deviation step always computes per-atom energies and virials).

Reported as ratios to the driving model alone, and the every-step committee against N
separate models (N x the driving model). A deviation step needs every member's virial (the
``*_devi_v`` columns); a lone NVT model computes its virial only on thermo steps, a lone NPT
model on every step (the barostat needs the pressure), so NVT is the stricter comparison.
Ratios come from wall time and (``cpu_`` keys) from the variant process's CPU time, which
time-sharing with other processes does not inflate; the machine's load average is recorded.
Result: benchmarks/results/committee.json.

    .venv/bin/python benchmarks/bench_committee.py [--arch deepmd] [--sizes 160,640]
        [--committee deepmd=ROOT] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import subprocess
import sys
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
N_MEMBERS = 4
NEVER = 1e6  # eV/A: an uncertainty threshold that keeps the halt checks but never fires
# --quick: the same networks trained briefly (the cost of an evaluation does not depend on
# how long a model was trained, only on its architecture)
QUICK = {"mace": {"max_num_epochs": 2}, "deepmd": {"numb_steps": 300}, "gap": {}}
# per-atom energy and virial every step, what deepmd's model-deviation step computes
ATOMIC_COMMANDS = ("compute bench_pa all pe/atom", "compute bench_sa all centroid/stress/atom NULL",
                   "fix bench_aa all ave/atom 1 1 1 c_bench_pa c_bench_sa[1]")  # fmt: skip
TAG = "XFERBENCH "  # prefix of the worker's protocol lines (libraries print to stdout too)


class Variant:
    """One LAMMPS instance running one variant (driving model alone, or the committee)."""

    def __init__(self, settings: MDSettings, workdir: Path, atomic: bool) -> None:
        every = settings.deviation_interval if settings.committee else 1
        self.warm = 2 * every + 2  # two deviation steps: TorchScript warm-up of every member
        self.workdir = workdir
        prepared = prepare_run(
            settings.model_copy(update={"time_ps": self.warm * TIMESTEP_FS / 1e3}), workdir
        )
        self.committee = prepared["committee"]
        self.chunked = self.committee is not None and not self.committee.engine
        self.blocks: list[float] = []
        self.cpu_share: list[float] = []  # process CPU time / wall time of each block
        self.cpu_blocks: list[float] = []  # process CPU s/step of each block
        with contextlib.chdir(workdir):
            self.lmp = LammpsRun(plugins_needed=[settings.pair.plugin]).lmp
            self.lmp.file("in.lammps")  # runs the warm-up (engine) or only sets up (chunked)
            if self.chunked:
                self.committee.run_chunks(self.lmp, self.warm)
            for command in ATOMIC_COMMANDS if atomic else ():
                self.lmp.command(command)

    def time_block(self, steps: int) -> float:
        with contextlib.chdir(self.workdir):
            start, cpu = time.perf_counter(), time.process_time()
            if self.chunked:
                self.committee.run_chunks(self.lmp, self.warm + (len(self.blocks) + 1) * steps)
            else:
                self.lmp.command(f"run {steps}")
            wall = time.perf_counter() - start
            cpu = time.process_time() - cpu
            self.blocks.append(wall / steps)
            self.cpu_blocks.append(cpu / steps)
            self.cpu_share.append(cpu / wall)
        return self.blocks[-1]

    def result(self, steps: int) -> dict:
        done = int(self.lmp.extract_global("ntimestep")) - self.warm
        self.lmp.close()
        if done != len(self.blocks) * steps:
            raise SystemExit(f"a timed run stopped early ({done} of {len(self.blocks) * steps})")
        return {"steps": steps, "warmup_steps": self.warm, "s_per_step": min(self.blocks),
                "s_per_step_blocks": self.blocks, "cpu_s_per_step": min(self.cpu_blocks),
                "cpu_s_per_step_blocks": self.cpu_blocks,
                "cpu_share_blocks": self.cpu_share}  # fmt: skip


def worker(request: Path) -> None:
    """A variant's process: set up, say ready, then time one block per ``block`` line."""
    spec = json.loads(request.read_text())
    settings = MDSettings.model_validate(spec["settings"])
    variant = Variant(settings, Path(spec["workdir"]), spec["atomic"])
    print(TAG + "ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "block":
            print(TAG + str(variant.time_block(spec["steps"])), flush=True)
        else:
            print(TAG + json.dumps(variant.result(spec["steps"])), flush=True)
            return


class Process:
    """The parent's handle on one variant's worker process."""

    def __init__(self, settings: MDSettings, workdir: Path, steps: int, atomic: bool) -> None:
        workdir.mkdir(parents=True)
        request = workdir.with_suffix(".json")
        request.write_text(json.dumps({"settings": json.loads(settings.model_dump_json()),
                                       "workdir": str(workdir), "steps": steps,
                                       "atomic": atomic}))  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(request)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def finish(self) -> dict:
        """The variant's timings; its process has exited."""
        timing = json.loads(self.ask("done"))
        self.proc.wait()
        return timing

    def ask(self, line: str | None = None) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if line is not None:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        for out in self.proc.stdout:
            if out.startswith(TAG):
                return out[len(TAG) :].strip()
        raise SystemExit(f"a benchmark worker died (exit {self.proc.wait()})")


def bench_committee(
    root: Path, size: int, ensemble: str, steps: int, repeats: int, everies: list[int],
    work: Path,
) -> dict:  # fmt: skip
    """Driving model alone and the committee at each interval, one box size; the variants'
    blocks are interleaved so that changing machine load hits them alike."""
    members = load_committee(root)[:N_MEMBERS]
    _, single = export_model(members[0].path)
    spec = committee_spec(members)
    base = MDSettings(
        potential="ml", pair=single, mix=parse_mix(MIXES[size]), density=1.0, ensemble=ensemble,
        temperature=100.0, timestep_fs=TIMESTEP_FS, bond_stretch_max=1000.0, dump_every=100,
        checkpoint_every=0,
    )  # fmt: skip
    arch = members[0].arch
    variants = {"single": Process(base, work / "single", steps, atomic=False)}
    if arch == "deepmd":
        variants["single_atomic"] = Process(base, work / "single_atomic", steps, atomic=True)
    for every in everies:
        variant = base.model_copy(update={"committee": spec, "deviation_every": every,
                                          "max_force_deviation": NEVER})  # fmt: skip
        variants[str(every)] = Process(variant, work / f"every{every}", steps, atomic=False)
    for process in variants.values():
        process.ask()  # ready
    load = [os.getloadavg()[0]]
    for _ in range(repeats):
        for process in variants.values():
            process.ask("block")
        load.append(os.getloadavg()[0])
    timings = {name: p.finish() for name, p in variants.items()}
    alone = timings.pop("single")
    atomic = timings.pop("single_atomic", None)
    for timing in timings.values():
        for kind in ("", "cpu_"):  # wall time, and CPU time (insensitive to time-sharing)
            per_step = timing[f"{kind}s_per_step"] / alone[f"{kind}s_per_step"]
            timing[f"{kind}ratio_to_single"] = per_step
            timing[f"{kind}ratio_to_separate_models"] = per_step / len(members)
    record = {"arch": arch, "n_atoms": size, "ensemble": ensemble, "n_members": len(members),
              "members": [str(m.path) for m in members], "single": alone,
              "committee": timings, "load_average_1min": load}  # fmt: skip
    if atomic is not None:
        atomic["ratio_to_single"] = atomic["s_per_step"] / alone["s_per_step"]
        record["single_with_per_atom_virial"] = atomic
        record["every_1_ratio_to_separate_per_atom_models"] = (
            timings["1"]["s_per_step"] / (len(members) * atomic["s_per_step"])
            if "1" in timings else None)  # fmt: skip
    return record


def committees(archs: list[str], given: dict[str, Path], quick: bool) -> dict[str, Path]:
    """The committee root of each architecture: given, or the cached tiny models."""
    from xfer.workflow.tiny_models import committee_root, tiny_models

    roots = {}
    for arch in archs:
        if arch in given:
            roots[arch] = given[arch]
            continue
        hyper = {"preset": "tiny", **(QUICK[arch] if quick else {})}
        tiny_models(arch, range(N_MEMBERS), hyper=hyper)
        roots[arch] = committee_root(arch, hyper=hyper)
    return roots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arch",
        action="append",
        choices=sorted(QUICK),
        help="architecture (repeatable; default all three)",
    )
    parser.add_argument(
        "--committee",
        action="append",
        default=[],
        help="ARCH=ROOT: use this committee root (seed dirs) instead of the cached tiny models",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="train missing members briefly (same networks: "
        + ", ".join(f"{a} {h}" for a, h in QUICK.items() if h)
        + ")",
    )
    parser.add_argument("--sizes", default="160,640", help="box sizes (160 and/or 640 atoms)")
    parser.add_argument(
        "--ensemble",
        action="append",
        choices=["nvt", "npt"],
        help="ensemble (repeatable; default nvt)",
    )
    parser.add_argument("--steps", type=int, default=100, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks (fastest kept)")
    parser.add_argument("--every", default="1,10,100", help="deviation intervals")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    given = dict(item.split("=", 1) for item in args.committee)
    archs = args.arch or ["mace", "deepmd", "gap"]
    roots = committees(archs, {a: Path(p) for a, p in given.items()}, args.quick)
    sizes = [int(s) for s in args.sizes.split(",")]
    everies = [int(e) for e in args.every.split(",")]
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch, size, ensemble in itertools.product(archs, sizes, args.ensemble or ["nvt"]):
            record = bench_committee(
                roots[arch],
                size,
                ensemble,
                args.steps,
                args.repeats,
                everies,
                Path(tmp) / f"{arch}-{size}-{ensemble}",
            )
            record["measured"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            record["quick_training"] = args.quick and arch not in given
            records.append(record)
            save(records)  # after each record: an interrupted run keeps what it measured
            print(
                json.dumps(
                    {
                        "arch": arch,
                        "n_atoms": size,
                        "ensemble": ensemble,
                        **{
                            e: round(t["ratio_to_single"], 3)
                            for e, t in record["committee"].items()
                        },
                    }
                ),
                flush=True,
            )


def _key(record: dict) -> tuple[str, int, str]:
    """Architecture, size and ensemble (records made before the option are NVT)."""
    return record["arch"], record["n_atoms"], record.get("ensemble", "nvt")


def save(records: list[dict]) -> None:
    """Merge ``records`` into committee.json (other architectures and sizes are kept)."""
    out = RESULTS / "committee.json"
    old = json.loads(out.read_text())["results"] if out.exists() else []
    measured = {_key(r) for r in records}
    merged = sorted(records + [r for r in old if _key(r) not in measured], key=_key)
    write_json(out, {
        "benchmark": "committee deviation cost: s/step vs the driving model alone",
        "targets": {"every_10_ratio_to_single": 1.5, "every_1_ratio_to_separate_models": 1.1},
        "timestep_fs": TIMESTEP_FS,
        "note": "tiny models (examples/dataset-small.toml, tiny preset, unless a record's "
                "members say otherwise), NVT (or the record's ensemble, NPT at 1 atm) at "
                "100 K; bond halt off (1000 A) and uncertainty threshold 1e6 eV/A so that no "
                "run stops early; one thread per variant process, 2 shared cores "
                "(load_average_1min per record: at the start and after each round of blocks; "
                "cpu_share_blocks: the variant process's CPU time over the block's wall time, "
                "near 1 when nothing took its core)",
        "results": merged,
        "build": {"threads": int(os.environ.get("OMP_NUM_THREADS", "1")), "nprocs": 1,
                  "machine": os.uname().machine, "cpus": os.cpu_count(),
                  "xfer": xfer.__version__},
    })  # fmt: skip


if __name__ == "__main__":
    main()
