"""Import labelled extxyz files that use other key names, via a key map.

A key map names the file's keys for ``energy``, ``forces`` and optionally ``stress`` or
``virial``, and where the file has them its frame kind (``config_type``), per-atom
molecule ids (``mol_id``, e.g. ``molID``) and composition label (``composition``, e.g.
``Comp``); built-in maps cover common conventions. Keys ASE moves into a calculator on
reading (``energy``, ``forces``, ``stress``, ...) are found there too.

Tags: a frame's own kind can be routed to xfer tags (``config_types``, e.g.
``{IsolatedAtom = "e0", bulk = "opls"}``); other frames get the import's ``tag``, except
single-atom frames, which are isolated-atom references (``e0``) unless routed elsewhere.
Public sets often store isolated atoms without forces: a single atom's forces are zero,
so they are accepted as such. Frames with a missing label, a non-finite value, wrong shapes
or a zero-size periodic cell are all reported in one error naming the file and frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.stress import voigt_6_to_full_3x3_stress

from xfer.data.frames import COMPOSITION, FRAME_ID, is_periodic, tag_frame
from xfer.data.molgraph import composition_of
from xfer.data.reference import Labels, apply_labels
from xfer.data.store import read_frames
from xfer.errors import InputError

KEY_MAPS: dict[str, dict[str, str]] = {
    "xfer": {"energy": "REF_energy", "forces": "REF_forces", "virial": "REF_virial"},
    "ase": {"energy": "energy", "forces": "forces", "stress": "stress"},
    "xtb": {"energy": "energy_xtb", "forces": "forces_xtb", "stress": "stress_xtb"},
    "dft": {"energy": "DFT_energy", "forces": "DFT_forces", "virial": "DFT_virial"},
}
LABEL_FIELDS = ("energy", "forces", "stress", "virial")
META_FIELDS = ("config_type", "mol_id", "composition")  # the file's own tags and molecules
MAP_FIELDS = (*LABEL_FIELDS, *META_FIELDS)
E0_TAG = "e0"
MAX_LISTED = 20


def resolve_key_map(key_map: str | dict[str, str]) -> dict[str, str]:
    """A built-in key map by name, or a user map checked for its field names."""
    if isinstance(key_map, str):
        if key_map not in KEY_MAPS:
            raise InputError(
                f"unknown key map {key_map!r}; built-in maps: {', '.join(KEY_MAPS)} "
                "(or give a table like {energy = 'DFT_energy', forces = 'DFT_forces'})"
            )
        return dict(KEY_MAPS[key_map])
    unknown = sorted(set(key_map) - set(MAP_FIELDS))
    if unknown or "energy" not in key_map or "forces" not in key_map:
        raise InputError(
            f"bad key map {key_map}: needs 'energy' and 'forces', may have 'stress' or "
            f"'virial' and {', '.join(map(repr, META_FIELDS))}"
            f"{'; unknown fields: ' + ', '.join(unknown) if unknown else ''}"
        )
    if "stress" in key_map and "virial" in key_map:
        raise InputError("a key map gives either 'stress' or 'virial', not both")
    return dict(key_map)


def _lookup(atoms: Atoms, key: str) -> Any:
    """Value of ``key`` from info, arrays or (keys ASE claims for itself) the calculator."""
    if key in atoms.info:
        return atoms.info[key]
    if key in atoms.arrays:
        return atoms.arrays[key]
    if atoms.calc is not None and key in atoms.calc.results:
        return atoms.calc.results[key]
    return None


def _as_3x3(value: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=float).ravel()
    if arr.size == 6:
        return voigt_6_to_full_3x3_stress(arr)
    if arr.size == 9:
        return arr.reshape(3, 3)
    raise ValueError(f"has {arr.size} components (need 6 or 9)")


def frame_labels(atoms: Atoms, key_map: dict[str, str]) -> Labels:
    """Labels of one frame under ``key_map``; ``ValueError`` says what is wrong."""
    if is_periodic(atoms) and not atoms.cell.volume > 1e-6:
        raise ValueError("zero-size cell in a periodic frame")
    if np.any(atoms.pbc) and not np.all(atoms.cell.lengths()[atoms.pbc] > 1e-6):
        raise ValueError("zero-size cell vector along a periodic direction")
    energy = _lookup(atoms, key_map["energy"])
    forces = _lookup(atoms, key_map["forces"])
    if energy is None:
        raise ValueError(f"missing energy {key_map['energy']!r}")
    if forces is None and len(atoms) == 1:
        forces = np.zeros((1, 3))  # an isolated atom feels no force (public sets omit them)
    if forces is None:
        raise ValueError(f"missing forces {key_map['forces']!r}")
    try:
        energy = float(np.asarray(energy, dtype=float).reshape(()))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"energy {key_map['energy']!r} is not one number") from exc
    forces = np.asarray(forces, dtype=float)
    if forces.shape != (len(atoms), 3):
        raise ValueError(f"forces {key_map['forces']!r} have shape {forces.shape}")
    if not np.isfinite(energy):
        raise ValueError(f"non-finite energy ({energy})")
    if not np.all(np.isfinite(forces)):
        raise ValueError("non-finite forces")
    stress = None
    for field in ("stress", "virial"):
        if field in key_map and is_periodic(atoms):
            value = _lookup(atoms, key_map[field])
            if value is None:
                continue
            try:
                tensor = _as_3x3(value)
            except ValueError as exc:
                raise ValueError(f"{field} {key_map[field]!r} {exc}") from exc
            if not np.all(np.isfinite(tensor)):
                raise ValueError(f"non-finite {field}")
            stress = tensor if field == "stress" else -tensor / atoms.get_volume()
    return Labels(energy, forces, stress)


def frame_tag(atoms: Atoms, key_map: dict[str, str], tag: str, config_types: dict[str, str]) -> str:
    """The xfer tag of one imported frame: its own kind routed by ``config_types``, else
    ``e0`` for a single atom, else the import's ``tag``."""
    own = _lookup(atoms, key_map["config_type"]) if "config_type" in key_map else None
    if own is not None and str(own) in config_types:
        return config_types[str(own)]
    return E0_TAG if len(atoms) == 1 else tag


