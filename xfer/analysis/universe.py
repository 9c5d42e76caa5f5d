"""MDAnalysis Universe of a run: topology from system.data, coordinates from traj.dump.

The dump is read by :func:`xfer.analysis.dump.read_dump` (fast, unwrapped) and handed to
MDAnalysis as an in-memory trajectory; molecules are MDAnalysis fragments of the bond
graph. Topology and dump must describe the same atoms (ids, types, molecule ids), else
an :class:`~xfer.errors.InputError` says what differs.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import MDAnalysis as mda
import numpy as np
from MDAnalysis.coordinates.memory import MemoryReader

from xfer.analysis.dump import DumpTrajectory
from xfer.chem.formula import element_of_mass, hill_formula
from xfer.chem.molecules import SMILES, get_molecule
from xfer.errors import InputError


@dataclass(frozen=True)
class MolecularSystem:
    """A run's Universe, its frame times and the species name of every molecule."""

    universe: mda.Universe
    times_ps: np.ndarray  # (n_frames,)
    species: tuple[str, ...]  # one name per fragment, in fragment order

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(self.species))


def _species_names(mix: dict[str, int] | None) -> dict[str, str]:
    """Formula -> molecule name for the molecules of ``mix`` that xfer knows."""
    names = {}
    for name in mix or {}:
        if name in SMILES:
            names[hill_formula(get_molecule(name).symbols)] = name
    return names


def load_system(
    data_path: Path, traj: DumpTrajectory, timestep_fs: float, mix: dict[str, int] | None = None
) -> MolecularSystem:
    """Build and cross-check the Universe; name each molecule from ``mix`` (else formula)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            universe = mda.Universe(str(data_path), topology_format="DATA", format="DATA")
    except Exception as exc:  # MDAnalysis raises assorted errors for malformed files
        raise InputError(f"cannot read LAMMPS data file {data_path}: {exc}") from exc
    _check_match(universe, traj, data_path)
    universe.load_new(traj.positions, format=MemoryReader, dimensions=traj.dimensions)
    if not hasattr(universe.atoms, "bonds") or len(universe.atoms.bonds) == 0:
        raise InputError(f"{data_path}: no Bonds section, molecules cannot be identified")
    elements = [element_of_mass(m) for m in universe.atoms.masses]
    names = _species_names(mix)
    species = []
    for frag in universe.atoms.fragments:
        f = hill_formula(elements[i] for i in frag.indices)
        species.append(names.get(f, f))
    times = traj.steps * (timestep_fs / 1000.0)
    return MolecularSystem(universe, times, tuple(species))


def _check_match(universe: mda.Universe, traj: DumpTrajectory, data_path: Path) -> None:
    """The dump's atoms must be the topology's atoms."""
    atoms = universe.atoms
    if atoms.n_atoms != traj.n_atoms:
        raise InputError(f"{data_path} has {atoms.n_atoms} atoms but the dump has {traj.n_atoms}")
    if not np.array_equal(atoms.ids, traj.ids):
        raise InputError(f"atom ids of {data_path} and the dump differ")
    try:
        types = atoms.types.astype(np.int64)
    except ValueError as exc:
        raise InputError(f"{data_path}: atom types must be numbers ({exc})") from exc
    if not np.array_equal(types, traj.types):
        bad = int(np.argmax(types != traj.types))
        raise InputError(
            f"atom types of {data_path} and the dump differ (first at atom id {atoms.ids[bad]})"
        )
    if traj.mols is not None and not np.array_equal(atoms.resids, traj.mols):
        raise InputError(f"molecule ids of {data_path} and the dump differ")
