"""Halt triage: how a halted run failed, read from its halted frame and the frames before.

A halted run directory holds ``result.json`` (which condition fired: ``halt_reason`` and
``halt_detail``), ``traj.dump``, ``system.data`` and, when LAMMPS stopped cleanly,
``last_frame.dump`` (the halted frame; a ``devi_f`` column when a committee halted on
uncertainty). :class:`HaltTrajectory` (MDAnalysis' ``AnalysisBase`` pattern) follows the
molecules involved over the halted frame and the :data:`HISTORY` frames before it: the
length of the broken bond, the most stretched bond of the system against its length in
the starting structure, and the closest intermolecular contact of the involved molecules
against the closest contact of the whole liquid in the frames before the halt. A contact
below :data:`CLOSE_FRACTION` of that typical value makes the failure intermolecular (two
molecules pushed together), else intramolecular (a bond that came apart on its own).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from MDAnalysis.analysis.base import AnalysisBase
from MDAnalysis.lib.distances import calc_bonds, capped_distance, self_capped_distance

from xfer.analysis.dump import DumpTrajectory, read_dump
from xfer.analysis.results import Record
from xfer.analysis.rundir import RunDir
from xfer.analysis.universe import MolecularSystem, load_system
from xfer.chem.formula import element_of_mass
from xfer.errors import InputError

HISTORY = 5  # frames before the halted frame that are followed and written
# contact / typical closest contact below this: an intermolecular failure. A C-H bond of a
# packed OPLS-AA box stretched by 0.8 A brings its H to 1.44 A of a neighbour's H against a
# typical closest contact of 2.18 A (0.66): the stretch alone, so the cut sits below that.
CLOSE_FRACTION = 0.6
CONTACT_CUTOFF = 6.0  # A searched for intermolecular contacts
WORST_ATOMS = 5  # atoms listed for an uncertainty halt
DENSITY_POINTS = 400  # density trajectory points kept in halt.json (evenly subsampled)


class AtomRef(Record):
    """One atom: LAMMPS id, element, name inside its molecule, molecule id and species."""

    id: int
    element: str
    name: str  # element + 1-based index in the molecule, e.g. "H7"
    mol: int
    species: str


class BondState(Record):
    """A bond at the halted frame: its atoms, length and reference length."""

    atoms: tuple[AtomRef, AtomRef]
    label: str  # atom names in the molecule, e.g. "C2-H7"
    bond_type: str | None = None  # the engine's bond-type label (e.g. OPLS "CT-HC")
    elements: str  # e.g. "C-H"
    length_A: float
    r0_A: float
    lengths_A: list[float]  # over the frames followed (last = halted frame)


class Contact(Record):
    """Closest intermolecular contact of the involved molecules in one frame."""

    atoms: tuple[AtomRef, AtomRef]
    distance_A: float


class HaltReport(Record):
    """What ``halt.json`` holds."""

    run_dir: str
    ensemble: str
    reason: str  # the halt condition (bond, density, uncertainty, nan, lost_atoms)
    step: int
    time_ps: float
    detail: dict | None  # result.json's halt_detail as written by the engine
    molecules: list[dict]  # {"mol", "species", "n_atoms"} of the molecules involved
    bond: BondState | None = None  # the broken bond (bond halt) or the most stretched one
    contact_at_halt: Contact | None = None
    closest_contact_A: float | None = None  # closest over the frames followed
    contacts_A: list[float | None] = []  # the involved molecules' closest contact per frame
    typical_contact_A: float | None = None  # median system-wide closest contact before halt
    kind: str  # "intramolecular", "intermolecular", "density", "uncertainty"
    mode: str  # one line with numbers, e.g. "C-H bond, intermolecular approach 0.90 A ..."
    failure: str  # the mode without numbers, to count over a committee
    density: dict | None = None  # {"time_ps": [...], "density": [...], "limit": ...}
    worst_atoms: list[dict] = []  # uncertainty halts: atom + devi_f, largest first
    frames_steps: list[int] = []  # steps of the frames written (last = halted frame)
    halted_frame_written: bool = True  # False: LAMMPS stopped on an error, last dump frame used
    files: dict[str, str] = {}  # name -> file in the triage directory


def _devi_column(path: Path) -> np.ndarray | None:
    """The ``devi_f`` column of a one-frame dump, sorted by atom id (None if absent)."""
    lines = path.read_text().splitlines()
    header = next((k for k, line in enumerate(lines) if line.startswith("ITEM: ATOMS")), None)
    if header is None:
        raise InputError(f"{path}: no ITEM: ATOMS section")
    names = lines[header].split()[2:]
    if "devi_f" not in names:
        return None
    table = np.array([line.split() for line in lines[header + 1 :] if line.strip()])
    ids = table[:, names.index("id")].astype(int)
    return table[np.argsort(ids), names.index("devi_f")].astype(float)


@dataclasses.dataclass(frozen=True)
class HaltFrames:
    """The halted frame and up to :data:`HISTORY` frames before it, with the start frame."""

    system: MolecularSystem
    steps: np.ndarray
    start_positions: np.ndarray  # step-0 (or first) frame: reference bond lengths
    start_box: np.ndarray
    devi_f: np.ndarray | None  # per atom at the halted frame, atoms sorted by id
    halted_frame_written: bool  # last_frame.dump exists (else the last dumped frame is used)


def _frames(traj: DumpTrajectory, keep: np.ndarray) -> DumpTrajectory:
    return dataclasses.replace(
        traj, steps=traj.steps[keep], positions=traj.positions[keep],
        dimensions=traj.dimensions[keep],
    )  # fmt: skip


def load_halt_frames(run: RunDir) -> HaltFrames:
    """Frames to triage: last_frame.dump (if written) after the last frames of traj.dump."""
    traj = read_dump(run.dump_path)
    last_path = run.path / "last_frame.dump"
    devi = None
    if last_path.is_file():
        last = read_dump(last_path)
        if not np.array_equal(last.ids, traj.ids):
            raise InputError(f"{last_path}: atoms differ from {run.dump_path}")
        before = np.flatnonzero(traj.steps < last.steps[0])[-HISTORY:]
        history = _frames(traj, before)
        combined = dataclasses.replace(
            traj,
            steps=np.concatenate([history.steps, last.steps]),
            positions=np.concatenate([history.positions, last.positions]),
            dimensions=np.concatenate([history.dimensions, last.dimensions]),
        )
        devi = _devi_column(last_path)
    else:  # LAMMPS stopped with an error: the last dumped frame is the latest one known
        combined = _frames(traj, np.arange(traj.n_frames)[-(HISTORY + 1) :])
    system = load_system(run.data_path, combined, run.result.timestep_fs, run.result.mix)
    return HaltFrames(system, combined.steps, traj.positions[0], traj.dimensions[0], devi,
                      last_path.is_file())  # fmt: skip


class HaltTrajectory(AnalysisBase):
    """Per frame: length of ``bond`` (atom indices), the involved molecules' closest
    intermolecular contact, and the system-wide closest intermolecular contact.

    Results: ``bond_length`` (n_frames,), ``contact`` (n_frames,), ``contact_pair``
    (n_frames, 2) atom indices, ``system_contact`` (n_frames,): closest contact between
    the other molecules, the liquid's typical closest approach.
    """

    def __init__(self, atomgroup, involved: np.ndarray, bond: tuple[int, int] | None, **kw):
        super().__init__(atomgroup.universe.trajectory, **kw)
        self.atoms = atomgroup
        self.involved = np.asarray(involved)
        self.bond = bond
        frag = np.empty(atomgroup.n_atoms, dtype=int)
        for k, f in enumerate(atomgroup.fragments):
            frag[f.indices] = k
        self.fragment = frag
        inside = np.isin(frag, list(set(frag[self.involved])))
        self.others = np.flatnonzero(~inside)
        self.inside = inside

    def _prepare(self):
        n = self.n_frames
        self.results.bond_length = np.full(n, np.nan)
        self.results.contact = np.full(n, np.nan)
        self.results.contact_pair = np.full((n, 2), -1)
        self.results.system_contact = np.full(n, np.nan)

    def _single_frame(self):
        k, pos, box = self._frame_index, self.atoms.positions, self._ts.dimensions
        if self.bond is not None:
            i, j = self.bond
            self.results.bond_length[k] = _distance(pos[i], pos[j], box)
        pairs, dist = capped_distance(
            pos[self.involved], pos[self.others], CONTACT_CUTOFF, box=box
        )
        if len(dist):
            best = int(np.argmin(dist))
            self.results.contact[k] = dist[best]
            self.results.contact_pair[k] = (
                self.involved[pairs[best, 0]], self.others[pairs[best, 1]]
            )
        pairs, dist = self_capped_distance(pos, CONTACT_CUTOFF, box=box)
        inter = self.fragment[pairs[:, 0]] != self.fragment[pairs[:, 1]]
        bystanders = inter & ~self.inside[pairs[:, 0]] & ~self.inside[pairs[:, 1]]
        use = bystanders if bystanders.any() else inter  # the liquid around, if there is one
        if use.any():
            self.results.system_contact[k] = dist[use].min()


def _distance(a: np.ndarray, b: np.ndarray, box: np.ndarray) -> float:
    return float(calc_bonds(a[None], b[None], box=box)[0])


class _Atoms:
    """Names of the atoms of a system (element + index in molecule, molecule, species)."""

    def __init__(self, system: MolecularSystem):
        u = system.universe
        self.ids = u.atoms.ids
        self.elements = [element_of_mass(m) for m in u.atoms.masses]
        self.mol = u.atoms.resids
        self.fragments = [f.indices for f in u.atoms.fragments]
        self.fragment = np.empty(u.atoms.n_atoms, dtype=int)
        self.local = np.empty(u.atoms.n_atoms, dtype=int)
        for k, idx in enumerate(self.fragments):
            self.fragment[idx] = k
            self.local[idx] = np.arange(len(idx))
        self.species = system.species

    def ref(self, i: int) -> AtomRef:
        i = int(i)
        return AtomRef(
            id=int(self.ids[i]), element=self.elements[i],
            name=f"{self.elements[i]}{self.local[i] + 1}", mol=int(self.mol[i]),
            species=self.species[self.fragment[i]],
        )  # fmt: skip

    def molecule(self, i: int) -> dict:
        frag = int(self.fragment[i])
        return {"mol": int(self.mol[i]), "species": self.species[frag],
                "n_atoms": len(self.fragments[frag])}  # fmt: skip


def _bond_lengths(pos: np.ndarray, bonds: np.ndarray, box: np.ndarray) -> np.ndarray:
    return calc_bonds(pos[bonds[:, 0]], pos[bonds[:, 1]], box=box)


def _bond_state(names: _Atoms, bond, r0: float, lengths, label: str | None) -> BondState:
    a, b = names.ref(bond[0]), names.ref(bond[1])
    pair = sorted((a, b), key=lambda x: x.element)
    return BondState(
        atoms=(a, b), label=f"{a.name}-{b.name}", bond_type=label,
        elements="-".join(x.element for x in pair), length_A=float(lengths[-1]),
        r0_A=float(r0), lengths_A=[float(v) for v in lengths],
    )  # fmt: skip


def _worst_atoms(frames: HaltFrames, names: _Atoms, detail: dict, index_of: dict) -> list[dict]:
    """Atoms with the largest committee force deviation (``devi_f``), largest first."""
    if frames.devi_f is not None:
        order = np.argsort(frames.devi_f)[::-1][:WORST_ATOMS]
        return [{**names.ref(i).model_dump(), "devi_f": float(frames.devi_f[i])} for i in order]
    if "atom_id" in detail:  # an uncertainty halt whose frame has no devi_f column
        top = {**names.ref(index_of[int(detail["atom_id"])]).model_dump()}
        if "max_devi_f" in detail:
            top["devi_f"] = float(detail["max_devi_f"])
        return [top]
    return []


def triage(run: RunDir, frames: HaltFrames | None = None) -> HaltReport:
    """Name the condition, molecules, bond and failure kind of a halted run."""
    result = run.result
    if not result.halted:
        raise InputError(f"{run.path}: the run did not halt")
    frames = frames or load_halt_frames(run)
    u = frames.system.universe
    names = _Atoms(frames.system)
    detail = result.halt_detail if isinstance(result.halt_detail, dict) else {}
    index_of = {int(a): k for k, a in enumerate(names.ids)}
    bonds = u.atoms.bonds.indices
    u.trajectory[-1]
    stretch = _bond_lengths(u.atoms.positions, bonds, u.dimensions)
    start = _bond_lengths(frames.start_positions, bonds, frames.start_box)
    reason = result.halt_reason or "unknown"
    worst: list[dict] = []
    r0 = label = None
    if reason == "bond" and "atom_ids" in detail:  # the engine named the broken bond
        i, j = (index_of[int(a)] for a in detail["atom_ids"])
        k = int(np.flatnonzero(((bonds == (i, j)) | (bonds == (j, i))).all(1))[0])
        r0, label = detail.get("r0_A"), detail.get("bond_type")
    else:
        worst = _worst_atoms(frames, names, detail, index_of)
        ratio = stretch / start  # the most stretched bond (of the worst atom's molecule)
        if worst:
            frag = names.fragment[index_of[worst[0]["id"]]]
            ratio = np.where(names.fragment[bonds[:, 0]] == frag, ratio, -np.inf)
        k = int(np.argmax(ratio))
    bond_pair = (int(bonds[k, 0]), int(bonds[k, 1]))
    r0 = float(start[k]) if r0 is None else r0
    involved_atoms = [index_of[w["id"]] for w in worst[:1]] or [*bond_pair]
    involved = np.concatenate([names.fragments[names.fragment[i]] for i in set(involved_atoms)])
    analysis = HaltTrajectory(u.atoms, involved, bond_pair).run()
    res = analysis.results
    bond = _bond_state(names, bond_pair, r0, res.bond_length, label)
    contact = None
    if np.isfinite(res.contact[-1]):
        i, j = res.contact_pair[-1]
        contact = Contact(atoms=(names.ref(i), names.ref(j)), distance_A=float(res.contact[-1]))
    history = res.system_contact[:-1] if len(res.system_contact) > 1 else res.system_contact
    typical = float(np.nanmedian(history)) if np.isfinite(history).any() else None
    closest = float(np.nanmin(res.contact)) if np.isfinite(res.contact).any() else None
    close = closest is not None and typical is not None and closest < CLOSE_FRACTION * typical
    kind = "intermolecular" if close else "intramolecular"
    density = None
    if reason == "density":
        kind = "density"
        density = _density_series(run, detail)
    elif reason == "uncertainty":
        kind = "uncertainty"
    molecules = {m["mol"]: m for m in (names.molecule(i) for i in involved_atoms)}
    if kind == "density":  # the whole box failed, no molecule in particular
        molecules = {}
    if close and contact is not None:
        molecules.setdefault(contact.atoms[1].mol, names.molecule(index_of[contact.atoms[1].id]))
    step = result.n_steps_done
    return HaltReport(
        run_dir=str(run.path), ensemble=result.ensemble, reason=reason, step=step,
        time_ps=step * result.timestep_fs / 1000.0, detail=result.halt_detail,
        molecules=list(molecules.values()), bond=bond, contact_at_halt=contact,
        closest_contact_A=closest, typical_contact_A=typical, kind=kind,
        contacts_A=[float(v) if np.isfinite(v) else None for v in res.contact],
        mode=_mode(reason, kind, bond, closest, density, worst),
        failure=_mode(reason, kind, bond, closest, density, worst, numbers=False),
        density=density,
        worst_atoms=worst, frames_steps=[int(s) for s in frames.steps],
        halted_frame_written=frames.halted_frame_written,
    )  # fmt: skip


def _density_series(run: RunDir, detail: dict) -> dict:
    thermo = run.thermo
    t, rho = thermo["time_ps"], thermo["density"]
    pick = np.unique(np.linspace(0, len(t) - 1, min(len(t), DENSITY_POINTS)).astype(int))
    return {
        "time_ps": [float(v) for v in t[pick]],
        "density": [float(v) for v in rho[pick]],
        "start": float(rho[0]),
        "at_halt": float(detail.get("density_g_cm3", rho[-1])),
    }


def _mode(reason, kind, bond: BondState, closest, density, worst, numbers: bool = True) -> str:
    """One line naming the failure, e.g. "C-H bond, intramolecular"; without ``numbers``
    it is the class of failure, counted over a committee."""
    if kind == "density":
        d = density
        way = "collapse" if d["at_halt"] > d["start"] else "expansion"
        values = f" ({d['start']:.2f} -> {d['at_halt']:.2f} g/cm3)" if numbers else ""
        return f"density {way}{values}"
    if kind == "uncertainty":
        top = worst[0] if worst else None
        where = f" at {top['element']} of {top['species']}" if top else ""
        return f"uncertainty{where}"
    text = f"{bond.elements} bond" if reason == "bond" else f"{reason} ({bond.elements} longest)"
    if kind == "intermolecular":
        values = f" {closest:.2f} A" if numbers else ""
        return f"{text}, intermolecular approach{values} before the halt"
    return f"{text}, intramolecular"
