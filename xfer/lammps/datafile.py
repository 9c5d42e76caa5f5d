"""LAMMPS data files (``units metal``, ``atom_style full``) carrying bond topology.

Two flavours share one writer:

* ``opls``: atom types are OPLS-AA types; masses, pair, angle, dihedral and improper
  coefficients are written in the file (converted to eV); bonds are typed by OPLS class.
* ``ml``: atom types are elements in the order the ML model expects; bonds are kept
  (typed by element pair) only so the in-engine stability check can watch them.

Bond *coefficients* are never in the file: the input template binds every bond type to
an alarm table (:mod:`xfer.lammps.bond_alarm`) that also carries the OPLS harmonic force.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.data import atomic_masses, atomic_numbers

from xfer.atomic import atomic_path
from xfer.chem.formula import element_of_mass
from xfer.chem.molecules import get_molecule
from xfer.chem.opls import load_parameters, molecule_terms
from xfer.chem.system import System
from xfer.chem.units import KCAL_MOL_TO_EV
from xfer.errors import InputError


@dataclass(frozen=True)
class BondType:
    """One bond type: its label, equilibrium length (A) and harmonic constant (eV/A^2)."""

    label: str
    r0: float
    k: float  # 0 for ML runs: the bond carries no force


@dataclass
class DataFileInfo:
    """What the input template needs to know about a written data file."""

    elements: list[str]  # element of each atom type (1-based type = index + 1)
    bond_types: list[BondType]


def _atom_lines(system: System, atom_types: list[int], charges: list[float]) -> list[str]:
    lines = []
    for i in range(system.n_atoms):
        x, y, z = system.positions[i]
        lines.append(
            f"{i + 1} {system.mol_ids[i]} {atom_types[i]} {charges[i]:.6f} "
            f"{x:.10f} {y:.10f} {z:.10f} 0 0 0"
        )
    return lines


def _cell_lines(cell: np.ndarray) -> list[str]:
    """Box lines; LAMMPS needs a lower-triangular (a along x, b in xy) cell."""
    a, b, c = cell
    if abs(a[1]) > 1e-12 or abs(a[2]) > 1e-12 or abs(b[2]) > 1e-12:
        raise InputError("cell must be lower triangular (a along x, b in the xy plane)")
    lines = [
        f"0.0 {a[0]:.10f} xlo xhi",
        f"0.0 {b[1]:.10f} ylo yhi",
        f"0.0 {c[2]:.10f} zlo zhi",
    ]
    if any(abs(v) > 1e-12 for v in (b[0], c[0], c[1])):
        lines.append(f"{b[0]:.10f} {c[0]:.10f} {c[1]:.10f} xy xz yz")
    return lines


def _write(path: Path, header: str, counts: list[str], sections: dict[str, list[str]]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(f"{header}\n\n" + "\n".join(counts) + "\n")
            for title, lines in sections.items():
                if lines:
                    fh.write(f"\n{title}\n\n" + "\n".join(lines) + "\n")


def write_opls_data(system: System, path: Path) -> DataFileInfo:
    """Write ``system`` with full OPLS-AA terms; return types for the template."""
    params = load_parameters()
    per_mol = {name: molecule_terms(name) for name in set(system.molecule_names)}
    atom_opls: list[int] = []
    charges: list[float] = []
    terms: dict[str, list[tuple[tuple[int, ...], tuple[str, ...], tuple[float, ...]]]] = {
        "bonds": [], "angles": [], "dihedrals": [], "impropers": []
    }
    offset = 0
    for name in system.molecule_names:
        t = per_mol[name]
        atom_opls += t.types
        charges += t.charges
        for kind in terms:
            terms[kind] += [
                (tuple(offset + i for i in atoms), key, value)
                for atoms, key, value in getattr(t, kind)
            ]
        offset += len(t.types)
    if offset != system.n_atoms:
        raise InputError("system atoms do not match its molecules' OPLS-AA templates")

    opls_types = sorted(set(atom_opls))
    type_id = {t: k + 1 for k, t in enumerate(opls_types)}
    elements = [element_of_mass(params.mass[t]) for t in opls_types]

    def typed(kind: str) -> tuple[list[tuple[str, ...]], list[str], dict[tuple[str, ...], int]]:
        keys = sorted({key for _, key, _ in terms[kind]})
        ids = {key: k + 1 for k, key in enumerate(keys)}
        lines = [
            f"{n + 1} {ids[key]} " + " ".join(str(a + 1) for a in atoms)
            for n, (atoms, key, _) in enumerate(terms[kind])
        ]
        return keys, lines, ids

    bond_keys, bond_lines, _ = typed("bonds")
    angle_keys, angle_lines, _ = typed("angles")
    dih_keys, dih_lines, _ = typed("dihedrals")
    imp_keys, imp_lines, _ = typed("impropers")
    value = {kind: {key: v for _, key, v in terms[kind]} for kind in terms}

    def ev(values: tuple[float, ...], n: int) -> str:
        return " ".join(f"{v * KCAL_MOL_TO_EV:.10g}" for v in values[:n])

    sections = {
        "Masses": [f"{type_id[t]} {params.mass[t]} # {elements[k]} opls_{t}"
                   for k, t in enumerate(opls_types)],
        "Pair Coeffs": [
            f"{type_id[t]} {params.lj[t][0] * KCAL_MOL_TO_EV:.10g} {params.lj[t][1]}"
            for t in opls_types
        ],
        "Angle Coeffs": [
            f"{k + 1} {ev(value['angles'][key], 1)} {value['angles'][key][1]} # {'-'.join(key)}"
            for k, key in enumerate(angle_keys)
        ],
        "Dihedral Coeffs": [
            f"{k + 1} {ev(value['dihedrals'][key], 4)} # {'-'.join(key)}"
            for k, key in enumerate(dih_keys)
        ],
        "Improper Coeffs": [
            f"{k + 1} {ev(value['impropers'][key], 1)} {int(value['impropers'][key][1])} "
            f"{int(value['impropers'][key][2])} # {'-'.join(key)}"
            for k, key in enumerate(imp_keys)
        ],
        "Atoms # full": _atom_lines(system, [type_id[t] for t in atom_opls], charges),
        "Bonds": bond_lines,
        "Angles": angle_lines,
        "Dihedrals": dih_lines,
        "Impropers": imp_lines,
    }
    counts = [
        f"{system.n_atoms} atoms", f"{len(bond_lines)} bonds", f"{len(angle_lines)} angles",
        f"{len(dih_lines)} dihedrals", f"{len(imp_lines)} impropers",
        f"{len(opls_types)} atom types", f"{len(bond_keys)} bond types",
        f"{len(angle_keys)} angle types", f"{len(dih_keys)} dihedral types",
        f"{len(imp_keys)} improper types", *_cell_lines(system.cell),
    ]
    _write(path, "xfer OPLS-AA system (units metal)", counts, sections)
    bond_types = [
        BondType("-".join(key), value["bonds"][key][1], value["bonds"][key][0] * KCAL_MOL_TO_EV)
        for key in bond_keys
    ]
    return DataFileInfo(elements, bond_types)


def write_ml_data(system: System, path: Path, elements: list[str]) -> DataFileInfo:
    """Write ``system`` with element atom types (in ``elements`` order) and bonds only."""
    unknown = sorted(set(system.symbols) - set(elements))
    if unknown:
        raise InputError(
            f"the model does not know element(s) {', '.join(unknown)} "
            f"(it knows {', '.join(elements)})"
        )
    type_id = {e: k + 1 for k, e in enumerate(elements)}
    keys = sorted({_bond_key(system.symbols[i], system.symbols[j]) for i, j in system.bonds})
    key_id = {key: k + 1 for k, key in enumerate(keys)}
    bond_lines = [
        f"{n + 1} {key_id[_bond_key(system.symbols[i], system.symbols[j])]} {i + 1} {j + 1}"
        for n, (i, j) in enumerate(system.bonds)
    ]
    lengths: dict[str, list[float]] = {key: [] for key in keys}
    for name in set(system.molecule_names):
        mol = get_molecule(name)
        for i, j in mol.bonds:
            r = float(np.linalg.norm(mol.positions[i] - mol.positions[j]))
            lengths[_bond_key(mol.symbols[i], mol.symbols[j])].append(r)
    sections = {
        "Masses": [f"{type_id[e]} {atomic_masses[atomic_numbers[e]]} # {e}" for e in elements],
        "Atoms # full": _atom_lines(
            system, [type_id[s] for s in system.symbols], [0.0] * system.n_atoms
        ),
        "Bonds": bond_lines,
    }
    counts = [
        f"{system.n_atoms} atoms", f"{len(bond_lines)} bonds", f"{len(elements)} atom types",
        f"{max(len(keys), 1)} bond types", *_cell_lines(system.cell),
    ]
    _write(path, "xfer system for ML pair styles (units metal)", counts, sections)
    # r0 of each element-pair class: the longest equilibrium length of that class in the
    # optimised molecules, so no bond of the class is flagged at its own equilibrium.
    bond_types = [BondType(key, max(lengths[key]), 0.0) for key in keys]
    return DataFileInfo(list(elements), bond_types)


def _bond_key(a: str, b: str) -> str:
    return "-".join(sorted((a, b)))
