"""Pack molecules into a periodic box at a target density with packmol (PyPI wheel).

Packmol places rigid copies of each molecule so that atoms of different molecules are at
least ``tolerance`` apart across periodic boundaries; molecules stay whole.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
from jinja2 import Environment, StrictUndefined

from xfer.chem.molecules import get_molecule
from xfer.chem.system import System, intermolecular_gap
from xfer.chem.units import AMU_PER_A3_TO_G_PER_CM3
from xfer.errors import EnvironmentProblem, InputError

MAX_PACKING_DENSITY = 2.0  # g/cm3: the upper halt bound; no solvent liquid is denser

_PACKMOL_INPUT = Environment(undefined=StrictUndefined, keep_trailing_newline=True).from_string(
    """tolerance {{ tolerance }}
filetype xyz
output {{ output }}
seed {{ seed }}
nloop {{ nloop }}
pbc 0. 0. 0. {{ length }} {{ length }} {{ length }}
{% for name, count in mix.items() %}
structure {{ name }}.xyz
  number {{ count }}
  inside box 0. 0. 0. {{ length }} {{ length }} {{ length }}
end structure
{% endfor %}"""
)


def box_length(mix: dict[str, int], density: float) -> float:
    """Cubic box edge (A) holding ``mix`` at ``density`` g/cm3."""
    if not density > 0:
        raise InputError(f"density must be positive, got {density}")
    mass = sum(get_molecule(name).mass * n for name, n in mix.items())
    return float((mass * AMU_PER_A3_TO_G_PER_CM3 / density) ** (1.0 / 3.0))


def pack(mix: dict[str, int], density: float, seed: int = 1, tolerance: float = 2.0) -> System:
    """Pack ``mix`` (e.g. ``{"EC": 16, "EMC": 32}``) into a cubic box at ``density`` g/cm3."""
    if density > MAX_PACKING_DENSITY:
        raise InputError(
            f"cannot pack a liquid at {density} g/cm3 (maximum {MAX_PACKING_DENSITY}); "
            "lower --density"
        )
    length = box_length(mix, density)
    molecules = {name: get_molecule(name) for name in mix}
    from packmol.cli import get_binary_path

    with tempfile.TemporaryDirectory(prefix="xfer-pack-") as tmp:
        work = Path(tmp)
        for name, mol in molecules.items():
            lines = [str(mol.n_atoms), name]
            lines += [f"{s} {x:.6f} {y:.6f} {z:.6f}"
                      for s, (x, y, z) in zip(mol.symbols, mol.positions)]
            (work / f"{name}.xyz").write_text("\n".join(lines) + "\n")
        (work / "pack.inp").write_text(
            _PACKMOL_INPUT.render(
                tolerance=tolerance, output="packed.xyz", seed=seed, length=f"{length:.6f}",
                mix=mix, nloop=200,
            )
        )
        binary = get_binary_path()
        if not Path(binary).exists():
            raise EnvironmentProblem(f"packmol binary not found at {binary}")
        with open(work / "pack.inp") as stdin:
            proc = subprocess.run(
                [str(binary)], stdin=stdin, cwd=work, capture_output=True, text=True, timeout=600
            )
        out = work / "packed.xyz"
        if proc.returncode != 0 and not out.exists():
            raise InputError(f"packmol failed to pack {mix} at {density} g/cm3")
        positions = np.loadtxt(out, skiprows=2, usecols=(1, 2, 3), ndmin=2)

    symbols: list[str] = []
    mol_ids: list[int] = []
    names: list[str] = []
    bonds: list[tuple[int, int]] = []
    for name, count in mix.items():
        mol = molecules[name]
        for _ in range(count):
            offset = len(symbols)
            names.append(name)
            symbols.extend(mol.symbols)
            mol_ids.extend([len(names)] * mol.n_atoms)
            bonds.extend((offset + i, offset + j) for i, j in mol.bonds)
    system = System(symbols, positions, np.eye(3) * length, np.array(mol_ids), names, bonds)
    gap = min_intermolecular_distance(system)
    if gap < 0.75 * tolerance:
        raise InputError(
            f"impossible packing: {sum(mix.values())} molecules at {density} g/cm3 leave atoms of "
            f"different molecules {gap:.2f} A apart (need >= {0.75 * tolerance:.2f} A); "
            "lower --density"
        )
    return system


def min_intermolecular_distance(system: System) -> float:
    """Smallest minimum-image distance between atoms of different molecules (A)."""
    return intermolecular_gap(system.positions, system.mol_ids, system.cell)

