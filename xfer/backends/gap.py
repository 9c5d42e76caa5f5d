"""GAP backend: ``gap_fit`` with a 2-body + turbo-SOAP kernel, ``pair_style quip`` in LAMMPS.

Training runs quippy-ase's ``gap_fit`` in a subprocess on an extxyz copy of the training
set prepared here (isolated-atom ``e0`` frames turned into reference energies, stresses
into virials, vacuum cells for molecules). The model is ``gap.xml`` plus the
``gap.xml.sparseX.*`` files it names; LAMMPS evaluates it with xfer's own ``quip`` plugin
(plugins/quip) and Python with quippy's ``Potential``. Model files are checked by
:mod:`xfer.backends.gap_files` before QUIP reads them, because QUIP reports bad files by
killing the process.

QUIP's LAMMPS interface holds ONE model per process: evaluate different GAP models in
LAMMPS in different processes (the plugin refuses a second model with a clear error).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.data import atomic_numbers
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
from xfer.backends.gap_files import GapModelInfo, check_species, inspect_model
from xfer.data.frames import CONFIG_TYPE, ENERGY_KEY, FORCES_KEY, STRESS_KEY, VIRIAL_KEY
from xfer.errors import EnvironmentProblem, InputError
from xfer.lammps.pair import PairSpec
from xfer.runtime import PLUGIN_DIR, THREAD_VARIABLES

MODEL_FILE = "gap.xml"
PLUGIN_FILE = "quipplugin.so"
LOG_TAIL_LINES = 8
VACUUM_MARGIN = 2.0  # A added around molecules on top of the cutoff for their vacuum cell

# Flat hyperparameters (TOML-friendly). sigma_* are gap_fit's default_sigma (energy eV,
# force eV/A, virial eV); config_type_sigma maps a config_type to [energy, force, virial].
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "cutoff_2b": 4.0,
        "cutoff_transition_2b": 1.0,
        "delta_2b": 0.5,
        "theta_2b": 1.0,
        "n_sparse_2b": 10,
        "soap_cutoff": 4.0,
        "soap_cutoff_transition": 0.5,
        "l_max": 4,
        "alpha_max": 4,
        "atom_sigma": 0.5,
        "zeta": 4,
        "delta_soap": 1.0,
        "n_sparse_soap": 200,
        "sparse_method_soap": "cur_points",
        "sigma_energy": 0.005,
        "sigma_force": 0.1,
        "sigma_virial": 0.05,
        "sparse_jitter": 1.0e-8,
        "config_type_sigma": {},
    },
    "paper": {
        "cutoff_2b": 5.0,
        "cutoff_transition_2b": 1.0,
        "delta_2b": 0.5,
        "theta_2b": 1.0,
        "n_sparse_2b": 20,
        "soap_cutoff": 5.0,
        "soap_cutoff_transition": 0.5,
        "l_max": 8,
        "alpha_max": 8,
        "atom_sigma": 0.5,
        "zeta": 4,
        "delta_soap": 1.0,
        "n_sparse_soap": 4000,
        "sparse_method_soap": "cur_points",
        "sigma_energy": 0.002,
        "sigma_force": 0.05,
        "sigma_virial": 0.05,
        "sparse_jitter": 1.0e-8,
        "config_type_sigma": {},
    },
}
EXTRA_KEYS = ("preset", "species", "e0")


def resolve_hyper(hyper: dict[str, Any]) -> dict[str, Any]:
    """Preset (``hyper["preset"]``, default ``tiny``) updated with the other keys given."""
    resolved = resolve_preset("gap", PRESETS, hyper, EXTRA_KEYS)
    if resolved["soap_cutoff_transition"] >= resolved["soap_cutoff"]:
        raise InputError("gap soap_cutoff_transition must be smaller than soap_cutoff")
    return resolved


# ---------------------------------------------------------------- training-set preparation


def reference_energies(
    frames: Sequence[Atoms], species: Sequence[str], given: dict[str, float] | None = None
) -> tuple[dict[str, float], str]:
    """Isolated-atom energies per element and where they came from.

    Taken from ``given`` (hyperparameter ``e0``), then from single-atom frames with
    ``config_type = e0``; elements still missing get a least-squares fit of the frame
    energies to atom counts (a baseline only: GAP learns the rest).
    """
    e0 = {el: float(v) for el, v in (given or {}).items() if el in species}
    sources = {"hyper"} if e0 else set()
    if e0_from_frames(frames, e0):
        sources.add("e0_frames")
    missing = [el for el in species if el not in e0]
    if missing:
        fit_frames = [f for f in frames if not is_e0_frame(f)]
        counts = np.array(
            [[f.get_chemical_symbols().count(el) for el in species] for f in fit_frames]
        )
        energies = np.array([float(f.info[ENERGY_KEY]) for f in fit_frames])
        known = np.array([e0.get(el, 0.0) for el in species])
        rest = energies - counts @ known
        cols = [species.index(el) for el in missing]
        solution, *_ = np.linalg.lstsq(counts[:, cols].astype(float), rest, rcond=None)
        e0.update({el: float(v) for el, v in zip(missing, solution, strict=True)})
        sources.add("least_squares")
    return {el: e0[el] for el in species}, "+".join(sorted(sources))


def _virial(frame: Atoms) -> np.ndarray | None:
    """3x3 reference virial (eV) of a periodic frame, from REF_virial or REF_stress."""
    if VIRIAL_KEY in frame.info:
        return np.asarray(frame.info[VIRIAL_KEY], dtype=float).reshape(3, 3)
    if STRESS_KEY in frame.info:
        stress = np.asarray(frame.info[STRESS_KEY], dtype=float).ravel()
        if stress.size == 6:
            xx, yy, zz, yz, xz, xy = stress
            stress = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
        return -stress.reshape(3, 3) * frame.get_volume()
    return None


def gap_fit_frame(frame: Atoms, index: int, cutoff: float) -> Atoms:
    """Copy of ``frame`` as gap_fit reads it: REF_* labels only, a cell for molecules."""
    missing = [k for k, d in ((ENERGY_KEY, frame.info), (FORCES_KEY, frame.arrays)) if k not in d]
    if missing:
        raise InputError(f"training frame {index} lacks {', '.join(missing)} labels")
    if frame.pbc.any() and not frame.pbc.all():
        raise InputError(f"training frame {index} is periodic in some directions only")
    out = Atoms(frame.get_chemical_symbols(), positions=frame.positions, pbc=frame.pbc.all())
    out.info[ENERGY_KEY] = float(frame.info[ENERGY_KEY])
    out.info[CONFIG_TYPE] = str(frame.info.get(CONFIG_TYPE, "default"))
    out.arrays[FORCES_KEY] = np.asarray(frame.arrays[FORCES_KEY], dtype=float)
    if frame.pbc.all():
        out.cell = frame.cell
        virial = _virial(frame)
        if virial is not None:
            out.info[VIRIAL_KEY] = virial
    else:  # QUIP wants a lattice: a vacuum cell wider than the extent plus the cutoff
        extent = np.ptp(frame.positions, axis=0).max() if len(frame) else 0.0
        out.cell = np.eye(3) * (extent + 2 * (cutoff + VACUUM_MARGIN))
        out.center()
    return out


# ---------------------------------------------------------------- gap_fit


def _braces(values: Sequence[Any]) -> str:
    return "{{" + " ".join(str(v) for v in values) + "}}"


def gap_seed(seed: int) -> int:
    """gap_fit's rnd_seed for xfer seed ``seed`` (QUIP's generator rejects 0)."""
    if seed < 0:
        raise InputError(f"seeds must be >= 0, got {seed}")
    return seed + 1


def gap_fit_args(
    hyper: dict[str, Any], e0: dict[str, float], train_name: str, xml_name: str, seed: int
) -> list[str]:
    """gap_fit command-line arguments (one argv entry each) for resolved ``hyper``."""
    species = list(e0)
    numbers = [atomic_numbers[el] for el in species]
    n = len(species)
    two_body = (
        f"distance_2b cutoff={hyper['cutoff_2b']} "
        f"cutoff_transition_width={hyper['cutoff_transition_2b']} covariance_type=ard_se "
        f"delta={hyper['delta_2b']} theta_uniform={hyper['theta_2b']} "
        f"n_sparse={hyper['n_sparse_2b']} sparse_method=uniform add_species=T"
    )
    soap = (
        f"soap_turbo l_max={hyper['l_max']} alpha_max={_braces([hyper['alpha_max']] * n)} "
        f"atom_sigma_r={_braces([hyper['atom_sigma']] * n)} "
        f"atom_sigma_t={_braces([hyper['atom_sigma']] * n)} "
        f"atom_sigma_r_scaling={_braces([0.0] * n)} atom_sigma_t_scaling={_braces([0.0] * n)} "
        f"amplitude_scaling={_braces([1.0] * n)} central_weight={_braces([1.0] * n)} "
        f"rcut_hard={hyper['soap_cutoff']} "
        f"rcut_soft={hyper['soap_cutoff'] - hyper['soap_cutoff_transition']} "
        "basis=poly3gauss scaling_mode=polynomial radial_enhancement=1 compress_mode=trivial "
        f"n_species={n} species_Z={_braces(numbers)} zeta={hyper['zeta']} "
        f"delta={hyper['delta_soap']} f0=0.0 covariance_type=dot_product "
        f"sparse_method={hyper['sparse_method_soap']} n_sparse={hyper['n_sparse_soap']} "
        "add_species=T"
    )
    e0_text = ":".join(f"{el}:{value!r}" for el, value in e0.items())
    sigma = f"{hyper['sigma_energy']} {hyper['sigma_force']} {hyper['sigma_virial']} 0.0"
    args = [
        f"atoms_filename={train_name}",
        f"energy_parameter_name={ENERGY_KEY}",
        f"force_parameter_name={FORCES_KEY}",
        f"virial_parameter_name={VIRIAL_KEY}",
        f"config_type_parameter_name={CONFIG_TYPE}",
        f"e0={{{e0_text}}}",
        f"default_sigma={{{sigma}}}",
        f"sparse_jitter={hyper['sparse_jitter']}",
        f"gap={{{two_body} : {soap}}}",
        f"gp_file={xml_name}",
        f"rnd_seed={gap_seed(seed)}",
        "do_copy_at_file=F",
    ]
    if hyper["config_type_sigma"]:
        parts = []
        for ctype, sigmas in hyper["config_type_sigma"].items():
            values = [float(s) for s in sigmas]
            if len(values) != 3:
                raise InputError(f"config_type_sigma[{ctype!r}] needs [energy, force, virial]")
            parts.append(":".join([str(ctype), *map(str, values), "0.0"]))
        args.append("config_type_sigma={" + ":".join(parts) + "}")
    return args


def gap_fit_executable() -> str:
    """The ``gap_fit`` of quippy-ase next to this Python, else on PATH."""
    local = Path(sys.executable).parent / "gap_fit"
    found = str(local) if local.is_file() else shutil.which("gap_fit")
    if not found:
        raise EnvironmentProblem("gap_fit not found: install quippy-ase (requirements.lock.txt)")
    return found


def run_gap_fit(args: Sequence[str], workdir: Path, log: Path) -> None:
    """Run gap_fit in ``workdir`` (single-threaded unless the user set threads)."""
    env = dict(os.environ)
    for var in THREAD_VARIABLES:
        env.setdefault(var, "1")
    with open(log, "w") as fh:
        proc = subprocess.run(
            [gap_fit_executable(), *args], cwd=workdir, env=env, stdout=fh, stderr=subprocess.STDOUT
        )
    if proc.returncode != 0:
        lines = log.read_text(errors="replace").strip().splitlines()
        reason = [ln for ln in lines if "SYSTEM ABORT" in ln or "ERROR" in ln]
        tail = reason[-2:] or lines[-LOG_TAIL_LINES:]
        raise InputError(
            f"gap_fit failed (exit {proc.returncode}) in {workdir}: "
            + " | ".join(ln.strip() for ln in tail)
            + f" (full log: {log})"
        )


def _install_model(fit_dir: Path, out_dir: Path) -> Path:
    """Move gap_fit's xml and sparseX files into ``out_dir``; the xml last (it names them)."""
    for old in out_dir.glob(f"{MODEL_FILE}.sparseX.*"):
        old.unlink()
    for sparse in sorted(fit_dir.glob(f"{MODEL_FILE}.sparseX.*")):
        os.replace(sparse, out_dir / sparse.name)
    target = out_dir / MODEL_FILE
    os.replace(fit_dir / MODEL_FILE, target)
    return target


