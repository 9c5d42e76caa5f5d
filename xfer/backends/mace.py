"""MACE backend: ``mace_run_train`` models, ``pair_style mace`` in LAMMPS, MACECalculator.

Training runs mace-torch's own command line in a subprocess on an extxyz copy of the
training set prepared here (``REF_*`` labels only; isolated-atom ``config_type = e0``
frames become the E0s instead of training frames). The model is ``mace.model`` (a pickled
torch module, what MACECalculator loads); ``export`` turns it into the TorchScript file
``mace.model-lammps.pt`` with ``mace_create_lammps_model``, which xfer's own LAMMPS plugin
(plugins/mace, ``pair_style mace``) evaluates. Hyperparameters are mace_run_train options
(without the leading ``--``) on top of a preset; everything is float64 unless overridden.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.data import atomic_numbers, chemical_symbols
from ase.io import write

from xfer.backends.base import Backend, TrainedModel
from xfer.backends.common import (
    e0_from_frames,
    is_e0_frame,
    lammps_path,
    read_model_meta,
    read_training_frames,
    resolve_preset,
    species_of,
    training_provenance,
    validation_errors,
    write_model_meta,
)
from xfer.data.frames import CONFIG_TYPE, ENERGY_KEY, FORCES_KEY, STRESS_KEY, VIRIAL_KEY
from xfer.errors import EnvironmentProblem, InputError
from xfer.lammps.pair import PairSpec
from xfer.runtime import PLUGIN_DIR, THREAD_VARIABLES

MODEL_FILE = "mace.model"
LAMMPS_SUFFIX = "-lammps.pt"  # what mace_create_lammps_model appends to the model path
PLUGIN_FILE = "maceplugin.so"
LOG_TAIL_LINES = 8

PRESETS: dict[str, dict[str, Any]] = {
    # For tests and laptops: invariant messages (max_L 0), body order 3, 4.5 A; ~5 s an
    # epoch for 35 frames of 160 atoms on one CPU core. Trained on examples/dataset-small.toml
    # (~4 min) it runs 0.2 ps NVT at 500 K without a bond halt (tests/test_acceptance_backends.py).
    "tiny": {
        "model": "ScaleShiftMACE",
        "num_channels": 16,
        "max_L": 0,
        "max_ell": 2,
        "r_max": 4.5,
        "num_interactions": 2,
        "correlation": 2,
        "batch_size": 2,
        "valid_batch_size": 10,
        "max_num_epochs": 40,
        "lr": 0.01,
        "device": "cpu",
        "default_dtype": "float64",
        "plot": False,
    },
    # the study's scale: one GPU per model, hours.
    "paper": {
        "model": "ScaleShiftMACE",
        "num_channels": 128,
        "max_L": 1,
        "max_ell": 3,
        "r_max": 5.0,
        "num_interactions": 2,
        "correlation": 3,
        "batch_size": 5,
        "valid_batch_size": 10,
        "max_num_epochs": 500,
        "patience": 50,
        "lr": 0.01,
        "ema": True,
        "ema_decay": 0.99,
        "swa": True,
        "loss": "virials",
        "forces_weight": 100.0,
        "energy_weight": 1.0,
        "virials_weight": 1.0,
        "device": "cuda",
        "default_dtype": "float64",
        "plot": False,
    },
}
EXTRA_KEYS = ("preset", "e0")
# options xfer sets itself from the backend's arguments and the prepared files
RESERVED = (
    "name", "seed", "train_file", "valid_file", "test_file", "valid_fraction", "work_dir",
    "model_dir", "log_dir", "checkpoints_dir", "results_dir", "downloads_dir", "energy_key",
    "forces_key", "virials_key", "stress_key", "E0s", "restart_latest", "distributed",
)


# ---------------------------------------------------------------- hyperparameters


@cache
def _train_options() -> dict[str, argparse.Action]:
    """mace_run_train's options by destination name (from mace's own parser)."""
    from mace.tools import build_default_arg_parser

    return {a.dest: a for a in build_default_arg_parser()._actions if a.option_strings}


def resolve_hyper(hyper: dict[str, Any]) -> dict[str, Any]:
    """Preset (``hyper["preset"]``, default ``tiny``) updated with the other keys given."""
    reserved = sorted(set(hyper) & set(RESERVED))
    if reserved:
        raise InputError(f"mace hyperparameter(s) {', '.join(reserved)} are set by xfer")
    return resolve_preset(
        "mace", PRESETS, hyper, [*_train_options(), *EXTRA_KEYS],
        hint="use mace_run_train option names without the leading -- (mace_run_train --help)",
    )


def train_args(hyper: dict[str, Any]) -> list[str]:
    """mace_run_train arguments for the option keys of resolved ``hyper`` (one per entry)."""
    options = _train_options()
    args = []
    for key, value in hyper.items():
        if key in EXTRA_KEYS:
            continue
        action = options[key]
        flag = action.option_strings[0]
        if isinstance(action, argparse._StoreTrueAction):
            if value:
                args.append(flag)
        elif isinstance(value, bool):
            args.append(f"{flag}={value}")
        elif isinstance(value, dict | list | tuple):
            args.append(f"{flag}={value!r}")
        else:
            args.append(f"{flag}={value}")
    return args


# ---------------------------------------------------------------- training-set preparation


def reference_energies(
    frames: Sequence[Atoms], given: dict[str, float] | None = None
) -> tuple[dict[str, float] | None, str]:
    """Isolated-atom energies per element and their source.

    ``given`` (hyperparameter ``e0``) wins, then single-atom ``config_type = e0`` frames.
    Returns ``(None, "average")`` when some element has neither: mace then fits E0s to the
    training energies by least squares (its ``--E0s average``).
    """
    species = species_of([f for f in frames if not is_e0_frame(f)])
    e0 = {el: float(v) for el, v in (given or {}).items()}
    unknown = sorted(set(e0) - set(chemical_symbols[1:]))
    if unknown:
        raise InputError(f"mace e0 names unknown element(s) {', '.join(unknown)}")
    sources = {"hyper"} if e0 else set()
    if e0_from_frames(frames, e0):
        sources.add("e0_frames")
    if any(el not in e0 for el in species):
        return None, "average"
    ordered = sorted(e0, key=lambda s: atomic_numbers[s])
    return {el: e0[el] for el in ordered}, "+".join(sorted(sources))


def mace_frame(frame: Atoms, index: int) -> Atoms:
    """Copy of ``frame`` as mace_run_train reads it: ``REF_*`` labels only, no calculator."""
    missing = [k for k, d in ((ENERGY_KEY, frame.info), (FORCES_KEY, frame.arrays)) if k not in d]
    if missing:
        raise InputError(f"frame {index} lacks {', '.join(missing)} labels")
    if frame.pbc.any() and not frame.pbc.all():
        raise InputError(f"frame {index} is periodic in some directions only")
    periodic = bool(frame.pbc.all())
    out = Atoms(
        frame.get_chemical_symbols(),
        positions=frame.positions,
        cell=frame.cell if periodic else None,
        pbc=periodic,
    )
    out.info[ENERGY_KEY] = float(frame.info[ENERGY_KEY])
    out.info[CONFIG_TYPE] = str(frame.info.get(CONFIG_TYPE, "Default"))
    out.arrays[FORCES_KEY] = np.asarray(frame.arrays[FORCES_KEY], dtype=float)
    if periodic:
        for key in (VIRIAL_KEY, STRESS_KEY):
            if key in frame.info:
                out.info[key] = np.asarray(frame.info[key], dtype=float).ravel()
    return out


# ---------------------------------------------------------------- subprocesses


def _executable(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if not found:
        raise EnvironmentProblem(f"{name} not found: install mace-torch (requirements.lock.txt)")
    return found


def _run(command: Sequence[str], workdir: Path, log: Path, what: str) -> None:
    """Run a mace command line in ``workdir`` (single-threaded unless the user set threads)."""
    env = dict(os.environ)
    for var in THREAD_VARIABLES:
        env.setdefault(var, "1")
    env.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with open(log, "a") as fh:
        # Enter answers mace_create_lammps_model's head prompt (multi-head models) with
        # its default instead of blocking on a terminal that is not there
        proc = subprocess.run(
            list(command), cwd=workdir, env=env, stdout=fh, stderr=subprocess.STDOUT, input=b"\n"
        )
    if proc.returncode != 0:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        reason = [ln for ln in lines if "Error" in ln or "error:" in ln]
        tail = reason[-2:] or lines[-LOG_TAIL_LINES:]
        raise InputError(
            f"{what} failed (exit {proc.returncode}): " + " | ".join(tail) + f" (full log: {log})"
        )


def _check_device(device: str) -> None:
    if str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise EnvironmentProblem(
                f"mace device {device!r} requested but torch sees no GPU: "
                "use the tiny preset or set device = \"cpu\""
            )


# ---------------------------------------------------------------- model files


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@cache
def _lammps_model_species(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    import torch

    try:
        module = torch.jit.load(path, map_location="cpu")
    except (RuntimeError, ValueError) as exc:
        raise InputError(
            f"{path} is not a readable TorchScript MACE model ({_first_line(exc)}); "
            "re-export it with `xfer export`"
        ) from None
    for name in ("atomic_numbers", "r_max", "num_interactions"):
        if not hasattr(module, name):
            raise InputError(f"{path} is TorchScript but not a MACE LAMMPS model (no {name})")
    return tuple(chemical_symbols[int(z)] for z in module.atomic_numbers.tolist())


def lammps_model_species(path: Path) -> tuple[str, ...]:
    """Elements of an exported (``*-lammps.pt``) model in its order; InputError if unreadable."""
    path = Path(path).resolve()
    if not path.is_file():
        raise InputError(f"MACE LAMMPS model {path} does not exist")
    stat = path.stat()
    return _lammps_model_species(str(path), stat.st_mtime_ns, stat.st_size)


def check_species(symbols: Sequence[str], known: Sequence[str], model: Path) -> None:
    """InputError if a configuration holds elements the model was not trained on."""
    missing = sorted(set(symbols) - set(known), key=lambda s: atomic_numbers.get(s, 0))
    if missing:
        raise InputError(
            f"MACE model {model} knows elements {', '.join(known)} but the configuration "
            f"also has {', '.join(missing)}"
        )


def plugin_library() -> Path:
    """xfer's pair_style mace plugin; EnvironmentProblem if it was not built."""
    library = PLUGIN_DIR / PLUGIN_FILE
    if not library.is_file():
        raise EnvironmentProblem(
            f"the pair_style mace plugin {library} is missing: run scripts/build_plugins.sh"
        )
    return library


