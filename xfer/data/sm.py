"""Isolated molecules near equilibrium: thermal normal-mode displacements (tag ``sm``).

The molecule is relaxed and its Hessian taken by central finite differences of forces,
either with the reference method (``sampler="reference"``, the default: samples are near
the reference's own minimum; a few hundred cheap single-molecule calls) or with MMFF94 from
RDKit (``sampler="mmff"``: no reference calls, but e.g. GFN2-xTB sees the MMFF minimum of EC
with an RMS force of 1.35 eV/A). Each frame displaces the molecule along every vibrational
mode by a mass-weighted amplitude drawn from N(0, kT / omega^2), an exact sample of the
classical harmonic canonical ensemble at temperature T. Modes softer than
:data:`FREQ_FLOOR_CM` (torsions, poorly described by a linear displacement) are sampled as
if they had that frequency; samples with a bond strained beyond ``max_bond_strain`` or two
atoms closer than 0.7 A are redrawn. Every frame has its own random stream (seed, molecule,
index), so a frame's geometry and id do not depend on how many frames are asked for.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.optimize import BFGS
from ase.units import kB
from rdkit.Chem import AllChem

from xfer.chem.molecules import get_molecule
from xfer.chem.units import CM_PER_SQRT_EV_A2_AMU, KCAL_MOL_TO_EV
from xfer.data.frames import tag_frame
from xfer.data.reference import ReferenceSpec, make_calculator
from xfer.errors import InputError

FD_STEP = 0.005  # A
N_RIGID = 6  # translations + rotations (none of the carbonates is linear)
FREQ_FLOOR_CM = 100.0
MIN_PAIR_DISTANCE = 0.7  # A
MAX_ATTEMPTS = 200
RELAX_FMAX = 0.005  # eV/A
SAMPLERS = ("reference", "mmff")


@dataclass(frozen=True)
class Modes:
    """Equilibrium geometry, masses, vibrational omega^2 (eV/(A^2 amu)), mass-weighted modes."""

    positions: np.ndarray
    masses: np.ndarray
    omega2: np.ndarray
    vectors: np.ndarray

    @property
    def wavenumbers(self) -> np.ndarray:
        return np.sqrt(self.omega2) * CM_PER_SQRT_EV_A2_AMU


_CACHE: dict[tuple[str, str, str], Modes] = {}


def _hessian(positions: np.ndarray, forces: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Symmetrised Hessian (eV/A^2) by central differences of ``forces(positions)``."""
    x0 = positions.ravel()
    n = x0.size
    hessian = np.empty((n, n))
    for k in range(n):
        step = np.zeros(n)
        step[k] = FD_STEP
        plus = forces((x0 + step).reshape(-1, 3)).ravel()
        minus = forces((x0 - step).reshape(-1, 3)).ravel()
        hessian[k] = -(plus - minus) / (2 * FD_STEP)
    return 0.5 * (hessian + hessian.T)


def _mmff(name: str) -> tuple[np.ndarray, np.ndarray]:
    mol = get_molecule(name)
    props = AllChem.MMFFGetMoleculeProperties(mol.mol)

    def forces(pos: np.ndarray) -> np.ndarray:
        # a fresh force field per call: RDKit's CalcGrad(pos) returns stale values when
        # called again on the same ForceField object (checked against energy differences)
        ff = AllChem.MMFFGetMoleculeForceField(mol.mol, props)
        return -np.array(ff.CalcGrad(pos.ravel().tolist())) * KCAL_MOL_TO_EV

    return mol.positions, _hessian(mol.positions, forces)


def _reference(name: str, spec: ReferenceSpec) -> tuple[np.ndarray, np.ndarray]:
    mol = get_molecule(name)
    atoms = Atoms(mol.symbols, positions=mol.positions)
    atoms.calc = make_calculator(spec)
    opt = BFGS(atoms, logfile=None)
    if not opt.run(fmax=RELAX_FMAX, steps=1000):
        raise InputError(f"{name}: relaxation with {spec.method} did not converge")
    relaxed = atoms.positions.copy()

    def forces(pos: np.ndarray) -> np.ndarray:
        atoms.positions = pos
        return atoms.get_forces()

    hessian = _hessian(relaxed, forces)
    return relaxed - relaxed.mean(axis=0), hessian


