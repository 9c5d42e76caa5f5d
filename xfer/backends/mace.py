"""MACE backend: ``mace_run_train`` models, ``pair_style mace`` in LAMMPS, MACECalculator.

Training runs mace-torch's own command line in a subprocess on an extxyz copy of the
training set prepared here (``REF_*`` labels only; isolated-atom ``config_type = e0``
frames become the E0s instead of training frames). The model is ``mace.model`` (a pickled
torch module, what MACECalculator loads); ``export`` turns it into the TorchScript file
``mace.model-lammps.pt`` with ``mace_create_lammps_model``, which xfer's own LAMMPS plugin
(plugins/mace, ``pair_style mace``) evaluates. Hyperparameters are mace_run_train options
(without the leading ``--``) on top of a preset (``presets/mace.toml``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols
from ase.io import write

from xfer.backends import common
from xfer.backends.base import Backend, Fit, TrainedModel, load_presets
from xfer.backends.calculator import ModelCalculator
from xfer.backends.common import TrainingSets
from xfer.data.frames import ENERGY_KEY, FORCES_KEY, STRESS_KEY, VIRIAL_KEY
from xfer.errors import EnvironmentProblem, InputError
from xfer.lammps.pair import PairSpec
from xfer.progress import TailWatcher, report
from xfer.runtime import PLUGIN_DIR

MODEL_FILE = "mace.model"
LAMMPS_SUFFIX = "-lammps.pt"  # what mace_create_lammps_model appends to the model path
PLUGIN_FILE = "maceplugin.so"
PACKAGE = "mace-torch"
TORCH_ENV = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}  # mace pickles whole modules
PRESETS = load_presets("mace")
EXTRA_KEYS = ("preset", "e0")
# options xfer sets itself from the backend's arguments and the prepared files
RESERVED = (
    "name", "seed", "train_file", "valid_file", "test_file", "valid_fraction", "work_dir",
    "model_dir", "log_dir", "checkpoints_dir", "results_dir", "downloads_dir", "energy_key",
    "forces_key", "virials_key", "stress_key", "E0s", "restart_latest", "distributed",
)  # fmt: skip


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
    return common.resolve_preset(
        "mace",
        PRESETS,
        hyper,
        [*_train_options(), *EXTRA_KEYS],
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
        elif isinstance(value, dict | list | tuple):
            args.append(f"{flag}={value!r}")
        else:
            args.append(f"{flag}={value}")
    return args


_EPOCH_RE = re.compile(r"\bEpoch (\d+): ")


def last_epoch(lines: list[str]) -> int | None:
    """Epochs finished, from the tail of mace_run_train's log (``Epoch <k>: ...`` lines,
    counted from 0, after each evaluation)."""
    for line in reversed(lines):
        match = _EPOCH_RE.search(line)
        if match:
            return int(match.group(1)) + 1
    return None


def _check_device(device: str) -> None:
    if str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise EnvironmentProblem(
                f"mace device {device!r} requested but torch sees no GPU: "
                'use the tiny preset or set device = "cpu"'
            )


def _foundation(hyper: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``hyper`` with ``foundation_model`` resolved to a checked MACE model file (or
    dropped when empty), and the metadata recording which model was fine-tuned."""
    given = str(hyper.get("foundation_model") or "")
    hyper = {k: v for k, v in hyper.items() if k != "foundation_model"}
    if not given:
        if hyper.get("preset") == "finetune":
            raise InputError('the finetune preset needs foundation_model = "<a MACE .model>"')
        return hyper, {}
    path = Path(given).expanduser().resolve()
    if not MaceBackend().recognises(path):
        raise InputError(f"foundation_model {path} is not a MACE .model file")
    hyper["foundation_model"] = str(path)
    return hyper, {"foundation_model": str(path), "foundation_sha256": common.source_sha256(path)}


# ---------------------------------------------------------------- training-set preparation


def reference_energies(
    frames: Sequence[Atoms], given: dict[str, float] | None = None
) -> tuple[dict[str, float] | None, str]:
    """Isolated-atom energies per element and their source.

    ``given`` (hyperparameter ``e0``) wins, then single-atom ``config_type = e0`` frames.
    Returns ``(None, "average")`` when some element has neither: mace then fits E0s to the
    training energies by least squares (its ``--E0s average``).
    """
    e0, sources = common.known_e0(frames, given)
    if any(el not in e0 for el in common.species_of(frames)):
        return None, "average"
    ordered = sorted(e0, key=lambda s: atomic_numbers[s])
    return {el: e0[el] for el in ordered}, "+".join(sorted(sources))


