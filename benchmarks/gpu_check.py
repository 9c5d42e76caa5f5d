"""Body of benchmarks/gpu_check.sh (run it through the script, which checks for a GPU and
builds the plugins): GPU parity tests, GPU vs CPU throughput, benchmarks/results/gpu.json.

Parity: tests/test_mace_lammps.py (parity and device tests) and tests/test_deepmd_parity.py
with LAMMPS on the GPU (pair mace's default ``device auto`` and deepmd-kit's plugin both
take GPU 0; the tests assert the device each single point used) against the ASE
calculators on the CPU (MACECalculator on ``cpu``; deepmd's through ``DEVICE=cpu``),
float64, 1e-6 eV and eV/A.

Throughput: ``xfer bench --arch A --sizes 160,640 --ranks 1 --device D --out DIR`` for
mace and deepmd on cuda and cpu when this xfer has ``bench``; otherwise ``xfer md`` NVT
runs of the 160- and 640-atom boxes with the tiny models the parity tests trained, timed
by LAMMPS' own loop time (CPU runs hide the GPU with CUDA_VISIBLE_DEVICES=).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "gpu.json"
XFER = [sys.executable, "-m", "xfer.cli"]
PARITY_TESTS = ["tests/test_mace_lammps.py", "tests/test_deepmd_parity.py"]
MIXES = {160: "EC:4,EMC:8", 640: "EC:16,EMC:32"}
STEPS = {160: 40, 640: 20}
LOOP = re.compile(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps")


def gpu_info() -> dict:
    """GPU names and driver (nvidia-smi) and what torch sees."""
    import torch

    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                          "--format=csv,noheader"], capture_output=True, text=True)  # fmt: skip
    return {"nvidia_smi": smi.stdout.strip().splitlines(), "torch": torch.__version__,
            "torch_cuda": torch.version.cuda, "torch_gpus": torch.cuda.device_count()}  # fmt: skip


def parity(work: Path, timeout: float) -> dict:
    """Run the parity tests (models are kept under work/pytest for the timing)."""
    junit = work / "parity.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow",
               "-k", "parity or device", f"--basetemp={work / 'pytest'}",
               f"--junitxml={junit}", *PARITY_TESTS]  # fmt: skip
    env = {**os.environ, "DEVICE": "cpu"}  # deepmd's Python calculator stays on the CPU
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    cases = []
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            failed = case.find("failure") is not None or case.find("error") is not None
            skipped = case.find("skipped") is not None
            cases.append({"test": f"{case.get('classname')}::{case.get('name')}",
                          "outcome": "failed" if failed else "skipped" if skipped else "passed"})
    return {"command": " ".join(command[2:]), "exit_code": proc.returncode,
            "wall_s": round(time.perf_counter() - start, 1),
            "passed": sum(c["outcome"] == "passed" for c in cases),
            "failed": sum(c["outcome"] == "failed" for c in cases), "cases": cases,
            "tail": proc.stdout.strip().splitlines()[-3:]}  # fmt: skip


def has_bench() -> bool:
    return subprocess.run([*XFER, "bench", "--help"], capture_output=True).returncode == 0


def bench(work: Path, timeout: float) -> dict:
    """``xfer bench`` for mace and deepmd, cuda and cpu (its own JSON, as written)."""
    out = {}
    for arch in ("mace", "deepmd"):
        for device in ("cuda", "cpu"):
            target = work / f"bench-{arch}-{device}"
            command = [*XFER, "bench", "--arch", arch, "--sizes", "160,640", "--ranks", "1",
                       "--device", device, "--out", str(target)]  # fmt: skip
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
            reports = {p.name: json.loads(p.read_text()) for p in target.glob("*.json")}
            out[f"{arch}/{device}"] = {"exit_code": proc.returncode, "reports": reports,
                                       "stderr_tail": proc.stderr.strip().splitlines()[-2:]}
    return out


def trained_models(work: Path) -> dict[str, Path]:
    """One model per architecture from the parity tests' trained models (their .json)."""
    found = {}
    for meta in sorted((work / "pytest").rglob("*.json")):
        try:
            arch = json.loads(meta.read_text()).get("arch")
        except (ValueError, UnicodeDecodeError, AttributeError):
            continue
        model = meta.with_suffix("")
        if arch in ("mace", "deepmd") and arch not in found and model.exists():
            found[arch] = model
    return found


