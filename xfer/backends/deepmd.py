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
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from xfer.atomic import write_json
from xfer.backends import common
from xfer.backends.base import Backend, Fit, TrainedModel, load_presets
from xfer.backends.calculator import ModelCalculator
from xfer.backends.common import TrainingSets
from xfer.data.frames import ENERGY_KEY, FORCES_KEY, VIRIAL_KEY
from xfer.errors import EnvironmentProblem, InputError
from xfer.lammps.pair import PairSpec
from xfer.progress import TailWatcher, report

MODEL_FILE = "model.pth"
LOG_TAIL_LINES = 15  # dp's error sits among its last lines, with no fixed marker

PRESETS = load_presets("deepmd")
EXTRA_KEYS = ("preset", "type_map", "init_frz_model")
STEP_SEPARATOR = "::"
TF_MARKERS = (b"model_attr/tmap", b"descrpt_attr/rcut")  # node names in deepmd's .pb graphs


def allow_e3nn_constants() -> None:
    """Let e3nn 0.4.4's import-time ``torch.load`` of its constants (holding slices) pass."""
    import torch

    torch.serialization.add_safe_globals([slice])


def resolve_hyper(hyper: dict[str, Any]) -> dict[str, Any]:
    """Preset (``hyper["preset"]``, default ``tiny``) updated with the other keys given."""
    return common.resolve_preset("deepmd", PRESETS, hyper, EXTRA_KEYS)


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


def write_systems(frames: Sequence[Atoms], type_map: Sequence[str], root: Path) -> list[Path]:
    """Write ``frames`` (REF_* labels) as deepmd npy systems, one per composition and pbc.

    Atoms are sorted by type inside each frame so frames of the same composition share one
    system; isolated frames (no pbc) get deepmd's ``nopbc`` marker instead of a box.
    """
    groups: dict[tuple[tuple[int, ...], bool], list[Atoms]] = defaultdict(list)
    for index, original in enumerate(frames):
        frame = common.labelled_copy(original, index)
        unknown = sorted(set(frame.get_chemical_symbols()) - set(type_map))
        if unknown:
            raise InputError(f"frame {index} has elements {unknown} outside type_map {type_map}")
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
        virials.append(frame.info[VIRIAL_KEY].ravel() if VIRIAL_KEY in frame.info else None)
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


def last_step(lines: list[str]) -> int | None:
    """Training step of the last row of a tail of dp's lcurve.out (``#`` header lines)."""
    for line in reversed(lines):
        head = line.split(maxsplit=1)[0] if line.strip() else ""
        if head.isdigit():
            return int(head)
    return None