def export_lammps_model(model_path: Path) -> Path:
    """``<model>-lammps.pt`` (float64 TorchScript) for ``pair_style mace``; reused if newer.

    mace_create_lammps_model writes next to the model it reads, so it runs on a temporary
    link and the result is moved into place: a half-written export is never visible.
    """
    model_path = Path(model_path).resolve()
    if not model_path.is_file():
        raise InputError(f"MACE model {model_path} does not exist")
    target = model_path.with_name(model_path.name + LAMMPS_SUFFIX)
    if target.is_file() and target.stat().st_mtime_ns >= model_path.stat().st_mtime_ns:
        lammps_model_species(target)
        return target
    staging = model_path.with_name(f".export-{os.getpid()}-{model_path.name}")
    staging.unlink(missing_ok=True)
    staging.symlink_to(model_path.name)
    produced = staging.with_name(staging.name + LAMMPS_SUFFIX)
    log = model_path.with_name(model_path.name + ".export.log")
    log.write_text("")
    try:
        _run(
            [_executable("mace_create_lammps_model"), staging.name, "--dtype", "float64"],
            model_path.parent,
            log,
            f"mace_create_lammps_model {model_path}",
        )
        os.replace(produced, target)
    finally:
        staging.unlink(missing_ok=True)
        produced.unlink(missing_ok=True)
    lammps_model_species(target)
    return target


