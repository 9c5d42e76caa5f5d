"""Energy and force statistics per tag and their histograms (``xfer dataset info``).

Energies are shown per atom relative to the isolated atoms (``e0`` frames) when the dataset
has an e0 frame for every element present, otherwise as total energy per atom.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from xfer.data.frames import COMPOSITION, CONFIG_TYPE, ENERGY_KEY, FORCES_KEY


def atomic_energies(frames: list[Atoms]) -> dict[str, float]:
    """Reference energy of each isolated atom (from labelled ``e0`` frames)."""
    return {
        f.get_chemical_symbols()[0]: float(f.info[ENERGY_KEY])
        for f in frames
        if f.info.get(CONFIG_TYPE) == "e0" and ENERGY_KEY in f.info and len(f) == 1
    }


def energy_per_atom(frames: list[Atoms]) -> tuple[dict[int, float], bool]:
    """Per-frame energy per atom (index -> eV/atom) and whether it is relative to e0."""
    e0 = atomic_energies(frames)
    symbols = {s for f in frames for s in f.get_chemical_symbols()}
    relative = bool(e0) and symbols <= set(e0)
    out = {}
    for k, f in enumerate(frames):
        if ENERGY_KEY in f.info:
            base = sum(e0[s] for s in f.get_chemical_symbols()) if relative else 0.0
            out[k] = (float(f.info[ENERGY_KEY]) - base) / len(f)
    return out, relative


def by_tag(frames: list[Atoms]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for k, f in enumerate(frames):
        groups.setdefault(str(f.info.get(CONFIG_TYPE, "untagged")), []).append(k)
    return groups


def tag_table(frames: list[Atoms]) -> tuple[list[dict[str, Any]], bool]:
    """One row per tag: counts, compositions, energy/atom and force statistics."""
    energies, relative = energy_per_atom(frames)
    rows = []
    for tag, idx in by_tag(frames).items():
        e = np.array([energies[k] for k in idx if k in energies])
        forces = [np.linalg.norm(frames[k].arrays[FORCES_KEY], axis=1) for k in idx
                  if FORCES_KEY in frames[k].arrays]  # fmt: skip
        fmag = np.concatenate(forces) if forces else np.array([])
        rows.append(
            {
                "tag": tag,
                "frames": len(idx),
                "atoms": int(sum(len(frames[k]) for k in idx)),
                "compositions": sorted({str(frames[k].info.get(COMPOSITION)) for k in idx}),
                "e_mean": float(e.mean()) if e.size else float("nan"),
                "e_std": float(e.std()) if e.size else float("nan"),
                "e_min": float(e.min()) if e.size else float("nan"),
                "e_max": float(e.max()) if e.size else float("nan"),
                "f_rms": float(np.sqrt(np.mean(fmag**2))) if fmag.size else float("nan"),
                "f_max": float(fmag.max()) if fmag.size else float("nan"),
            }
        )
    return rows, relative


def plot_histograms(frames: list[Atoms], png: Path) -> Path:
    """Histograms of energy per atom and force magnitude, one colour per tag."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    energies, relative = energy_per_atom(frames)
    fig, (ax_e, ax_f) = plt.subplots(1, 2, figsize=(10, 4))
    for tag, idx in by_tag(frames).items():
        e = [energies[k] for k in idx if k in energies]
        if tag != "e0" and e:
            ax_e.hist(e, bins=30, alpha=0.5, label=tag)
        f = [np.linalg.norm(frames[k].arrays[FORCES_KEY], axis=1) for k in idx
             if FORCES_KEY in frames[k].arrays]  # fmt: skip
        if tag != "e0" and f:
            ax_f.hist(np.concatenate(f), bins=40, alpha=0.5, label=tag)
    ax_e.set_xlabel("(E - sum E0) / N  (eV/atom)" if relative else "E / N  (eV/atom)")
    ax_f.set_xlabel("|F|  (eV/A)")
    ax_f.set_yscale("log")
    for ax in (ax_e, ax_f):
        ax.set_ylabel("count")
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png
