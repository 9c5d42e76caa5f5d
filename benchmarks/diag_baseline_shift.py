"""Benchmark: does a model trained on one composition shift the 2:1 volume-scan baseline?

The preprint's Figure 3 failure mode at laptop scale. One labelled build (GFN2-xTB) holds
rigid volume scans of packed 1 EC + 2 EMC boxes (``vs``), isolated EC and EMC molecules
(``sm``, MMFF normal-mode samples) and isolated atoms (``e0``). Two tiny GAP models (seed 0)
are trained: ``1:2 only`` on vs + e0 and ``1:2 + molecules`` on vs + sm + e0. Both are then
scored with ``xfer diagnose volume-scan``'s API on held-out scans (other packing seeds) of
1 EC + 2 EMC and 2 EC + 1 EMC. Writes benchmarks/results/diag_baseline_shift.json and the
diagnostic's CSV/PNG in WORK/volume-scan.

    .venv/bin/python benchmarks/diag_baseline_shift.py --work /path/to/scratch
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import xfer  # noqa: F401  (runtime set-up before any QUIP import)
from xfer.analysis.model_eval import resolve_model
from xfer.analysis.volume_diag import volume_scan_validation
from xfer.atomic import write_json
from xfer.backends import get_backend
from xfer.data.build import build_dataset
from xfer.data.config import BuildConfig, E0Config, SmConfig, VsConfig
from xfer.data.diag_sets import scan_config
from xfer.data.store import write_frames

RESULTS = Path(__file__).resolve().parent / "results"
TRAIN_MIX = {"EC": 1, "EMC": 2}
HELD_OUT = [{"EC": 1, "EMC": 2}, {"EC": 2, "EMC": 1}]


def training_sets(work: Path, scans: int, molecules: int) -> dict[str, Path]:
    """Build (or reuse) the labelled frames; write the two training files."""
    config = BuildConfig(
        vs=[VsConfig(source="packed", mix=TRAIN_MIX, scans=scans, points=5, seed=1)],
        sm=SmConfig(molecules={"EC": molecules, "EMC": molecules}, sampler="mmff"),
        e0=E0Config(elements=["C", "H", "O"]),
    )
    dataset = build_dataset(config, work / "train-build")
    files = {}
    for name, tags in (("1:2 only", ["vs", "e0"]), ("1:2 + molecules", ["vs", "sm", "e0"])):
        files[name] = work / f"train-{'-'.join(tags)}.extxyz"
        write_frames(files[name], dataset.frames(tags))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--train-scans", type=int, default=4)
    parser.add_argument("--molecules", type=int, default=10, help="isolated EC and EMC each")
    parser.add_argument("--scans", type=int, default=2, help="held-out scans per composition")
    parser.add_argument("--points", type=int, default=4)
    args = parser.parse_args()
    start = time.perf_counter()
    files = training_sets(args.work, args.train_scans, args.molecules)
    models = []
    for k, (name, path) in enumerate(files.items()):
        trained = get_backend("gap").train(path, path, args.work / f"model{k}", 0,
                                           {"preset": "tiny"})  # fmt: skip
        models.append(resolve_model(trained.path, name=name))
    config = scan_config(HELD_OUT, args.scans, args.points)
    result = volume_scan_validation(models, config, args.work / "volume-scan")
    write_json(RESULTS / "diag_baseline_shift.json", {
        "benchmark": "baseline shift of tiny GAP models on held-out volume scans",
        "arch": "gap", "preset": "tiny", "reference": "tblite:GFN2-xTB",
        "train": {"vs_scans_EC1EMC2": args.train_scans, "sm_per_molecule": args.molecules},
        "held_out": {"compositions": ["EC1EMC2", "EC2EMC1"], "scans": args.scans,
                     "points": args.points},
        "summary": result.summary.to_dict(orient="records"),
        "wall_s": round(time.perf_counter() - start, 1),
        "load_1min": os.getloadavg()[0], "cpus": os.cpu_count(),
    })  # fmt: skip
    print(result.summary.to_string(index=False))


if __name__ == "__main__":
    main()