def mace_pair_spec(lammps_model: Path, elements: Sequence[str] | None = None) -> PairSpec:
    """``pair_style mace`` lines for an exported model; atom types follow ``elements``.

    One MPI rank builds the graph from local atoms and periodic images (fast); several
    ranks switch the plugin to ghost atoms automatically.
    """
    known = lammps_model_species(lammps_model)
    elements = tuple(elements or known)
    check_species(elements, known, lammps_model)
    plugin_library()
    return PairSpec(
        pair_style="mace",
        pair_coeff=f"* * {lammps_path(Path(lammps_model).resolve())} {' '.join(elements)}",
        elements=elements,
        plugin="mace",
        newton_pair=True,
    )


# ---------------------------------------------------------------- ASE


def _mace_calculator_class() -> type[Calculator]:
    from mace.calculators import MACECalculator

    class MaceCalculator(MACECalculator):
        """MACECalculator (float64) that refuses elements the model does not know."""

        def __init__(self, model: Path, device: str = "cpu", **kwargs: Any) -> None:
            model = Path(model).resolve()
            if not model.is_file():
                raise InputError(f"MACE model {model} does not exist")
            os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
            try:
                super().__init__(
                    model_paths=str(model), device=device, default_dtype="float64", **kwargs
                )
            except Exception as exc:  # a corrupt pickle/zip fails with many exception types
                raise InputError(
                    f"{model} is not a readable MACE model "
                    f"({type(exc).__name__}: {_first_line(exc)})"
                ) from None
            self.model_file = model
            self.species = tuple(chemical_symbols[int(z)] for z in self.z_table.zs)

        def calculate(
            self,
            atoms: Atoms | None = None,
            properties: Sequence[str] | None = None,
            system_changes: Sequence[str] = tuple(all_changes),
        ) -> None:
            target = atoms if atoms is not None else self.atoms
            if target is not None:
                check_species(target.get_chemical_symbols(), self.species, self.model_file)
                if target.pbc.any() and not target.pbc.all():
                    raise InputError(f"MACE needs full or no periodicity, got {target.pbc}")
            super().calculate(atoms, properties, system_changes)

    return MaceCalculator