# ---------------------------------------------------------------- LAMMPS and ASE


def plugin_library() -> Path:
    """xfer's pair_style quip plugin; EnvironmentProblem if it was not built."""
    library = PLUGIN_DIR / PLUGIN_FILE
    if not library.is_file():
        raise EnvironmentProblem(
            f"the pair_style quip plugin {library} is missing: run scripts/build_plugins.sh"
        )
    return library


def gap_pair_spec(info: GapModelInfo, elements: Sequence[str] | None = None) -> PairSpec:
    """``pair_style quip`` lines for a checked model; atom types follow ``elements``."""
    elements = tuple(elements or info.species)
    check_species(elements, info)
    return PairSpec(
        pair_style="quip",
        pair_coeff=f'* * {lammps_path(info.xml)} "IP GAP" {" ".join(elements)}',
        elements=elements,
        plugin="quip",
        newton_pair=True,
    )


class GapCalculator(Calculator):
    """quippy's GAP ``Potential`` behind checks QUIP itself does not make.

    The model files are checked before quippy loads them, configurations with elements the
    model does not know are refused (QUIP would give those atoms zero energy and force),
    and energy, forces and (periodic only) stress come from one QUIP call.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, xml: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.info = inspect_model(Path(xml))
        from quippy.potential import Potential

        self._pot = Potential(param_filename=str(self.info.xml))

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = tuple(all_changes),
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        check_species(self.atoms.get_chemical_symbols(), self.info)
        periodic = self.atoms.pbc.all()
        if self.atoms.pbc.any() and not periodic:
            raise InputError(f"GAP needs full or no periodicity, got pbc={self.atoms.pbc}")
        wanted = ["energy", "forces", *(["stress"] if periodic else [])]
        self._pot.calculate(self.atoms, wanted, system_changes)
        self.results = {
            "energy": float(self._pot.results["energy"]),
            "free_energy": float(self._pot.results["energy"]),
            "forces": np.array(self._pot.results["forces"], dtype=float),
        }
        if periodic:
            self.results["stress"] = np.array(self._pot.results["stress"], dtype=float)


# ---------------------------------------------------------------- backend


class GapBackend(Backend):
    """2-body + turbo-SOAP GAP models: ``gap_fit``, ``pair_style quip``, quippy."""

    name = "gap"
    lammps_pair_style = "quip"

    def train(
        self,
        train_file: Path,
        valid_file: Path,
        out_dir: Path,
        seed: int,
        hyper: dict[str, Any],
    ) -> TrainedModel:
        """Fit ``out_dir/gap.xml`` (+ sparseX files) with ``seed``; write its metadata."""
        resolved = resolve_hyper(hyper)
        train_frames = read_training_frames(train_file)
        valid_frames = [f for f in read_training_frames(valid_file) if not is_e0_frame(f)]
        fit_frames = [f for f in train_frames if not is_e0_frame(f)]
        if not fit_frames:
            raise InputError(f"{train_file} holds only e0 frames")
        if not valid_frames:
            raise InputError(f"{valid_file} holds no frames besides e0 frames to validate on")
        species = list(resolved.get("species") or species_of(train_frames))
        unknown = sorted(set(species_of(fit_frames + valid_frames)) - set(species))
        if unknown:
            raise InputError(f"frames hold elements {unknown} outside species {species}")
        e0, e0_source = reference_energies(train_frames, species, resolved.get("e0"))
        cutoff = max(resolved["cutoff_2b"], resolved["soap_cutoff"])

        out_dir = Path(out_dir).resolve()
        fit_dir = out_dir / "gap_fit"
        fit_dir.mkdir(parents=True, exist_ok=True)
        train_name = "train_gap.extxyz"
        write(
            fit_dir / train_name,
            [gap_fit_frame(f, i, cutoff) for i, f in enumerate(fit_frames)],
            format="extxyz",
        )
        args = gap_fit_args(resolved, e0, train_name, MODEL_FILE, seed)
        started = time.perf_counter()
        run_gap_fit(args, fit_dir, fit_dir / "gap_fit.log")
        fit_seconds = time.perf_counter() - started
        model_path = _install_model(fit_dir, out_dir)
        info = inspect_model(model_path)

        errors = validation_errors(GapCalculator(model_path), valid_frames)
        meta = {
            "arch": self.name,
            "seed": seed,
            "model_file": MODEL_FILE,
            "sparse_files": [p.name for p in info.sparse_files],
            "species": list(info.species),
            "cutoff": info.cutoff,
            "e0": e0,
            "e0_source": e0_source,
            "hyper": {**resolved, "species": species},
            "gap_fit_args": args,
            "fit_seconds": round(fit_seconds, 2),
            **training_provenance(train_file, valid_file),
            "n_train_frames": len(fit_frames),
            "validation_errors": errors,
        }
        write_model_meta(model_path, meta)
        return TrainedModel(arch=self.name, path=model_path, meta=meta)

    def export(self, model: TrainedModel) -> Path:
        """The checked ``gap.xml`` (its sparseX files must stay next to it)."""
        return inspect_model(model.path).xml

    def pair_spec(self, model: TrainedModel) -> PairSpec:
        plugin_library()
        return gap_pair_spec(inspect_model(model.path))

    def calculator(self, model: TrainedModel) -> Calculator:
        return GapCalculator(model.path)


def model_files(path: Path) -> tuple[Path, ...]:
    """The checked xml and every sparseX file it needs (what to copy to move a model)."""
    return inspect_model(path).files


def load_model(path: Path) -> TrainedModel:
    """A GAP xml (metadata optional) as a :class:`TrainedModel`, checked."""
    info = inspect_model(path)
    return TrainedModel(arch="gap", path=info.xml, meta=read_model_meta(info.xml))
