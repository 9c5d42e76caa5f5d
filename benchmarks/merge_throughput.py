"""Merge a partial ``xfer bench`` run into a ladder: its records replace those of the same
(architecture, size) in the ladder's ``throughput.json``; the summary, CSV and plot are
rebuilt, and ``merged_runs`` keeps when and how each run was measured.

    .venv/bin/python benchmarks/merge_throughput.py LADDER_DIR PARTIAL_DIR [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from xfer.analysis.throughput import summarise, write_csv, write_figure
from xfer.atomic import write_json

ARCH_ORDER = {"mace": 0, "deepmd": 1, "gap": 2}
PROVENANCE = ("measured", "settings", "load_average", "complete", "wall_s")


def merge(ladder: dict[str, Any], partial: dict[str, Any]) -> dict[str, Any]:
    """``ladder`` with ``partial``'s records in place of the same (arch, n_atoms) ones."""
    keys = {(r["arch"], r["n_atoms"]) for r in partial["records"]}
    kept = [r for r in ladder["records"] if (r["arch"], r["n_atoms"]) not in keys]
    records = sorted([*kept, *partial["records"]],
                     key=lambda r: (ARCH_ORDER.get(r["arch"], 9), r["n_atoms"]))  # fmt: skip
    runs = ladder.get("merged_runs") or [{k: ladder[k] for k in PROVENANCE}]
    replaces = sorted(f"{arch}/{n}" for arch, n in keys)
    runs = [*runs, {"replaces": replaces, **{k: partial[k] for k in PROVENANCE}}]
    return {**ladder, "records": records, "summary": summarise(records), "merged_runs": runs}


def _load(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "throughput.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ladder", type=Path, help="directory with the ladder's throughput.json")
    parser.add_argument("partial", type=Path, help="directory with the partial run's")
    parser.add_argument("--out", type=Path, help="where to write (default: LADDER)")
    args = parser.parse_args()
    merged = merge(_load(args.ladder), _load(args.partial))
    out = args.out or args.ladder
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "throughput.json", merged)
    write_csv(merged["records"], out / "throughput.csv")
    write_figure(merged["records"], out / "throughput.png")
    print(f"{out / 'throughput.json'}: {len(merged['records'])} records")


if __name__ == "__main__":
    main()
