"""Synthetic run directories with known answers, in the exact format ``xfer md`` writes.

Rigid molecules (RDKit geometries) whose centres of mass perform Brownian motion with a
chosen diffusion coefficient (optionally plus a constant drift, to cross the periodic
boundary), a density series drawn from an AR(1) process with a chosen mean, standard
deviation and correlation time, and a ``result.json`` describing the run. Used by the
tests and the analysis benchmark; nothing here is a simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase.data import atomic_masses, atomic_numbers
from scipy.spatial.transform import Rotation

from xfer.atomic import atomic_path, write_json, write_text
from xfer.chem.molecules import get_molecule
from xfer.chem.units import AVOGADRO


@dataclass
class SyntheticRun:
    """What to write; diffusivities in A^2/ps per molecule name."""

    mix: dict[str, int] = field(default_factory=lambda: {"EC": 2, "EMC": 4})
    ensemble: str = "nvt"  # "npt" varies the thermo density; the box stays fixed
    n_frames: int = 101
    dump_every: int = 200
    timestep_fs: float = 0.5
    density: float = 1.0  # g/cm3: sets the box; mean of the NPT density series
    density_std: float = 0.02
    density_tau_ps: float = 0.0  # correlation time of the density series (0: white noise)
    diffusivity: dict[str, float] = field(default_factory=lambda: {"EC": 0.5, "EMC": 0.5})
    drift_A_ps: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tilt_xy: float = 0.0  # triclinic box if non-zero
    halted_at_frame: int | None = None  # the run stops (halt) after this frame
    time_ps_requested: float | None = None  # default: the full synthetic length
    image_flags: bool = True  # False writes wrapped x y z only (an unusable trajectory)
    seed: int = 0


def _molecule(name: str) -> tuple[list[str], np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Symbols, masses, COM-centred coordinates and bonds of one molecule."""
    mol = get_molecule(name)
    masses = np.array([atomic_masses[atomic_numbers[s]] for s in mol.symbols])
    pos = mol.positions - masses @ mol.positions / masses.sum()
    return list(mol.symbols), masses, pos, list(mol.bonds)