def mace_frame(frame: Atoms, index: int) -> Atoms:
    """Copy of ``frame`` as mace_run_train reads it: ``REF_*`` labels only, no calculator."""
    out = common.labelled_copy(frame, index, config_type="Default")
    if VIRIAL_KEY in out.info:
        out.info[VIRIAL_KEY] = out.info[VIRIAL_KEY].ravel()
    if out.pbc.all() and STRESS_KEY in frame.info:
        out.info[STRESS_KEY] = np.asarray(frame.info[STRESS_KEY], dtype=float).ravel()
    return out


# ---------------------------------------------------------------- model files


@common.per_file_version("MACE LAMMPS model")
def lammps_model_species(path: str) -> tuple[str, ...]:
    """Elements of an exported (``*-lammps.pt``) model in its order; InputError if unreadable."""
    import torch

    try:
        module = torch.jit.load(path, map_location="cpu")
    except (RuntimeError, ValueError) as exc:
        raise InputError(
            f"{path} is not a readable TorchScript MACE model ({common.first_line(exc)}); "
            "re-export it with `xfer export`"
        ) from None
    for name in ("atomic_numbers", "r_max", "num_interactions"):
        if not hasattr(module, name):
            raise InputError(f"{path} is TorchScript but not a MACE LAMMPS model (no {name})")
    return tuple(chemical_symbols[int(z)] for z in module.atomic_numbers.tolist())


def plugin_library() -> Path:
    """xfer's pair_style mace plugin; EnvironmentProblem if it was not built."""
    return common.require_plugin(PLUGIN_DIR / PLUGIN_FILE, "mace", "run scripts/build_plugins.sh")