def normal_modes(name: str, sampler: str = "mmff", spec: ReferenceSpec | None = None) -> Modes:
    """Relaxed geometry and vibrational modes of ``name`` (cached per sampler and method)."""
    if sampler not in SAMPLERS:
        raise InputError(f"unknown sm sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
    spec = spec or ReferenceSpec()
    key = (name, sampler, spec.method if sampler == "reference" else "")
    if key not in _CACHE:
        positions, hessian = _mmff(name) if sampler == "mmff" else _reference(name, spec)
        masses = Atoms(get_molecule(name).symbols).get_masses()
        m3 = np.repeat(masses, 3)
        eigval, eigvec = np.linalg.eigh(hessian / np.sqrt(np.outer(m3, m3)))
        vib = np.argsort(np.abs(eigval))[N_RIGID:]
        if np.any(eigval[vib] <= 0):
            raise InputError(f"{name}: the {sampler} geometry is not a minimum (imaginary mode)")
        _CACHE[key] = Modes(positions, masses, eigval[vib], eigvec[:, vib])
    return _CACHE[key]


def thermal_sample(
    name: str, modes: Modes, temperature: float, rng: np.random.Generator, max_bond_strain: float
) -> np.ndarray:
    """Positions of one harmonic-Boltzmann sample of ``modes`` at ``temperature`` K."""
    floor = (FREQ_FLOOR_CM / CM_PER_SQRT_EV_A2_AMU) ** 2
    sigma = np.sqrt(kB * temperature / np.maximum(modes.omega2, floor))
    inv_sqrt_m = 1.0 / np.sqrt(np.repeat(modes.masses, 3))
    pairs = np.array(get_molecule(name).bonds)
    eq = modes.positions
    ref = np.linalg.norm(eq[pairs[:, 0]] - eq[pairs[:, 1]], axis=1)
    for _ in range(MAX_ATTEMPTS):
        amplitudes = rng.normal(size=sigma.size) * sigma
        pos = eq + (inv_sqrt_m * (modes.vectors @ amplitudes)).reshape(-1, 3)
        lengths = np.linalg.norm(pos[pairs[:, 0]] - pos[pairs[:, 1]], axis=1)
        dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(len(pos)) * 1e9
        if np.abs(lengths / ref - 1).max() <= max_bond_strain and dist.min() >= MIN_PAIR_DISTANCE:
            return pos
    raise InputError(
        f"{name} at {temperature} K: no sample within {max_bond_strain:.0%} bond strain in "
        f"{MAX_ATTEMPTS} tries; lower the temperature"
    )


def single_molecule_frames(
    name: str,
    count: int,
    temperatures: list[float],
    seed: int = 1,
    box: float | None = None,
    sampler: str = "reference",
    spec: ReferenceSpec | None = None,
    max_bond_strain: float = 0.15,
) -> list[Atoms]:
    """``count`` frames of molecule ``name``, temperatures used in turn.

    Non-periodic by default; with ``box`` (A) the molecule sits in the centre of a periodic
    cubic cell (for plane-wave references).
    """
    if count < 0:
        raise InputError(f"sm count for {name} must be >= 0, got {count}")
    if not temperatures or min(temperatures) <= 0:
        raise InputError("sm temperatures must be a non-empty list of positive kelvin values")
    if count == 0:
        return []
    modes = normal_modes(name, sampler, spec)
    symbols = get_molecule(name).symbols
    frames = []
    for k in range(count):
        temperature = float(temperatures[k % len(temperatures)])
        rng = np.random.default_rng([seed, zlib.crc32(name.encode()), k])
        pos = thermal_sample(name, modes, temperature, rng, max_bond_strain)
        atoms = Atoms(symbols, positions=pos)
        if box is not None:
            atoms.set_cell([box, box, box])
            atoms.pbc = True
            atoms.center()
        frames.append(
            tag_frame(
                atoms,
                "sm",
                f"{name}1",
                f"sm-{name}-s{seed}-{k:04d}",
                temperature_K=temperature,
                seed=seed,
                sampler=sampler,
            )
        )
    return frames
