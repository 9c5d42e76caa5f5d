"""Files of a halt triage: ``halt.json``, the frames as extxyz and a picture of the failure.

``halt_frames.extxyz`` holds the :data:`~xfer.analysis.triage.HISTORY` frames before the
halt and the halted frame (last), unwrapped so molecules stay whole, with per-atom
``mol`` and ``lammps_id`` (and ``devi_f`` where the run wrote it) for ASE or OVITO.
``halt.png`` draws the involved molecules and every molecule within
:data:`NEIGHBOUR_A` of them (made whole around the broken bond), the bond in red and the
closest intermolecular contact dotted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.data.colors import jmol_colors
from ase.geometry import cellpar_to_cell
from matplotlib.figure import Figure

from xfer.analysis.figures import save_figure
from xfer.analysis.rundir import RunDir, load_run
from xfer.analysis.triage import HaltFrames, HaltReport, load_halt_frames, triage
from xfer.atomic import atomic_path, write_json
from xfer.chem.formula import element_of_mass

HALT_FILE = "halt.json"
FRAMES_FILE = "halt_frames.extxyz"
PICTURE_FILE = "halt.png"
NEIGHBOUR_A = 3.5  # molecules with an atom this close to the involved ones are drawn
BOND_KINDS = ("intramolecular", "intermolecular")  # failures a bond tells about
STRETCHED = 1.25  # other halts name their longest bond only beyond this many r0


def write_frames(target: Path, frames: HaltFrames) -> Path:
    """The followed frames as extxyz (last = halted frame)."""
    import ase.io

    u = frames.system.universe
    symbols = [element_of_mass(m) for m in u.atoms.masses]
    images = []
    for k, ts in enumerate(u.trajectory):
        atoms = Atoms(symbols, positions=u.atoms.positions.astype(float),
                      cell=cellpar_to_cell(ts.dimensions), pbc=True)  # fmt: skip
        atoms.new_array("mol", u.atoms.resids.astype(int))
        atoms.new_array("lammps_id", u.atoms.ids.astype(int))
        if frames.devi_f is not None:
            last = k == len(u.trajectory) - 1
            atoms.new_array("devi_f", frames.devi_f if last else np.full(len(atoms), np.nan))
        atoms.info["step"] = int(frames.steps[k])
        atoms.info["halted_frame"] = k == len(u.trajectory) - 1
        images.append(atoms)
    with atomic_path(target) as tmp:
        ase.io.write(tmp, images, format="extxyz")
    return target


def _whole_around(pos: np.ndarray, centre: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """``pos`` shifted by whole cell vectors so its mean is the image nearest ``centre``."""
    frac = (pos.mean(axis=0) - centre) @ np.linalg.inv(cell)
    return pos - np.round(frac) @ cell


def draw_halt(target: Path, report: HaltReport, frames: HaltFrames) -> Path:
    """3D picture of the involved molecules and their neighbours at the halted frame."""
    from MDAnalysis.lib.distances import capped_distance

    u = frames.system.universe
    u.trajectory[-1]
    pos, box = u.atoms.positions.astype(float), u.dimensions
    cell = cellpar_to_cell(box)
    by_id = {int(a): k for k, a in enumerate(u.atoms.ids)}
    mol_of = u.atoms.resids
    involved = {m["mol"] for m in report.molecules} or {int(mol_of[by_id[report.bond.atoms[0].id]])}
    core = np.flatnonzero(np.isin(mol_of, list(involved)))
    pairs, _ = capped_distance(pos[core], pos, NEIGHBOUR_A, box=box)
    shown = set(involved) | {int(mol_of[j]) for j in pairs[:, 1]}
    bond_atoms = [by_id[a.id] for a in report.bond.atoms] if report.bond else list(core[:1])
    centre = pos[bond_atoms].mean(axis=0)
    fig = Figure(figsize=(4.5, 4.5), layout="constrained")
    ax = fig.add_subplot(projection="3d")
    placed = {}
    for mol in sorted(shown):
        idx = np.flatnonzero(mol_of == mol)
        xyz = _whole_around(pos[idx], centre, cell)
        placed.update({int(i): p for i, p in zip(idx, xyz, strict=True)})
        alpha = 1.0 if mol in involved else 0.35
        z = [atomic_numbers[element_of_mass(m)] for m in u.atoms.masses[idx]]
        ax.scatter(*xyz.T, s=[200 * covalent_radii[n] for n in z], c=jmol_colors[z],
                   edgecolors="k", linewidths=0.3, alpha=alpha, depthshade=False)  # fmt: skip
    for i, j in u.atoms.bonds.indices:
        if int(i) in placed and int(j) in placed and mol_of[i] == mol_of[j]:
            a, b = placed[int(i)], placed[int(j)]
            if np.linalg.norm(a - b) < 4.0:  # a broken bond is drawn separately
                ax.plot(*np.array([a, b]).T, color="0.4", lw=1)
    if report.bond is not None:
        a, b = (placed[by_id[x.id]] for x in report.bond.atoms)
        ax.plot(*np.array([a, b]).T, color="red", lw=2.5, label=f"{report.bond.label} "
                f"{report.bond.length_A:.2f} A (r0 {report.bond.r0_A:.2f})")  # fmt: skip
    c = report.contact_at_halt
    if c is not None and all(by_id[x.id] in placed for x in c.atoms):
        a, b = (placed[by_id[x.id]] for x in c.atoms)
        ax.plot(*np.array([a, b]).T, color="blue", ls=":", lw=2,
                label=f"contact {c.distance_A:.2f} A")  # fmt: skip
    ax.set_axis_off()
    ax.set_title(report.mode, fontsize=8, wrap=True)
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    return save_figure(fig, target)


def write_halt_triage(run_dir: str | Path, out: str | Path) -> HaltReport:
    """Triage the halted run in ``run_dir``; halt.json, extxyz and picture into ``out``."""
    run: RunDir = load_run(run_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames = load_halt_frames(run)
    report = triage(run, frames)
    write_frames(out / FRAMES_FILE, frames)
    draw_halt(out / PICTURE_FILE, report, frames)
    report = report.model_copy(update={"files": {"frames": FRAMES_FILE, "picture": PICTURE_FILE}})
    write_json(out / HALT_FILE, report.model_dump(mode="json"))
    return report


def halt_line(report: HaltReport) -> str:
    """One line for the report: condition, when, which molecule and bond, what kind."""
    mols = ", ".join(f"{m['species']} mol {m['mol']}" for m in report.molecules)
    text = (f"{report.ensemble.upper()} halt ({report.reason}) at step {report.step} "
            f"({report.time_ps:.4g} ps): {report.mode}")  # fmt: skip
    if mols:
        text += f"; {mols}"
    b = report.bond
    if b is not None and (report.kind in BOND_KINDS or b.length_A > STRETCHED * b.r0_A):
        text += f"; bond {b.label} {b.length_A:.2f} A vs r0 {b.r0_A:.2f} A"
    if report.closest_contact_A is not None and report.typical_contact_A is not None:
        text += (f"; closest intermolecular contact {report.closest_contact_A:.2f} A "
                 f"(typical {report.typical_contact_A:.2f} A)")  # fmt: skip
    if not report.halted_frame_written:
        text += f"; halted frame not written, last dumped frame (step {report.frames_steps[-1]})"
    if report.worst_atoms:
        w = report.worst_atoms[0]
        devi = f" devi_f {w['devi_f']:.3g} eV/A" if "devi_f" in w else ""
        text += f"; worst atom id {w['id']} ({w['element']}, {w['species']} mol {w['mol']}){devi}"
    return text