def mace_calculator(model: Path, device: str = "cpu") -> Calculator:
    """MACECalculator for a ``.model`` file, float64, with clear errors for bad input."""
    return _mace_calculator_class()(model, device=device)


# ---------------------------------------------------------------- backend


class MaceBackend(Backend):
    """MACE models: ``mace_run_train``, ``mace_create_lammps_model``, ``pair_style mace``."""

    name = "mace"
    lammps_pair_style = "mace"

    def train(
        self,
        train_file: Path,
        valid_file: Path,
        out_dir: Path,
        seed: int,
        hyper: dict[str, Any],
    ) -> TrainedModel:
        """Train ``out_dir/mace.model`` with ``seed``; write its metadata."""
        resolved = resolve_hyper(hyper)
        _check_device(resolved.get("device", "cpu"))
        train_frames = read_training_frames(train_file)
        fit_frames = [f for f in train_frames if not is_e0_frame(f)]
        valid_frames = [f for f in read_training_frames(valid_file) if not is_e0_frame(f)]
        if not fit_frames:
            raise InputError(f"{train_file} holds only e0 frames")
        if not valid_frames:
            raise InputError(f"{valid_file} holds no frames besides e0 frames")
        unknown = sorted(set(species_of(valid_frames)) - set(species_of(fit_frames)))
        if unknown:
            raise InputError(f"validation frames hold elements {unknown} absent from training")
        e0, e0_source = reference_energies(train_frames, resolved.get("e0"))

        out_dir = Path(out_dir).resolve()
        work = out_dir / "mace_train"
        work.mkdir(parents=True, exist_ok=True)
        write(work / "train.extxyz", [mace_frame(f, i) for i, f in enumerate(fit_frames)])
        write(work / "valid.extxyz", [mace_frame(f, i) for i, f in enumerate(valid_frames)])
        e0_arg = "average" if e0 is None else repr({atomic_numbers[k]: v for k, v in e0.items()})
        args = [
            "--name=mace",
            f"--seed={seed}",
            "--work_dir=.",
            "--model_dir=.",
            "--train_file=train.extxyz",
            "--valid_file=valid.extxyz",
            f"--energy_key={ENERGY_KEY}",
            f"--forces_key={FORCES_KEY}",
            f"--virials_key={VIRIAL_KEY}",
            f"--stress_key={STRESS_KEY}",
            f"--E0s={e0_arg}",
            *train_args(resolved),
        ]
        log = work / "train.log"
        log.write_text("")
        started = time.perf_counter()
        _run([_executable("mace_run_train"), *args], work, log, "mace_run_train")
        train_seconds = time.perf_counter() - started
        produced = next(
            (work / n for n in ("mace_stagetwo.model", "mace.model") if (work / n).is_file()),
            None,
        )
        if produced is None:
            raise InputError(f"mace_run_train wrote no model in {work} (log: {log})")
        model_path = out_dir / MODEL_FILE
        os.replace(produced, model_path)
        # a finished model needs neither restart checkpoints nor mace's duplicate copies
        shutil.rmtree(work / "checkpoints", ignore_errors=True)
        for duplicate in work.glob("*.model"):
            duplicate.unlink()

        calc = mace_calculator(model_path)
        meta = {
            "arch": self.name,
            "seed": seed,
            "model_file": MODEL_FILE,
            "species": list(calc.species),
            "r_max": float(resolved["r_max"]),
            "e0": e0,
            "e0_source": e0_source,
            "hyper": resolved,
            "mace_run_train_args": args,
            "train_seconds": round(train_seconds, 2),
            **training_provenance(train_file, valid_file),
            "n_train_frames": len(fit_frames),
            "validation_errors": validation_errors(calc, valid_frames),
        }
        write_model_meta(model_path, meta)
        return TrainedModel(arch=self.name, path=model_path, meta=meta)

    def export(self, model: TrainedModel) -> Path:
        """``mace.model-lammps.pt`` next to the model (made once, checked every time)."""
        return export_lammps_model(model.path)

    def pair_spec(self, model: TrainedModel) -> PairSpec:
        return mace_pair_spec(self.export(model))

    def calculator(self, model: TrainedModel) -> Calculator:
        return mace_calculator(model.path)


def load_model(path: Path) -> TrainedModel:
    """A MACE ``.model`` file (e.g. a foundation model; metadata optional) as a TrainedModel."""
    path = Path(path).resolve()
    if not path.is_file():
        raise InputError(f"MACE model {path} does not exist")
    return TrainedModel(arch="mace", path=path, meta=read_model_meta(path))
