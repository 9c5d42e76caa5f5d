"""DeePMD-kit backend (PyTorch): se_e2_a models trained with ``dp --pt train``.

Training runs deepmd's own command line in a subprocess (``python -m xfer.backends.deepmd``
is ``dp`` with the e3nn fix below), freezes the checkpoint to a TorchScript ``model.pth``
and records metadata next to it. LAMMPS evaluates the same file with deepmd's plugin
(``pair_style deepmd``); Python evaluates it with ``deepmd.calculator.DP``.

e3nn 0.4.4 (pinned by mace-torch) unpickles ``slice`` objects with ``torch.load`` when
imported, which torch >= 2.6 refuses by default; deepmd imports e3nn for every model type,
so ``slice`` is added to torch's safe globals before deepmd is imported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from xfer.atomic import write_json
from xfer.backends.base import Backend, TrainedModel
from xfer.backends.common import (
    lammps_path,
    read_model_meta,
    read_training_frames,
    resolve_preset,
    species_of,
    training_provenance,
    validation_errors,
    write_model_meta,
)
from xfer.data.frames import ENERGY_KEY, FORCES_KEY, VIRIAL_KEY
from xfer.errors import EnvironmentProblem, InputError
from xfer.lammps.pair import PairSpec
from xfer.runtime import THREAD_VARIABLES

MODEL_FILE = "model.pth"
LOG_TAIL_LINES = 15

# Flat hyperparameters (TOML-friendly); ``sel`` maps element -> max neighbours within rcut,
# with "default" for elements not listed (sized for carbonate liquids up to 2 g/cm3).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "rcut": 5.0,
        "rcut_smth": 0.5,
        "sel": {"H": 56, "C": 32, "O": 32, "default": 32},
        "neuron": [8, 16],
        "axis_neuron": 4,
        "fitting_neuron": [32, 32],
        "precision": "float64",
        "numb_steps": 6000,  # ~7 min on one core for examples/dataset-small.toml
        "decay_steps": 100,
        "start_lr": 1.0e-2,
        "stop_lr": 1.0e-4,
        "batch_size": "auto",
        "start_pref_e": 0.02,
        "limit_pref_e": 1.0,
        "start_pref_f": 1000.0,
        "limit_pref_f": 1.0,
        "start_pref_v": 0.0,
        "limit_pref_v": 0.0,
    },
    "paper": {
        "rcut": 6.0,
        "rcut_smth": 0.5,
        "sel": {"H": 96, "C": 56, "O": 56, "default": 56},
        "neuron": [25, 50, 100],
        "axis_neuron": 16,
        "fitting_neuron": [240, 240, 240],
        "precision": "float64",
        "numb_steps": 1_000_000,
        "decay_steps": 5000,
        "start_lr": 1.0e-3,
        "stop_lr": 3.51e-8,
        "batch_size": "auto",
        "start_pref_e": 0.02,
        "limit_pref_e": 1.0,
        "start_pref_f": 1000.0,
        "limit_pref_f": 1.0,
        "start_pref_v": 0.02,
        "limit_pref_v": 1.0,
    },
}
EXTRA_KEYS = ("preset", "type_map")


def allow_e3nn_constants() -> None:
    """Let e3nn 0.4.4's import-time ``torch.load`` of its constants (holding slices) pass."""
    import torch

    torch.serialization.add_safe_globals([slice])


def resolve_hyper(hyper: dict[str, Any]) -> dict[str, Any]:
    """Preset (``hyper["preset"]``, default ``tiny``) updated with the other keys given."""
    return resolve_preset("deepmd", PRESETS, hyper, EXTRA_KEYS)


def _sel(sel: dict[str, int] | list[int], type_map: Sequence[str]) -> list[int]:
    """Per-type neighbour counts in ``type_map`` order."""
    if isinstance(sel, list):
        if len(sel) != len(type_map):
            raise InputError(f"deepmd sel {sel} has {len(sel)} entries for {len(type_map)} types")
        return [int(s) for s in sel]
    missing = [el for el in type_map if el not in sel and "default" not in sel]
    if missing:
        raise InputError(f"deepmd sel gives no neighbour count for {', '.join(missing)}")
    return [int(sel.get(el, sel.get("default", 0))) for el in type_map]


