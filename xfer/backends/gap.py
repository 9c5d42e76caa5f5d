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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from ase.io import write

from xfer.backends import common
from xfer.backends.base import Backend, Fit, TrainedModel, load_presets
from xfer.backends.calculator import ModelCalculator
from xfer.backends.common import TrainingSets
from xfer.backends.gap_files import GapModelInfo, inspect_model
from xfer.backends.quippy_eval import quippy_model
from xfer.data.frames import CONFIG_TYPE, ENERGY_KEY, FORCES_KEY, VIRIAL_KEY
from xfer.errors import InputError
from xfer.lammps.pair import PairSpec
from xfer.progress import report
from xfer.runtime import PLUGIN_DIR

MODEL_FILE = "gap.xml"
PLUGIN_FILE = "quipplugin.so"
VACUUM_MARGIN = 2.0  # A added around molecules on top of the cutoff for their vacuum cell

PRESETS = load_presets("gap")
EXTRA_KEYS = ("preset", "species", "e0")


def resolve_hyper(hyper: dict[str, Any]) -> dict[str, Any]:
    """Preset (``hyper["preset"]``, default ``tiny``) updated with the other keys given."""
    resolved = common.resolve_preset("gap", PRESETS, hyper, EXTRA_KEYS)
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
    known, sources = common.known_e0(frames, given)
    e0 = {el: value for el, value in known.items() if el in species}
    missing = [el for el in species if el not in e0]
    if missing:
        fit_frames = [f for f in frames if not common.is_e0_frame(f)]
        counts = np.array(
            [[f.get_chemical_symbols().count(el) for el in species] for f in fit_frames]
        )
        energies = np.array([float(f.info[ENERGY_KEY]) for f in fit_frames])
        fixed = np.array([e0.get(el, 0.0) for el in species])
        rest = energies - counts @ fixed
        cols = [species.index(el) for el in missing]
        solution, *_ = np.linalg.lstsq(counts[:, cols].astype(float), rest, rcond=None)
        e0.update({el: float(v) for el, v in zip(missing, solution, strict=True)})
        sources.add("least_squares")
    return {el: e0[el] for el in species}, "+".join(sorted(sources))


def gap_fit_frame(frame: Atoms, index: int, cutoff: float) -> Atoms:
    """Copy of ``frame`` as gap_fit reads it: REF_* labels only, a cell for molecules."""
    out = common.labelled_copy(frame, index)
    if not out.pbc.all():  # QUIP wants a lattice: a vacuum cell wider than extent + cutoff
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


def run_gap_fit(args: Sequence[str], workdir: Path, log: Path) -> None:
    """Run quippy-ase's gap_fit in ``workdir``; its SYSTEM ABORT line explains a failure."""
    common.run_tool(
        [common.find_executable("gap_fit", "quippy-ase"), *args],
        workdir,
        log,
        "gap_fit",
        markers=("SYSTEM ABORT", "ERROR"),
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
    return common.require_plugin(PLUGIN_DIR / PLUGIN_FILE, "quip", "run scripts/build_plugins.sh")


def gap_pair_spec(info: GapModelInfo, elements: Sequence[str] | None = None) -> PairSpec:
    """``pair_style quip`` lines for a checked model; atom types follow ``elements``."""
    head = f'{common.lammps_path(info.xml)} "IP GAP"'
    return common.typed_pair_spec("quip", head, info.species, elements, info.xml, "GAP")


class GapCalculator(ModelCalculator):
    """quippy's GAP ``Potential`` behind checks QUIP itself does not make.

    The model files are checked before quippy loads them, configurations with elements the
    model does not know are refused (QUIP would give those atoms zero energy and force),
    and energy, forces and (periodic only) stress come from one QUIP call. A model whose
    descriptors differ from the first GAP model this process evaluated runs in a worker
    process of its own (QUIP state, see :mod:`xfer.backends.quippy_eval`).
    """

    kind = "GAP"

    def __init__(self, xml: Path, **kwargs: Any) -> None:
        self.info = inspect_model(Path(xml))
        super().__init__(self.info.xml, self.info.species, **kwargs)
        self._quippy = quippy_model(self.info)

    def evaluate(self, properties, system_changes, periodic) -> dict[str, Any]:
        wanted = ["energy", "forces", *(["stress"] if periodic else [])]
        return self._quippy.calculate(self.atoms, wanted)


# ---------------------------------------------------------------- backend


class GapBackend(Backend):
    """2-body + turbo-SOAP GAP models: ``gap_fit``, ``pair_style quip``, quippy."""

    name = "gap"
    presets = PRESETS
    model_formats = "GAP .xml (gap_fit output, its sparseX files beside it)"
    resolve_hyper = staticmethod(resolve_hyper)

    def fit(self, sets: TrainingSets, out_dir: Path, seed: int, hyper: dict[str, Any]) -> Fit:
        """Fit ``out_dir/gap.xml`` (+ sparseX files) with gap_fit in ``out_dir/gap_fit``."""
        species = list(hyper.get("species") or common.species_of(sets.frames))
        unknown = sorted(set(common.species_of(sets.fit + sets.valid)) - set(species))
        if unknown:
            raise InputError(f"frames hold elements {unknown} outside species {species}")
        e0, e0_source = reference_energies(sets.frames, species, hyper.get("e0"))
        cutoff = max(hyper["cutoff_2b"], hyper["soap_cutoff"])
        fit_dir = out_dir / "gap_fit"
        fit_dir.mkdir(parents=True, exist_ok=True)
        train_name = "train_gap.extxyz"
        write(
            fit_dir / train_name,
            [gap_fit_frame(f, i, cutoff) for i, f in enumerate(sets.fit)],
            format="extxyz",
        )
        args = gap_fit_args(hyper, e0, train_name, MODEL_FILE, seed)
        report("train", detail=f"gap_fit on {len(sets.fit)} frames")  # no steps to count
        run_gap_fit(args, fit_dir, fit_dir / "gap_fit.log")
        info = inspect_model(_install_model(fit_dir, out_dir))
        meta = {
            "sparse_files": [p.name for p in info.sparse_files],
            "cutoff": info.cutoff,
            "e0": e0,
            "e0_source": e0_source,
            "hyper": {**hyper, "species": species},
            "gap_fit_args": args,
        }
        return Fit(info.xml, meta)

    def recognises(self, path: Path) -> bool:
        """An xml file whose head names a GAP potential."""
        head = common.file_head(path)
        return head.lstrip().startswith(b"<") and (b"<GAP_params" in head or b"IP GAP" in head)

    def check_model(self, path: Path) -> Path:
        return inspect_model(path).xml

    def model_info(self, path: Path) -> dict[str, Any]:
        info = inspect_model(path)
        return {
            "species": list(info.species),
            "cutoff": info.cutoff,
            "sparse_files": [p.name for p in info.sparse_files],
        }

    def export(self, model: TrainedModel) -> Path:
        """The checked ``gap.xml`` (its sparseX files must stay next to it)."""
        return self.check_model(model.path)

    def pair_spec(self, model: TrainedModel) -> PairSpec:
        plugin_library()
        return gap_pair_spec(inspect_model(model.path))

    def calculator(self, model: TrainedModel) -> GapCalculator:
        return GapCalculator(model.path)


def model_files(path: Path) -> tuple[Path, ...]:
    """The checked xml and every sparseX file it needs (what to copy to move a model)."""
    return inspect_model(path).files
