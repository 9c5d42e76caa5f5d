"""Chemical generalisation (preprint Figure 5): each model's own MD in liquids it never saw.

Per model and liquid (EC:DEC 1:1 v/v, VC:EMC 1:1 v/v and pure PC by default, boxes built
by volume ratio, :mod:`xfer.chem.volume_mix`): an ``xfer md`` run gives t_stab; frames
from that trajectory relabelled with the reference (:mod:`xfer.analysis.along`) give the
force RMSE. Outputs in ``out``: ``generalisation.csv`` and ``generalisation.png``, and one
``<model>/<liquid>/{md,along}`` directory per pair (finished runs and labels are reused).
"""

from __future__ import annotations

import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from xfer.analysis.along import errors_along
from xfer.analysis.diag_figures import write_csv
from xfer.analysis.figures import save_figure
from xfer.analysis.model_eval import NamedModel
from xfer.backends.base import get_backend
from xfer.chem.molecules import composition_label
from xfer.chem.volume_mix import mix_by_volume
from xfer.data.reference import ReferenceSpec
from xfer.md import MDSettings, run_md

DEFAULT_LIQUIDS: dict[str, dict[str, float]] = {
    "EC:DEC 1:1 v/v": {"EC": 1.0, "DEC": 1.0},
    "VC:EMC 1:1 v/v": {"VC": 1.0, "EMC": 1.0},
    "PC": {"PC": 1.0},
}


def slug(name: str) -> str:
    """A directory name for a model or liquid name."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name).strip("_") or "x"


def liquid_run(
    named: NamedModel, parts: dict[str, float], molecules: int, run_dir: Path, md: dict[str, Any]
) -> dict[str, Any]:
    """The model's MD run in the volume-ratio liquid ``parts`` (reused when finished)."""
    mix, density = mix_by_volume(parts, molecules)
    backend = get_backend(named.model.arch)
    backend.export(named.model)
    settings = MDSettings(potential="ml", pair=backend.pair_spec(named.model), mix=mix,
                          density=density, **md)  # fmt: skip
    # one process per run: LAMMPS plugins such as pair quip hold one model per process
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_md, settings, run_dir).result()


def generalise(
    models: list[NamedModel],
    out: Path,
    liquids: dict[str, dict[str, float]] | None = None,
    molecules: int = 48,
    md: dict[str, Any] | None = None,
    every_ps: float = 20.0,
    spec: ReferenceSpec | None = None,
    workers: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """t_stab and force RMSE of every model in every liquid; writes the CSV and figure."""
    out = Path(out)
    rows = []
    for named in models:
        for liquid, parts in (liquids or DEFAULT_LIQUIDS).items():
            where = out / slug(named.name) / slug(liquid)
            result = liquid_run(named, parts, molecules, where / "md", md or {})
            along = errors_along(where / "md", [named], where / "along", every_ps, spec,
                                 workers, progress).summary.iloc[0]  # fmt: skip
            rows.append(row(named.name, liquid, result, along.to_dict()))
    table = pd.DataFrame(rows)
    write_csv(table, out / "generalisation.csv")
    generalisation_figure(out / "generalisation.png", table)
    return table


def row(model: str, liquid: str, result: dict[str, Any], along: dict[str, Any]) -> dict:
    """One line of generalisation.csv from a run's result.json and its along summary."""
    return {
        "model": model, "liquid": liquid, "composition": composition_label(result["mix"]),
        "n_atoms": result["n_atoms"], "ensemble": result["ensemble"],
        "time_ps": result["time_ps_requested"], "t_stab_ps": result["t_stab_ps"],
        "halted": result["halted"], "halt_reason": result["halt_reason"],
        "n_frames": int(along["n_frames"]), "f_rmse_meV_A": float(along["f_rmse_meV_A"]),
        "e_rmse_meV_atom": float(along["e_rmse_meV_atom"]),
    }  # fmt: skip


def generalisation_figure(target: Path, table: pd.DataFrame) -> Path:
    """Grouped bars: t_stab (left) and force RMSE on the model's own frames (right)."""
    liquids = list(dict.fromkeys(table["liquid"]))
    models = list(dict.fromkeys(table["model"]))
    width = 0.8 / max(1, len(models))
    fig = Figure(figsize=(11.0, 4.2))
    left, right = fig.subplots(1, 2)
    for k, model in enumerate(models):
        part = table[table["model"] == model].set_index("liquid").reindex(liquids)
        x = [i + (k - (len(models) - 1) / 2) * width for i in range(len(liquids))]
        left.bar(x, part["t_stab_ps"], width, color=f"C{k % 10}", label=model)
        right.bar(x, part["f_rmse_meV_A"], width, color=f"C{k % 10}", label=model)
    for ax, label in ((left, "t$_{stab}$ (ps)"), (right, "force RMSE, own frames (meV/A)")):
        ax.set_xticks(range(len(liquids)), liquids)
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    full = float(table["time_ps"].max())
    left.axhline(full, color="k", lw=0.8, ls="--")
    return save_figure(fig, target)