def deepmd_input(
    hyper: dict[str, Any],
    type_map: Sequence[str],
    train_systems: Sequence[Path],
    valid_systems: Sequence[Path],
    seed: int,
) -> dict[str, Any]:
    """The ``dp --pt train`` input (se_e2_a + energy fitting) for resolved ``hyper``."""
    steps = int(hyper["numb_steps"])
    training: dict[str, Any] = {
        "training_data": {
            "systems": [str(s) for s in train_systems],
            "batch_size": hyper["batch_size"],
        },
        "numb_steps": steps,
        "seed": seed,
        "disp_file": "lcurve.out",
        "disp_freq": max(1, steps // 20),
        "save_freq": steps,
    }
    if valid_systems:
        training["validation_data"] = {
            "systems": [str(s) for s in valid_systems],
            "batch_size": hyper["batch_size"],
        }
    return {
        "model": {
            "type_map": list(type_map),
            "descriptor": {
                "type": "se_e2_a",
                "rcut": hyper["rcut"],
                "rcut_smth": hyper["rcut_smth"],
                "sel": _sel(hyper["sel"], type_map),
                "neuron": hyper["neuron"],
                "axis_neuron": hyper["axis_neuron"],
                "precision": hyper["precision"],
                "seed": seed,
            },
            "fitting_net": {
                "neuron": hyper["fitting_neuron"],
                "resnet_dt": True,
                "precision": hyper["precision"],
                "seed": seed,
            },
        },
        "learning_rate": {
            "type": "exp",
            "decay_steps": hyper["decay_steps"],
            "start_lr": hyper["start_lr"],
            "stop_lr": hyper["stop_lr"],
        },
        "loss": {
            "type": "ener",
            **{key: hyper[key] for key in hyper if key.startswith(("start_pref", "limit_pref"))},
        },
        "training": training,
    }


def _virial(frame: Atoms) -> np.ndarray | None:
    value = frame.info.get(VIRIAL_KEY)
    return None if value is None else np.asarray(value, dtype=float).reshape(9)


def write_systems(frames: Sequence[Atoms], type_map: Sequence[str], root: Path) -> list[Path]:
    """Write ``frames`` (REF_* labels) as deepmd npy systems, one per composition and pbc.

    Atoms are sorted by type inside each frame so frames of the same composition share one
    system; isolated frames (no pbc) get deepmd's ``nopbc`` marker instead of a box.
    """
    groups: dict[tuple[tuple[int, ...], bool], list[Atoms]] = defaultdict(list)
    for index, frame in enumerate(frames):
        missing = [
            k for k, d in ((ENERGY_KEY, frame.info), (FORCES_KEY, frame.arrays)) if k not in d
        ]
        if missing:
            raise InputError(f"frame {index} lacks {', '.join(missing)} labels")
        unknown = sorted(set(frame.get_chemical_symbols()) - set(type_map))
        if unknown:
            raise InputError(f"frame {index} has elements {unknown} outside type_map {type_map}")
        if frame.pbc.any() and not frame.pbc.all():
            raise InputError(f"frame {index} is periodic in some directions only: {frame.pbc}")
        types = np.array([type_map.index(s) for s in frame.get_chemical_symbols()])
        counts = tuple(int(np.sum(types == t)) for t in range(len(type_map)))
        groups[(counts, bool(frame.pbc.all()))].append(frame)
    systems = []
    for (counts, periodic), members in sorted(groups.items()):
        name = "".join(f"{el}{n}" for el, n in zip(type_map, counts, strict=True) if n)
        path = root / f"{name}_{'pbc' if periodic else 'nopbc'}"
        _write_system(members, type_map, path, periodic)
        systems.append(path)
    return systems


def _write_system(frames: list[Atoms], type_map: Sequence[str], path: Path, periodic: bool) -> None:
    """One deepmd system directory (type.raw, type_map.raw, set.000/*.npy)."""
    coords, forces, energies, boxes, virials = [], [], [], [], []
    types = None
    for frame in frames:
        frame_types = np.array([type_map.index(s) for s in frame.get_chemical_symbols()])
        order = np.argsort(frame_types, kind="stable")
        types = frame_types[order]
        coords.append(frame.positions[order].ravel())
        forces.append(np.asarray(frame.arrays[FORCES_KEY], dtype=float)[order].ravel())
        energies.append(float(frame.info[ENERGY_KEY]))
        boxes.append(frame.cell.array.ravel())
        virials.append(_virial(frame))
    data = path / "set.000"
    data.mkdir(parents=True, exist_ok=True)
    (path / "type_map.raw").write_text("\n".join(type_map) + "\n")
    (path / "type.raw").write_text("\n".join(str(t) for t in types) + "\n")
    np.save(data / "coord.npy", np.array(coords))
    np.save(data / "force.npy", np.array(forces))
    np.save(data / "energy.npy", np.array(energies))
    if periodic:
        np.save(data / "box.npy", np.array(boxes))
        if all(v is not None for v in virials):
            np.save(data / "virial.npy", np.array(virials))
    else:
        (path / "nopbc").write_text("")


STEP_SEPARATOR = "::"


def run_dp(steps: Sequence[Sequence[str]], workdir: Path, log: Path) -> None:
    """Run ``dp --pt <step>`` for each step in one process (one start-up), in ``workdir``.

    Threads default to 1 unless the user set them (see :mod:`xfer.runtime`).
    """
    env = dict(os.environ)
    for var in THREAD_VARIABLES:
        env.setdefault(var, "1")
    args = [arg for step in steps for arg in (STEP_SEPARATOR, *step)][1:]
    command = [sys.executable, "-m", "xfer.backends.deepmd", *args]
    with open(log, "a") as fh:
        proc = subprocess.run(command, cwd=workdir, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-LOG_TAIL_LINES:]
        raise EnvironmentProblem(
            f"dp {' then '.join(step[0] for step in steps)} failed (exit {proc.returncode}) "
            f"in {workdir}; last lines of {log}: " + " | ".join(line.strip() for line in tail)
        )


def _dp_steps(argv: Sequence[str]) -> None:
    """``dp --pt`` for each ``::``-separated group of ``argv`` (e3nn constants allowed)."""
    allow_e3nn_constants()
    from deepmd.main import main

    step: list[str] = []
    for arg in [*argv, STEP_SEPARATOR]:
        if arg != STEP_SEPARATOR:
            step.append(arg)
        elif step:
            main(["--pt", *step])
            step = []


@cache
def _model_info(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    """Type map of a frozen deepmd model (cached per file version)."""
    del mtime_ns, size  # part of the cache key only
    import deepmd.pt.cxx_op  # noqa: F401  (registers deepmd's TorchScript custom ops)
    import torch

    try:
        module = torch.jit.load(path, map_location="cpu")
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} is not a readable TorchScript model ({first})") from None
    if not hasattr(module, "get_type_map"):
        raise InputError(f"{path} is a TorchScript file but not a frozen DeePMD model")
    return tuple(module.get_type_map())


def model_type_map(path: Path) -> tuple[str, ...]:
    """Elements of a frozen deepmd model, in its type order; InputError if unreadable."""
    path = Path(path).resolve()
    if not path.is_file():
        raise InputError(f"deepmd model file {path} does not exist")
    stat = path.stat()
    return _model_info(str(path), stat.st_mtime_ns, stat.st_size)


def check_species(atoms: Atoms, type_map: Sequence[str], model: Path) -> None:
    """InputError if ``atoms`` holds elements the model was not trained on."""
    missing = sorted(set(atoms.get_chemical_symbols()) - set(type_map))
    if missing:
        raise InputError(
            f"model {model} knows elements {', '.join(type_map)} but the configuration "
            f"also has {', '.join(missing)}"
        )


def plugin_library(lib_dir: Path | None = None) -> Path:
    """deepmd's LAMMPS plugin library (in deepmd's lib dir by default); EnvironmentProblem if
    it is missing, before any LAMMPS run is attempted."""
    if lib_dir is None:
        try:
            from deepmd.env import SHARED_LIB_DIR
        except ImportError as exc:
            raise EnvironmentProblem(f"deepmd-kit is not importable ({exc})") from None
        lib_dir = Path(SHARED_LIB_DIR)
    library = Path(lib_dir) / "libdeepmd_lmpplugin.so"
    if not library.is_file():
        raise EnvironmentProblem(
            f"deepmd-kit's LAMMPS plugin {library} is missing: install deepmd-kit[torch,lmp]"
        )
    return library


def committee_pair_spec(models: Sequence[Path], devi_file: Path, out_freq: int) -> PairSpec:
    """Multi-model ``pair_style deepmd``: the first model drives MD, all give the deviation.

    deepmd writes max/min/avg force and virial deviation to ``devi_file`` every ``out_freq``
    steps (same definition as :class:`xfer.backends.committee.CommitteeCalculator`).
    """
    if len(models) < 2:
        raise InputError("a deepmd committee pair style needs at least two models")
    maps = {model_type_map(m) for m in models}
    if len(maps) != 1:
        raise InputError(f"committee models have different type maps: {sorted(maps)}")
    (type_map,) = maps
    files = " ".join(lammps_path(Path(m).resolve()) for m in models)
    return PairSpec(
        pair_style=f"deepmd {files} out_file {lammps_path(Path(devi_file))} out_freq {out_freq}",
        pair_coeff="* * " + " ".join(type_map),
        elements=type_map,
        plugin="deepmd",
    )


class DeepmdCalculator(Calculator):
    """deepmd's ASE calculator behind clear errors for unknown elements and partial pbc."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, model: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = Path(model).resolve()
        self.type_map = model_type_map(self.model)
        allow_e3nn_constants()
        from deepmd.calculator import DP

        self._dp = DP(str(self.model))

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = tuple(all_changes),
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        check_species(self.atoms, self.type_map, self.model)
        if self.atoms.pbc.any() and not self.atoms.pbc.all():
            raise InputError(f"deepmd needs full or no periodicity, got pbc={self.atoms.pbc}")
        wanted = [p for p in properties if p != "stress" or self.atoms.pbc.all()]
        self._dp.calculate(self.atoms, wanted, system_changes)
        self.results = dict(self._dp.results)


class DeepmdBackend(Backend):
    """se_e2_a DeePMD models: ``dp --pt train`` / ``freeze``, ``pair_style deepmd``."""

    name = "deepmd"
    lammps_pair_style = "deepmd"

    def train(
        self,
        train_file: Path,
        valid_file: Path,
        out_dir: Path,
        seed: int,
        hyper: dict[str, Any],
    ) -> TrainedModel:
        """Convert the sets, train and freeze ``out_dir/model.pth``, write its metadata."""
        resolved = resolve_hyper(hyper)
        train_frames = read_training_frames(train_file)
        valid_frames = read_training_frames(valid_file)
        type_map = list(resolved.pop("type_map", None) or species_of(train_frames))
        out_dir = Path(out_dir).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(out_dir / "data", ignore_errors=True)  # no stale npy files from a rerun
        train_systems = write_systems(train_frames, type_map, out_dir / "data" / "train")
        valid_systems = write_systems(valid_frames, type_map, out_dir / "data" / "valid")
        config = deepmd_input(resolved, type_map, train_systems, valid_systems, seed)
        write_json(out_dir / "input.json", config)
        log = out_dir / "train.log"
        log.write_text("")
        frozen = out_dir / "model.freezing.pth"
        run_dp([["train", "input.json"], ["freeze", "-o", frozen.name]], out_dir, log)
        if not frozen.exists():
            raise EnvironmentProblem(f"deepmd training wrote no frozen model; see {log}")
        model_path = out_dir / MODEL_FILE
        os.replace(frozen, model_path)
        errors = validation_errors(DeepmdCalculator(model_path), valid_frames)
        meta = {
            "arch": self.name,
            "seed": seed,
            "model_file": MODEL_FILE,
            "type_map": type_map,
            "hyper": {**resolved, "type_map": type_map},
            **training_provenance(train_file, valid_file),
            "n_train_frames": len(train_frames),
            "validation_errors": errors,
        }
        write_model_meta(model_path, meta)
        return TrainedModel(arch=self.name, path=model_path, meta=meta)

    def export(self, model: TrainedModel) -> Path:
        """The frozen ``model.pth`` is what LAMMPS loads; check it is a readable model."""
        model_type_map(model.path)
        return Path(model.path).resolve()

    def pair_spec(self, model: TrainedModel) -> PairSpec:
        plugin_library()
        path = self.export(model)
        type_map = model_type_map(path)
        return PairSpec(
            pair_style=f"deepmd {lammps_path(path)}",
            pair_coeff="* * " + " ".join(type_map),
            elements=type_map,
            plugin="deepmd",
        )

    def calculator(self, model: TrainedModel) -> Calculator:
        return DeepmdCalculator(model.path)


def load_model(path: Path) -> TrainedModel:
    """A frozen deepmd model file (metadata optional) as a :class:`TrainedModel`."""
    path = Path(path).resolve()
    model_type_map(path)
    return TrainedModel(arch="deepmd", path=path, meta=read_model_meta(path))


if __name__ == "__main__":
    _dp_steps(sys.argv[1:])
