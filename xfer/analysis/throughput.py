"""Throughput benchmark records -> ratios per backend and size, CSV and a log-log figure.

A record is one path (``lammps``, ``xfer_md``, ``ase_md``, ``raw_eval``) of one backend at
one size and rank count, with ``steps_per_s`` etc., or ``skipped`` with the reason.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from xfer.analysis.figures import save_figure
from xfer.atomic import write_text

CSV_COLUMNS = ("arch", "path", "n_atoms", "ranks", "steps", "seconds", "steps_per_s",
               "atom_steps_per_s", "us_per_step_per_atom", "ns_per_day", "peak_rss_mib",
               "startup_s", "skipped")  # fmt: skip


def _s_per_step(
    records: Sequence[dict], arch: str, path: str, n: int, ranks: int = 1
) -> float | None:
    for r in records:
        if (r["arch"], r["path"], r["n_atoms"], r["ranks"]) == (arch, path, n, ranks):
            return 1.0 / r["steps_per_s"] if "steps_per_s" in r else None
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def summarise(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per backend and size: the side-by-side ratios (None where a path was skipped).

    ``pair_over_raw``: pair-style s/step / raw evaluation s/call (1 = the model's limit);
    ``ase_over_pair``: ASE MD s/step / pair style s/step (> 1: LAMMPS is faster);
    ``xfer_md_overhead``: xfer md's loop / bare lmp's first run of the same input, minus 1;
    ``xfer_md_startup_s`` / ``lmp_startup_s``: wall time outside the MD loop of each;
    ``speedup_2_ranks``: 1-rank / 2-rank s/step of the pair style.
    """
    out = []
    for arch, n in sorted({(r["arch"], r["n_atoms"]) for r in records}):
        pair = _s_per_step(records, arch, "lammps", n)
        bare = next(
            (
                r
                for r in records
                if (r["arch"], r["path"], r["n_atoms"], r["ranks"]) == (arch, "lammps", n, 1)
                and "seconds" in r
            ),
            None,
        )
        bare_first = bare.get("first_run_s") if bare else None
        xmd = next(
            (
                r
                for r in records
                if (r["arch"], r["path"], r["n_atoms"]) == (arch, "xfer_md", n) and "seconds" in r
            ),
            None,
        )
        out.append(
            {
                "arch": arch,
                "n_atoms": n,
                "pair_over_raw": _ratio(pair, _s_per_step(records, arch, "raw_eval", n)),
                "ase_over_pair": _ratio(_s_per_step(records, arch, "ase_md", n), pair),
                "xfer_md_overhead": (
                    xmd["seconds"] / bare_first - 1.0 if xmd and bare_first else None
                ),  # fmt: skip
                "xfer_md_startup_s": xmd["startup_s"] if xmd else None,
                "lmp_startup_s": bare.get("startup_s") if bare else None,
                "speedup_2_ranks": _ratio(pair, _s_per_step(records, arch, "lammps", n, 2)),
            }
        )
    return out


def write_csv(records: Sequence[dict[str, Any]], target: Path) -> None:
    """One row per record, the columns of :data:`CSV_COLUMNS` (empty where not measured)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for record in records:
        writer.writerow({k: record.get(k, "") for k in CSV_COLUMNS})
    write_text(target, buffer.getvalue())


def write_figure(records: Sequence[dict[str, Any]], target: Path) -> Path:
    """Log-log atom-steps/s vs atoms, one line per backend, path and rank count."""
    fig = Figure(figsize=(9.5, 4.5), layout="constrained")  # makes room for the legend
    ax = fig.add_subplot()
    lines = sorted({(r["arch"], r["path"], r["ranks"]) for r in records})
    styles = {"lammps": ("-", "o"), "xfer_md": ("--", "D"), "ase_md": (":", "^"),
              "raw_eval": ("-.", "v")}  # fmt: skip
    colours = {"mace": "C0", "deepmd": "C1", "gap": "C2"}
    for arch, path, ranks in lines:
        points = sorted(
            (r["n_atoms"], r["atom_steps_per_s"])
            for r in records
            if (r["arch"], r["path"], r["ranks"]) == (arch, path, ranks) and "atom_steps_per_s" in r
        )
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        label = f"{arch} {path}" + (f" ({ranks} ranks)" if ranks > 1 else "")
        line, marker = styles.get(path, ("-", "o"))
        ax.plot(
            xs,
            ys,
            line,
            marker=marker if ranks == 1 else "s",
            color=colours.get(arch),
            label=label,
            alpha=1.0 if ranks == 1 else 0.6,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("atoms")
    ax.set_ylabel("atom-steps / s")
    ax.set_title("MD throughput (raw_eval: energy+forces calls)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return save_figure(fig, target)
