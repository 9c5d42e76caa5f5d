"""Steps every backend shares, written once: training sets, labels, e0, tools, model files.

A backend module keeps only what is specific to its tool (its input format, its command
line, its model file); reading and checking the training and validation sets, the
isolated-atom energies, running the tool, finding executables and LAMMPS plugins,
checking species, caching model introspection and writing model metadata live here.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, wraps
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.data import atomic_numbers, chemical_symbols

from xfer.atomic import write_json
from xfer.children import run_in_group
from xfer.data.frames import CONFIG_TYPE, ENERGY_KEY, FORCES_KEY, STRESS_KEY, VIRIAL_KEY
from xfer.errors import EnvironmentProblem, InputError
from xfer.jsonfiles import read_json
from xfer.lammps.pair import PairSpec
from xfer.provenance import file_sha256, library_versions
from xfer.runtime import THREAD_VARIABLES

LIBRARIES = ("xfer", "torch", "mace-torch", "deepmd-kit", "quippy-ase", "lammps", "ase", "tblite")
CACHE_VARIABLE = "XFER_CACHE_DIR"  # where exports of user models go (default ~/.cache/xfer)
HEAD_BYTES = 65536  # how much of a file content sniffing reads
LOG_TAIL_LINES = 8  # log lines quoted when a tool fails without a recognisable error line
T = TypeVar("T")


# ---------------------------------------------------------------- training sets


@dataclass(frozen=True)
class TrainingSets:
    """The frames a training run reads: all training frames, those fitted, those validated."""

    train_file: Path
    valid_file: Path
    frames: list[Atoms]  # every training frame, isolated-atom e0 frames included
    fit: list[Atoms]  # the frames the model is fitted to
    valid: list[Atoms]  # the frames its validation errors are computed on


def read_training_frames(path: Path) -> list[Atoms]:
    """Frames of a training/validation extxyz file; an error if missing, empty or unlabelled."""
    if not Path(path).is_file():
        raise InputError(f"training/validation file {path} does not exist")
    from xfer.data.store import read_frames  # ase.io: seconds to import, not needed for MD

    frames = read_frames(Path(path))
    if not frames:
        raise InputError(f"{path} holds no frames")
    unlabelled = [
        k for k, f in enumerate(frames) if ENERGY_KEY not in f.info or FORCES_KEY not in f.arrays
    ]
    if unlabelled:
        listed = ", ".join(map(str, unlabelled[:10])) + (" ..." if len(unlabelled) > 10 else "")
        raise InputError(
            f"{path}: {len(unlabelled)} of {len(frames)} frames lack {ENERGY_KEY}/{FORCES_KEY} "
            f"labels (frames {listed}); label them (xfer dataset build) or write the file "
            "with xfer dataset recipe"
        )
    return frames


def read_training_sets(train_file: Path, valid_file: Path, fit_e0: bool) -> TrainingSets:
    """Read both sets; without ``fit_e0`` the e0 frames are only reference energies.

    Validation frames must hold no element the training frames lack (no model can
    predict an element it never saw).
    """
    frames = read_training_frames(train_file)
    valid = read_training_frames(valid_file)
    fit = frames
    if not fit_e0:
        fit = [f for f in frames if not is_e0_frame(f)]
        valid = [f for f in valid if not is_e0_frame(f)]
        if not fit:
            raise InputError(f"{train_file} holds only e0 frames")
        if not valid:
            raise InputError(f"{valid_file} holds no frames besides e0 frames to validate on")
    unknown = sorted(set(species_of(valid)) - set(species_of(frames)))
    if unknown:
        raise InputError(f"validation frames hold elements {unknown} absent from training")
    return TrainingSets(Path(train_file), Path(valid_file), frames, fit, valid)


def is_e0_frame(frame: Atoms) -> bool:
    """Isolated-atom reference frame (``config_type = e0``)."""
    return frame.info.get(CONFIG_TYPE) == "e0"


def species_of(frames: Sequence[Atoms]) -> list[str]:
    """Elements present in ``frames``, ordered by atomic number."""
    symbols = {s for atoms in frames for s in atoms.get_chemical_symbols()}
    return sorted(symbols, key=lambda s: atomic_numbers[s])


def known_e0(frames: Sequence[Atoms], given: dict[str, float] | None) -> tuple[dict, set[str]]:
    """Isolated-atom energies from ``given`` (hyperparameter ``e0``, wins) and e0 frames.

    Returns the energies per element and their sources (``hyper``, ``e0_frames``).
    """
    e0 = {el: float(v) for el, v in (given or {}).items()}
    unknown = sorted(set(e0) - set(chemical_symbols[1:]))
    if unknown:
        raise InputError(f"e0 names unknown element(s) {', '.join(unknown)}")
    sources = {"hyper"} if e0 else set()
    for frame in filter(is_e0_frame, frames):
        if len(frame) != 1:
            raise InputError(f"an e0 frame must hold one atom, found {len(frame)}")
        symbol = frame.get_chemical_symbols()[0]
        if symbol not in e0:
            e0[symbol] = float(frame.info[ENERGY_KEY])
            sources.add("e0_frames")
    return e0, sources


def reference_virial(frame: Atoms) -> np.ndarray | None:
    """3x3 reference virial (eV) of a frame, from REF_virial or else REF_stress."""
    if VIRIAL_KEY in frame.info:
        return np.asarray(frame.info[VIRIAL_KEY], dtype=float).reshape(3, 3)
    if STRESS_KEY in frame.info:
        stress = np.asarray(frame.info[STRESS_KEY], dtype=float).ravel()
        if stress.size == 6:
            xx, yy, zz, yz, xz, xy = stress
            stress = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
        return -stress.reshape(3, 3) * frame.get_volume()
    return None


def labelled_copy(frame: Atoms, index: int, config_type: str = "default") -> Atoms:
    """``frame`` with its REF_* labels only (no calculator), as a tool's input frame.

    Energy and forces must be present; periodic frames keep their cell and (3x3) virial,
    isolated ones get no cell; partial periodicity is refused.
    """
    missing = [k for k, d in ((ENERGY_KEY, frame.info), (FORCES_KEY, frame.arrays)) if k not in d]
    if missing:
        raise InputError(f"frame {index} lacks {', '.join(missing)} labels")
    periodic = full_periodicity(frame, f"frame {index} is periodic in some directions only")
    out = Atoms(
        frame.get_chemical_symbols(),
        positions=frame.positions,
        cell=frame.cell if periodic else None,
        pbc=periodic,
    )
    out.info[ENERGY_KEY] = float(frame.info[ENERGY_KEY])
    out.info[CONFIG_TYPE] = str(frame.info.get(CONFIG_TYPE, config_type))
    out.arrays[FORCES_KEY] = np.asarray(frame.arrays[FORCES_KEY], dtype=float)
    virial = reference_virial(frame) if periodic else None
    if virial is not None:
        out.info[VIRIAL_KEY] = virial
    return out


def full_periodicity(atoms: Atoms, complaint: str) -> bool:
    """True if periodic in all three directions, False if in none; else InputError(complaint)."""
    if atoms.pbc.any() and not atoms.pbc.all():
        raise InputError(f"{complaint} (pbc={atoms.pbc})")
    return bool(atoms.pbc.all())


# ---------------------------------------------------------------- hyperparameters


def resolve_preset(
    arch: str,
    presets: dict[str, dict[str, Any]],
    hyper: dict[str, Any],
    extra: Iterable[str],
    hint: str | None = None,
) -> dict[str, Any]:
    """Preset ``hyper["preset"]`` (default ``tiny``) updated with the other keys given.

    A user may set the preset's own keys and ``extra``; anything else is an error naming
    them (or giving ``hint`` where the list is too long to print).
    """
    name = hyper.get("preset", "tiny")
    if name not in presets:
        raise InputError(f"unknown {arch} preset {name!r}; available: {', '.join(presets)}")
    known = [*presets[name], *(k for k in extra if k not in presets[name])]
    unknown = sorted(set(hyper) - set(known) - {"preset"})
    if unknown:
        allowed = hint or f"known: {', '.join(known)}"
        raise InputError(f"unknown {arch} hyperparameter(s) {', '.join(unknown)}; {allowed}")
    resolved = copy.deepcopy(presets[name])
    resolved.update(copy.deepcopy(hyper))
    resolved["preset"] = name
    return resolved


# ---------------------------------------------------------------- tools and plugins


def find_executable(name: str, package: str) -> str:
    """``name`` next to this Python (a venv's bin/), else on PATH; else EnvironmentProblem."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if not found:
        raise EnvironmentProblem(f"{name} not found: install {package} (requirements.lock.txt)")
    return found


def run_tool(
    command: Sequence[str],
    workdir: Path,
    log: Path,
    what: str,
    *,
    markers: Sequence[str] = (),
    error: type[Exception] = InputError,
    env: dict[str, str] | None = None,
    tail: int = LOG_TAIL_LINES,
) -> None:
    """Run a training/export tool in ``workdir`` with its output in ``log`` (overwritten).

    Threads default to 1 unless the user set them (see :mod:`xfer.runtime`); stdin
    answers any prompt with Enter (its default) instead of blocking. The tool and all its
    processes end with this one: on Ctrl-C, SIGTERM or an error here, and when this
    process dies (:func:`xfer.children.run_in_group`). A failure raises
    ``error`` quoting the last log lines holding one of ``markers`` (else the log's tail).
    """
    environment = dict(os.environ)
    for var in THREAD_VARIABLES:
        environment.setdefault(var, "1")
    for var, value in (env or {}).items():
        environment.setdefault(var, value)
    with open(log, "wb") as fh:
        code = run_in_group(command, workdir, environment, fh, answer=b"\n")
    if code != 0:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        reason = [ln for ln in lines if any(m in ln for m in markers)]
        shown = " | ".join(reason[-2:] or lines[-tail:])
        raise error(
            f"{what} failed (exit {code}) in {workdir}; last lines of {log}: " + shown
        )


def require_plugin(library: Path, style: str, remedy: str) -> Path:
    """``library`` if it exists; else EnvironmentProblem before any LAMMPS run starts."""
    if not Path(library).is_file():
        raise EnvironmentProblem(
            f"the LAMMPS plugin of pair_style {style} ({library}) is missing: {remedy}"
        )
    return Path(library)


def typed_pair_spec(
    style: str,
    head: str,
    known: Sequence[str],
    elements: Sequence[str] | None,
    model: Path,
    kind: str,
) -> PairSpec:
    """``pair_style <style>`` from its plugin with ``pair_coeff * * <head> <elements>``.

    Atom types follow ``elements`` (default: the model's own ``known`` order); an element
    the model does not know is an InputError before LAMMPS starts.
    """
    elements = tuple(elements or known)
    check_species(elements, known, model, kind)
    coeff = " ".join(["* *", *([head] if head else []), *elements])
    return PairSpec(pair_style=style, pair_coeff=coeff, elements=elements, plugin=style)


def lammps_path(path: Path) -> str:
    """A path as a LAMMPS command argument (quoted if it contains white space)."""
    text = str(path)
    return f'"{text}"' if any(c.isspace() for c in text) else text


# ---------------------------------------------------------------- model files


def check_species(symbols: Iterable[str], known: Sequence[str], model: Path, kind: str) -> None:
    """InputError if a configuration holds elements the model was not trained on."""
    missing = sorted(set(symbols) - set(known), key=lambda s: atomic_numbers.get(s, 0))
    if missing:
        raise InputError(
            f"{kind} model {model} knows elements {', '.join(known)} but the configuration "
            f"also has {', '.join(missing)}"
        )


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def per_file_version(what: str) -> Callable[[Callable[[str], T]], Callable[[Path], T]]:
    """Cache ``func(path)`` per file version (path, mtime, size); missing files are errors.

    Model introspection (loading TorchScript, parsing xml, hashing sparse files) is slow
    and asked for by every pair spec and calculator; a rewritten file is read again.
    """

    def decorate(func: Callable[[str], T]) -> Callable[[Path], T]:
        @cache
        def versioned(path: str, mtime_ns: int, size: int) -> T:
            del mtime_ns, size  # part of the cache key only
            return func(path)

        @wraps(func)
        def wrapper(path: Path) -> T:
            path = Path(path).resolve()
            if not path.is_file():
                raise InputError(f"{what} {path} does not exist")
            stat = path.stat()
            return versioned(str(path), stat.st_mtime_ns, stat.st_size)

        return wrapper

    return decorate


def training_provenance(train_file: Path, valid_file: Path) -> dict[str, str]:
    """Paths and SHA-256 of the exact training and validation sets a model saw."""
    return {
        "train_file": str(Path(train_file).resolve()),
        "train_sha256": file_sha256(Path(train_file)),
        "valid_file": str(Path(valid_file).resolve()),
        "valid_sha256": file_sha256(Path(valid_file)),
    }


def validation_errors(calc: Calculator, frames: list[Atoms]) -> dict[str, float]:
    """Energy RMSE (meV/atom) and force RMSE (meV/A) of ``calc`` against REF_* labels."""
    de, df = [], []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = calc
        de.append((atoms.get_potential_energy() - frame.info[ENERGY_KEY]) / len(atoms))
        df.append((atoms.get_forces() - frame.arrays[FORCES_KEY]).ravel())
    return {
        "energy_rmse_meV_per_atom": float(1e3 * np.sqrt(np.mean(np.square(de)))),
        "force_rmse_meV_per_A": float(1e3 * np.sqrt(np.mean(np.square(np.concatenate(df))))),
        "n_frames": len(frames),
    }


def write_model_meta(model_path: Path, meta: dict[str, Any]) -> Path:
    """Write ``<model>.json`` next to the model, adding library versions."""
    meta = {**meta, "versions": library_versions(LIBRARIES)}
    target = model_path.with_name(model_path.name + ".json")
    write_json(target, meta)
    return target


def read_model_meta(model_path: Path) -> dict[str, Any]:
    """Metadata written by :func:`write_model_meta` (empty if absent)."""
    target = model_path.with_name(model_path.name + ".json")
    fix = "retrain this seed (xfer train ... --force) or delete the seed directory"
    return read_json(target, fix) if target.exists() else {}


# ---------------------------------------------------------------- user model files


def source_sha256(path: Path) -> str:
    """SHA-256 of a model file (cached per file version: foundation models are large)."""
    return _sha256(Path(path))


@per_file_version("model file")
def _sha256(path: str) -> str:
    return file_sha256(Path(path))


def zip_names(path: Path) -> list[str]:
    """Member names of a zip archive (torch.save and TorchScript files are zips); [] if none."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return []


def zip_member(path: Path, name: str) -> bytes:
    """One member's bytes of a zip archive."""
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def file_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of a file (b"" if unreadable)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def cache_root() -> Path:
    """xfer's cache directory: ``$XFER_CACHE_DIR``, else ``~/.cache/xfer``."""
    given = os.environ.get(CACHE_VARIABLE)
    return Path(given).expanduser() if given else Path.home() / ".cache" / "xfer"


def export_dir(model_path: Path) -> Path:
    """Where a model's LAMMPS export goes: next to a model xfer trained (its own seed
    directory, with ``<model>.json``), else a cache directory named by the model's hash,
    so a user's model directory is never written to (it may be read-only)."""
    model_path = Path(model_path).resolve()
    if model_path.with_name(model_path.name + ".json").is_file():
        return model_path.parent
    target = cache_root() / "exports" / source_sha256(model_path)[:20]
    target.mkdir(parents=True, exist_ok=True)
    return target