def _mol_ids(atoms: Atoms, key_map: dict[str, str]) -> np.ndarray | None:
    """Per-atom molecule ids (1-based, as xfer's systems) from the file's key, if any."""
    key = key_map.get("mol_id", "mol_id")
    value = atoms.arrays.get(key)
    if value is None:
        if "mol_id" in key_map:
            raise ValueError(f"missing molecule ids {key!r}")
        return None
    ids = np.asarray(value).astype(int).ravel()
    if ids.shape != (len(atoms),):
        raise ValueError(f"molecule ids {key!r} have shape {np.shape(value)}")
    return ids - ids.min() + 1


def import_frames(
    path: Path,
    key_map: str | dict[str, str],
    tag: str,
    composition: str | None = None,
    method: str | None = None,
    config_types: dict[str, str] | None = None,
) -> list[Atoms]:
    """Frames of ``path`` with REF_* labels and xfer tags; all bad frames in one error."""
    path = Path(path)
    mapping = resolve_key_map(key_map)
    routes = dict(config_types or {})
    raw = read_frames(path)
    if not raw:
        raise InputError(f"{path}: no frames")
    out: list[Atoms] = []
    bad: list[str] = []
    for index, atoms in enumerate(raw):
        try:
            labels = frame_labels(atoms, mapping)
            mol_ids = _mol_ids(atoms, mapping)
        except ValueError as exc:
            bad.append(f"frame {index}: {exc}")
            continue
        clean = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        if mol_ids is not None:
            clean.arrays["mol_id"] = mol_ids
        apply_labels(clean, labels, method or f"imported:{path.name}")
        frame_kind = frame_tag(atoms, mapping, tag, routes)
        own_comp = _lookup(atoms, mapping["composition"]) if "composition" in mapping else None
        comp = composition or own_comp or atoms.info.get(COMPOSITION) or composition_of(clean)
        if frame_kind == E0_TAG:
            if len(clean) != 1:
                bad.append(f"frame {index}: routed to e0 but holds {len(clean)} atoms")
                continue
            comp = clean.get_chemical_symbols()[0]  # e0 frames are named by their element
        fid = atoms.info.get(FRAME_ID) or f"{frame_kind}-{path.stem}-{index:05d}"
        out.append(
            tag_frame(clean, frame_kind, str(comp), str(fid), source=path.name, source_index=index)
        )
    if bad:
        listed = "; ".join(bad[:MAX_LISTED])
        more = f"; ... {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise InputError(f"{path}: {len(bad)} of {len(raw)} frames rejected: {listed}{more}")
    return out