def run_dp(steps: Sequence[Sequence[str]], workdir: Path, log: Path) -> None:
    """Run ``dp --pt <step>`` for each step in one process (one start-up), in ``workdir``."""
    args = [arg for step in steps for arg in (STEP_SEPARATOR, *step)][1:]
    common.run_tool(
        [sys.executable, "-m", "xfer.backends.deepmd", *args],
        workdir,
        log,
        f"dp {' then '.join(step[0] for step in steps)}",
        error=EnvironmentProblem,
        tail=LOG_TAIL_LINES,
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


@common.per_file_version("deepmd model file")
def model_type_map(path: str) -> tuple[str, ...]:
    """Elements of a frozen deepmd model, in its type order; InputError if unreadable."""
    import deepmd.pt.cxx_op  # noqa: F401  (registers deepmd's TorchScript custom ops)
    import torch

    try:
        module = torch.jit.load(path, map_location="cpu")
    except RuntimeError as exc:
        reason = common.first_line(exc)
        raise InputError(f"{path} is not a readable TorchScript model ({reason})") from None
    if not hasattr(module, "get_type_map"):
        raise InputError(f"{path} is a TorchScript file but not a frozen DeePMD model")
    return tuple(module.get_type_map())


@common.per_file_version("deepmd model file")
def model_cutoff(path: str) -> float:
    """Cutoff radius (A) a frozen deepmd model reports."""
    import torch

    return float(torch.jit.load(path, map_location="cpu").get_rcut())


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
    return common.require_plugin(library, "deepmd", "install deepmd-kit[torch,lmp]")


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
    files = " ".join(common.lammps_path(Path(m).resolve()) for m in models)
    devi = common.lammps_path(Path(devi_file))
    spec = common.typed_pair_spec("deepmd", "", type_map, None, Path(models[0]), "deepmd")
    return replace(spec, pair_style=f"deepmd {files} out_file {devi} out_freq {out_freq}")


class DeepmdCalculator(ModelCalculator):
    """deepmd's ASE calculator behind xfer's species and periodicity checks."""

    kind = "deepmd"

    def __init__(self, model: Path, **kwargs: Any) -> None:
        super().__init__(model, model_type_map(model), **kwargs)
        allow_e3nn_constants()
        from deepmd.calculator import DP

        self._dp = DP(str(self.model))

    def evaluate(self, properties, system_changes, periodic) -> dict[str, Any]:
        self._dp.calculate(self.atoms, properties, system_changes)
        return dict(self._dp.results)


class DeepmdBackend(Backend):
    """se_e2_a DeePMD models: ``dp --pt train`` / ``freeze``, ``pair_style deepmd``."""

    name = "deepmd"
    presets = PRESETS
    model_formats = "DeePMD frozen model (.pth; .pb converted with dp convert-backend)"
    extra_keys = EXTRA_KEYS
    fits_e0_frames = True  # isolated atoms are nopbc systems deepmd trains on
    warm_starts = True

    def warm_start(self, previous: Path) -> dict[str, Any]:
        """``dp train --init-frz-model``: the frozen model's weights, then the usual steps."""
        return {"init_frz_model": str(Path(previous).resolve())}

    def fit(self, sets: TrainingSets, out_dir: Path, seed: int, hyper: dict[str, Any]) -> Fit:
        """Convert the sets to npy systems, train and freeze ``out_dir/model.pth``."""
        type_map = list(hyper.pop("type_map", None) or common.species_of(sets.frames))
        shutil.rmtree(out_dir / "data", ignore_errors=True)  # no stale npy files from a rerun
        train_systems = write_systems(sets.fit, type_map, out_dir / "data" / "train")
        valid_systems = write_systems(sets.valid, type_map, out_dir / "data" / "valid")
        write_json(
            out_dir / "input.json",
            deepmd_input(hyper, type_map, train_systems, valid_systems, seed),
        )
        log = out_dir / "train.log"
        train_step = ["train", "input.json"]
        if hyper.get("init_frz_model"):  # warm start: the earlier model's weights, step 0
            train_step += ["--init-frz-model", str(hyper["init_frz_model"])]
        frozen = out_dir / "model.freezing.pth"
        steps = int(hyper["numb_steps"])
        curve = out_dir / "lcurve.out"
        with TailWatcher(curve, last_step, lambda n: report("train", n, steps, "steps")):
            run_dp([train_step, ["freeze", "-o", frozen.name]], out_dir, log)
        if not frozen.exists():
            raise EnvironmentProblem(f"deepmd training wrote no frozen model; see {log}")
        model_path = out_dir / MODEL_FILE
        os.replace(frozen, model_path)
        return Fit(model_path, {"type_map": type_map, "hyper": {**hyper, "type_map": type_map}})

    def recognises(self, path: Path) -> bool:
        """A frozen TorchScript model with deepmd code, or a TensorFlow graph with deepmd's
        attribute nodes (``.pb``)."""
        if any("/code/__torch__/deepmd/" in n for n in common.zip_names(path)):
            return True
        return any(marker in common.file_head(path) for marker in TF_MARKERS)

    def check_model(self, path: Path) -> Path:
        if not common.zip_names(path) and self.recognises(path):
            raise InputError(
                f"{path} is a DeePMD TensorFlow model (.pb); this environment runs deepmd-kit's "
                "PyTorch backend: convert it with `dp convert-backend model.pb model.pth` "
                "where TensorFlow is installed and pass the .pth"
            )
        model_type_map(path)
        return Path(path).resolve()

    def model_info(self, path: Path) -> dict[str, Any]:
        return {"species": list(model_type_map(path)), "cutoff": model_cutoff(path)}

    def export(self, model: TrainedModel) -> Path:
        """The frozen ``model.pth`` is what LAMMPS loads; check it is a readable model."""
        return self.check_model(model.path)

    def pair_spec(self, model: TrainedModel) -> PairSpec:
        plugin_library()
        path = self.export(model)
        spec = common.typed_pair_spec("deepmd", "", model_type_map(path), None, path, "deepmd")
        return replace(spec, pair_style=f"deepmd {common.lammps_path(path)}")

    def calculator(self, model: TrainedModel) -> DeepmdCalculator:
        return DeepmdCalculator(model.path)


if __name__ == "__main__":
    _dp_steps(sys.argv[1:])