def md_timing(model: Path, atoms: int, device: str, work: Path, timeout: float) -> dict:
    """Seconds per step of an NVT ``xfer md`` run (LAMMPS loop time; warm-up included)."""
    out = work / f"md-{model.parent.name}-{atoms}-{device}-{time.monotonic_ns()}"
    env = dict(os.environ)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    steps = STEPS[atoms]
    command = [*XFER, "md", "--potential", "ml", "--model", str(model), "--mix", MIXES[atoms],
               "--ensemble", "nvt", "--temperature", "300", "--time-ps", str(steps * 0.0005),
               "--device", device, "--checkpoint-every", "0", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:]}
    result = json.loads((out / "result.json").read_text())
    loop = LOOP.findall((out / "log.lammps").read_text())[-1]
    s_per_step = float(loop[0]) / int(loop[1])
    return {"atoms": result["n_atoms"], "steps": int(loop[1]), "s_per_step": s_per_step,
            "atom_steps_per_s": result["n_atoms"] / s_per_step, "device": result["device"]}


def fallback_timing(work: Path, deadline: float) -> dict:
    """GPU vs CPU ``xfer md`` speed per architecture and size, with the speed-up."""
    out = {}
    for arch, model in trained_models(work).items():
        for atoms in MIXES:
            row = {}
            for device in ("cuda", "cpu"):
                left = deadline - time.monotonic()
                if left < 20:
                    row[device] = {"skipped": "time budget spent"}
                    continue
                try:
                    row[device] = md_timing(model, atoms, device, work, left)
                except subprocess.TimeoutExpired:
                    row[device] = {"skipped": "time budget spent"}
            if all("s_per_step" in row.get(d, {}) for d in ("cuda", "cpu")):
                row["speedup_gpu_vs_cpu"] = row["cpu"]["s_per_step"] / row["cuda"]["s_per_step"]
            out[f"{arch}/{atoms}"] = row
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for all of it")
    parser.add_argument("--build-s", type=float, default=0.0, help="plugin build time (s)")
    args = parser.parse_args()
    deadline = time.monotonic() + args.budget
    from xfer.atomic import write_json

    report: dict = {"check": "pair mace / pair deepmd on the GPU vs the CPU",
                    "gpu": gpu_info(), "build_plugins_s": args.build_s,
                    "threads": os.environ.get("OMP_NUM_THREADS", "default"),
                    "loadavg": os.getloadavg()[0]}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="xfer-gpu-check-") as tmp:
        work = Path(tmp)
        report["parity"] = parity(work, max(deadline - time.monotonic() - 60, 60))
        left = deadline - time.monotonic()
        if has_bench():
            report["throughput"] = {"source": "xfer bench", **bench(work, max(left / 4, 30))}
        else:
            report["throughput"] = {"source": "xfer md timing (no xfer bench in this xfer)",
                                    **fallback_timing(work, deadline)}  # fmt: skip
    report["wall_s"] = round(args.budget - (deadline - time.monotonic()) + args.build_s, 1)
    write_json(RESULT, report)
    parity_ok = report["parity"]["exit_code"] == 0 and report["parity"]["failed"] == 0
    print(f"gpu_check: parity {report['parity']['passed']} passed, "
          f"{report['parity']['failed']} failed; wrote {RESULT.relative_to(ROOT)}")
    return 0 if parity_ok else 1


if __name__ == "__main__":
    sys.exit(main())