def export_lammps_model(model_path: Path, out_dir: Path | None = None) -> Path:
    """``<out_dir>/<model>-lammps.pt`` (float64 TorchScript) for ``pair_style mace``.

    ``out_dir`` defaults to :func:`~xfer.backends.common.export_dir` (next to a model xfer
    trained, else the cache); an export newer than the model is reused. The model is never
    written next to: mace_create_lammps_model writes beside the path it reads, so it runs
    on a temporary link in ``out_dir`` and the result is moved into place (a half-written
    export is never visible).
    """
    model_path = Path(model_path).resolve()
    if not model_path.is_file():
        raise InputError(f"MACE model {model_path} does not exist")
    out_dir = common.export_dir(model_path) if out_dir is None else Path(out_dir).resolve()
    target = out_dir / (model_path.name + LAMMPS_SUFFIX)
    if target.is_file() and target.stat().st_mtime_ns >= model_path.stat().st_mtime_ns:
        lammps_model_species(target)
        return target
    staging = out_dir / f".export-{os.getpid()}-{model_path.name}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(model_path)
    produced = staging.with_name(staging.name + LAMMPS_SUFFIX)
    command = [common.find_executable("mace_create_lammps_model", PACKAGE), staging.name]
    try:
        common.run_tool(
            [*command, "--dtype", "float64"],
            out_dir,
            out_dir / (model_path.name + ".export.log"),
            f"mace_create_lammps_model {model_path}",
            markers=("Error", "error:"),
            env=TORCH_ENV,
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
    path = Path(lammps_model).resolve()
    known = lammps_model_species(path)
    plugin_library()
    return common.typed_pair_spec("mace", common.lammps_path(path), known, elements, path, "MACE")


# ---------------------------------------------------------------- ASE


class MaceCalculator(ModelCalculator):
    """mace-torch's MACECalculator (float64) behind xfer's species and periodicity checks."""

    kind = "MACE"

    def __init__(self, model: Path, device: str = "cpu", **kwargs: Any) -> None:
        model = Path(model).resolve()
        if not model.is_file():
            raise InputError(f"MACE model {model} does not exist")
        for var, value in TORCH_ENV.items():
            os.environ.setdefault(var, value)
        from mace.calculators import MACECalculator

        try:
            self._mace = MACECalculator(
                model_paths=str(model), device=device, default_dtype="float64"
            )
        except Exception as exc:  # a corrupt pickle/zip fails with many exception types
            reason = f"{type(exc).__name__}: {common.first_line(exc)}"
            raise InputError(f"{model} is not a readable MACE model ({reason})") from None
        species = [chemical_symbols[int(z)] for z in self._mace.z_table.zs]
        super().__init__(model, species, **kwargs)

    def evaluate(self, properties, system_changes, periodic) -> dict[str, Any]:
        self._mace.calculate(self.atoms, properties, system_changes)
        return dict(self._mace.results)


@common.per_file_version("MACE model")
def mace_model_info(path: str) -> dict[str, Any]:
    """Species (the model's order) and cutoff of a ``.model`` file, read from the model."""
    calc = MaceCalculator(Path(path))
    module = calc._mace.models[0]
    return {
        "species": list(calc.species or []),
        "cutoff": float(module.r_max),
        "num_interactions": int(module.num_interactions),
        "heads": list(getattr(module, "heads", None) or []),
    }


def mace_calculator(model: Path, device: str = "cpu") -> MaceCalculator:
    """MACECalculator for a ``.model`` file, float64, with clear errors for bad input."""
    return MaceCalculator(model, device=device)


# ---------------------------------------------------------------- backend


class MaceBackend(Backend):
    """MACE models: ``mace_run_train``, ``mace_create_lammps_model``, ``pair_style mace``."""

    name = "mace"
    presets = PRESETS
    model_formats = "MACE .model (torch.save of a MACE module, e.g. from mace_run_train)"
    resolve_hyper = staticmethod(resolve_hyper)
    warm_starts = True

    def warm_start(self, previous: Path) -> dict[str, Any]:
        """mace_run_train fine-tuning of the earlier ``.model`` (one head, its weights)."""
        return {"foundation_model": str(Path(previous).resolve()), "multiheads_finetuning": False}

    def fit(self, sets: TrainingSets, out_dir: Path, seed: int, hyper: dict[str, Any]) -> Fit:
        """Train ``out_dir/mace.model`` with mace_run_train in ``out_dir/mace_train``."""
        _check_device(hyper.get("device", "cpu"))
        hyper, foundation = _foundation(hyper)
        e0, e0_source = reference_energies(sets.frames, hyper.get("e0"))
        if e0 is None and foundation:  # no e0 frames: keep the foundation model's own E0s
            e0_source = "foundation"
        work = out_dir / "mace_train"
        work.mkdir(parents=True, exist_ok=True)
        write(work / "train.extxyz", [mace_frame(f, i) for i, f in enumerate(sets.fit)])
        write(work / "valid.extxyz", [mace_frame(f, i) for i, f in enumerate(sets.valid)])
        e0_arg = e0_source if e0 is None else repr({atomic_numbers[k]: v for k, v in e0.items()})
        args = [
            "--name=mace", f"--seed={seed}", "--work_dir=.", "--model_dir=.",
            "--train_file=train.extxyz", "--valid_file=valid.extxyz",
            f"--energy_key={ENERGY_KEY}", f"--forces_key={FORCES_KEY}",
            f"--virials_key={VIRIAL_KEY}", f"--stress_key={STRESS_KEY}", f"--E0s={e0_arg}",
            *train_args(hyper),
        ]  # fmt: skip
        log = work / "train.log"
        epochs = hyper.get("max_num_epochs")
        with TailWatcher(log, last_epoch, lambda n: report("train", n, epochs, "epochs")):
            common.run_tool(
                [common.find_executable("mace_run_train", PACKAGE), *args],
                work,
                log,
                "mace_run_train",
                markers=("Error", "error:"),
                env=TORCH_ENV,
            )
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
        meta = {
            **foundation,
            "r_max": mace_model_info(model_path)["cutoff"],
            "e0": e0,
            "e0_source": e0_source,
            "mace_run_train_args": args,
        }
        return Fit(model_path, meta)

    def recognises(self, path: Path) -> bool:
        """A torch.save zip whose pickle holds mace modules (not TorchScript)."""
        names = common.zip_names(path)
        pickles = [n for n in names if n.endswith("/data.pkl")]
        if not pickles or any("/code/" in n for n in names):
            return False
        return b"mace.modules" in common.zip_member(path, pickles[0])

    def check_model(self, path: Path) -> Path:
        mace_model_info(path)  # loads the model once per file version: a readable MACE model
        return Path(path).resolve()

    def model_info(self, path: Path) -> dict[str, Any]:
        return mace_model_info(path)

    def export(self, model: TrainedModel) -> Path:
        """``<model>-lammps.pt`` (see :func:`export_lammps_model`; made once, checked always)."""
        return export_lammps_model(model.path)

    def pair_spec(self, model: TrainedModel) -> PairSpec:
        return mace_pair_spec(self.export(model))

    def calculator(self, model: TrainedModel) -> MaceCalculator:
        return mace_calculator(model.path)