def write_synthetic_run(out: str | Path, spec: SyntheticRun) -> Path:
    """Write system.data, traj.dump, thermo.csv and result.json into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    symbols, masses, mol_ids, bonds, offsets, mol_names = [], [], [], [], [], []
    for name, count in spec.mix.items():
        sym, m, pos, bnd = _molecule(name)
        for _ in range(count):
            start = len(symbols)
            rot = Rotation.random(random_state=rng.integers(2**31)).as_matrix()
            offsets.append(pos @ rot.T)
            bonds += [(start + i, start + j) for i, j in bnd]
            symbols += sym
            masses.append(m)
            mol_ids += [len(mol_names) + 1] * len(sym)
            mol_names.append(name)
    total_mass = np.concatenate(masses).sum() / AVOGADRO  # g
    length = (total_mass / spec.density * 1e24) ** (1.0 / 3.0)  # A
    cell = np.array([[length, 0.0, 0.0], [spec.tilt_xy, length, 0.0], [0.0, 0.0, length]])

    dt_ps = spec.dump_every * spec.timestep_fs / 1000.0
    n_frames = spec.n_frames if spec.halted_at_frame is None else spec.halted_at_frame + 1
    n_mol = len(mol_names)
    sigma = np.sqrt(2.0 * np.array([spec.diffusivity[n] for n in mol_names]) * dt_ps)
    steps = rng.normal(size=(n_frames, n_mol, 3)) * sigma[None, :, None]
    steps[0] = 0.0
    com = rng.uniform(0.0, 1.0, (n_mol, 3)) @ cell + np.cumsum(steps, axis=0)
    com += np.arange(n_frames)[:, None, None] * dt_ps * np.array(spec.drift_A_ps)
    atom_mol = np.array(mol_ids) - 1
    unwrapped = com[:, atom_mol, :] + np.concatenate(offsets)[None]
    frac = unwrapped @ np.linalg.inv(cell)
    images = np.floor(frac).astype(int)
    wrapped = (frac - images) @ cell

    types = sorted(set(symbols), key=lambda s: atomic_numbers[s])
    type_of = np.array([types.index(s) + 1 for s in symbols])
    _write_data(out / "system.data", types, type_of, mol_ids, wrapped[0], images[0], bonds, cell)
    _write_dump(out / "traj.dump", spec, symbols, type_of, mol_ids, wrapped, images, cell)
    time_ps = np.arange(n_frames) * dt_ps
    _write_thermo(out / "thermo.csv", spec, rng, time_ps)
    t_stab = float(time_ps[-1])
    requested = spec.time_ps_requested or (spec.n_frames - 1) * dt_ps
    halted = spec.halted_at_frame is not None
    write_json(
        out / "result.json",
        {
            "ensemble": spec.ensemble,
            "temperature_K": 500.0,
            "timestep_fs": spec.timestep_fs,
            "n_steps_requested": round(requested * 1000.0 / spec.timestep_fs),
            "n_steps_done": (n_frames - 1) * spec.dump_every,
            "t_stab_ps": t_stab,
            "halted": halted,
            "halt_reason": "density" if halted else None,
            "halt_detail": {"density": 0.1} if halted else None,
            "lammps_version": "synthetic",
            "wall_s": 0.0,
            "time_ps_requested": requested,
            "dump_every": spec.dump_every,
            "mix": spec.mix,
        },
    )
    return out


def _write_data(path, types, type_of, mol_ids, pos, images, bonds, cell) -> None:
    """LAMMPS data file, atom_style full, units metal, with Masses comments and Bonds."""
    lines = ["LAMMPS data file (xfer synthetic)", ""]
    lines += [f"{len(type_of)} atoms", f"{len(bonds)} bonds", f"{len(types)} atom types"]
    lines += ["1 bond types", ""]
    lines += [f"0.0 {cell[0, 0]:.6f} xlo xhi", f"0.0 {cell[1, 1]:.6f} ylo yhi"]
    lines += [f"0.0 {cell[2, 2]:.6f} zlo zhi"]
    if cell[1, 0] != 0.0:
        lines.append(f"{cell[1, 0]:.6f} 0.0 0.0 xy xz yz")
    lines += ["", "Masses", ""]
    lines += [f"{i + 1} {atomic_masses[atomic_numbers[s]]:.4f} # {s}" for i, s in enumerate(types)]
    lines += ["", "Atoms # full", ""]
    for i, (t, m) in enumerate(zip(type_of, mol_ids, strict=True)):
        x, y, z = pos[i]
        ix, iy, iz = images[i]
        lines.append(f"{i + 1} {m} {t} 0.0 {x:.6f} {y:.6f} {z:.6f} {ix} {iy} {iz}")
    lines += ["", "Bonds", ""]
    lines += [f"{k + 1} 1 {i + 1} {j + 1}" for k, (i, j) in enumerate(bonds)]
    write_text(path, "\n".join(lines) + "\n")


def _write_dump(path, spec, symbols, type_of, mol_ids, wrapped, images, cell) -> None:
    """LAMMPS custom dump with wrapped coordinates and (optionally) image flags."""
    n = len(symbols)
    if cell[1, 0] != 0.0:
        xy = cell[1, 0]
        bounds = (
            f"ITEM: BOX BOUNDS xy xz yz pp pp pp\n{min(0.0, xy)} {cell[0, 0] + max(0.0, xy)} {xy}\n"
            f"0.0 {cell[1, 1]} 0.0\n0.0 {cell[2, 2]} 0.0\n"
        )
    else:
        bounds = (
            f"ITEM: BOX BOUNDS pp pp pp\n0.0 {cell[0, 0]}\n0.0 {cell[1, 1]}\n0.0 {cell[2, 2]}\n"
        )
    columns = "id mol type element x y z" + (" ix iy iz" if spec.image_flags else "")
    fixed = [
        f"{i + 1} {m} {t} {s}"
        for i, (m, t, s) in enumerate(zip(mol_ids, type_of, symbols, strict=True))
    ]
    line = " %.5f %.5f %.5f" + (" %d %d %d" if spec.image_flags else "")
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for k in range(len(wrapped)):
            fh.write(f"ITEM: TIMESTEP\n{k * spec.dump_every}\nITEM: NUMBER OF ATOMS\n{n}\n")
            fh.write(bounds + f"ITEM: ATOMS {columns}\n")
            values = (
                np.concatenate([wrapped[k], images[k]], axis=1)
                if spec.image_flags
                else (wrapped[k])
            )
            body = "\n".join(
                a + line % tuple(v) for a, v in zip(fixed, values.tolist(), strict=True)
            )
            fh.write(body + "\n")


def ar1_series(n: int, phi: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """A zero-mean AR(1) series of stationary std ``sigma`` and lag-1 correlation ``phi``
    (statistical inefficiency (1 + phi) / (1 - phi)): a density series of known statistics."""
    noise = rng.normal(size=n) * sigma * np.sqrt(1.0 - phi**2)
    x = np.empty(n)
    x[0] = rng.normal() * sigma
    for k in range(1, n):
        x[k] = phi * x[k - 1] + noise[k]
    return x


def _write_thermo(path, spec, rng, time_ps) -> None:
    """thermo.csv: an AR(1) density series around spec.density (constant for NVT)."""
    n = len(time_ps)
    if spec.ensemble == "npt":
        dt = time_ps[1] - time_ps[0] if n > 1 else 1.0
        phi = np.exp(-dt / spec.density_tau_ps) if spec.density_tau_ps > 0 else 0.0
        rho = spec.density + ar1_series(n, phi, spec.density_std, rng)
    else:
        rho = np.full(n, spec.density)
    rows = ["step,time_ps,temp,press,density,pe"]
    rows += [
        f"{k * spec.dump_every},{t:.6f},500.0,1.0,{r:.6f},-100.0"
        for k, (t, r) in enumerate(zip(time_ps, rho, strict=True))
    ]
    write_text(path, "\n".join(rows) + "\n")


def write_synthetic_model(model_dir: str | Path, npt: SyntheticRun, nvt: SyntheticRun) -> Path:
    """A model directory as ``xfer score`` expects it: ``npt/`` and ``nvt/`` run directories."""
    model_dir = Path(model_dir)
    write_synthetic_run(model_dir / "npt", npt)
    write_synthetic_run(model_dir / "nvt", nvt)
    return model_dir
