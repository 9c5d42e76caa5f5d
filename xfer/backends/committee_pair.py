"""One LAMMPS pair style for a whole committee: the first model drives MD, all give the deviation.

* mace / gap: xfer's own ``pair_style mace`` / ``pair_style quip`` take several models in
  ``pair_coeff`` and ``out_freq N out_file F`` in ``pair_style``; they expose the
  deviation to LAMMPS (``compute pair``, ``fix pair ... devi_f``), so halts run in-engine.
* deepmd: deepmd-kit's ``pair_style deepmd m0 m1 ... out_file F out_freq N`` writes the
  same columns to its file only (read between run chunks, see :mod:`xfer.md`).

Members are checked before LAMMPS starts: at least two, one architecture, the same species
and the same cutoff (LAMMPS' neighbour lists and the deviation assume both).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from xfer.backends.base import TrainedModel, get_backend
from xfer.backends.common import lammps_path
from xfer.errors import InputError
from xfer.lammps.pair import PairSpec
from xfer.md import CommitteeSpec

# pair styles whose deviation LAMMPS can read in-engine (compute pair / fix pair)
ENGINE_DEVIATION_STYLES = ("mace", "quip")


@dataclass(frozen=True)
class Member:
    """What the committee pair style needs from one model."""

    lammps_file: Path  # the file the pair style loads
    species: tuple[str, ...]  # in the model's order
    cutoff: float  # A


@cache
def _torchscript_attrs(path: str, mtime_ns: int, names: tuple[str, ...]) -> tuple:
    del mtime_ns  # cache key only
    import torch

    if "get_rcut" in names:
        import deepmd.pt.cxx_op  # noqa: F401  (deepmd's TorchScript custom ops)
    module = torch.jit.load(path, map_location="cpu")
    out = []
    for name in names:
        value = getattr(module, name)
        out.append(value() if callable(value) else value)
    return tuple(out)


def _attrs(path: Path, *names: str) -> tuple:
    return _torchscript_attrs(str(path), path.stat().st_mtime_ns, names)


def _mace_member(model: TrainedModel) -> Member:
    from xfer.backends.mace import export_lammps_model, lammps_model_species

    exported = export_lammps_model(model.path)
    (r_max,) = _attrs(exported, "r_max")
    return Member(exported, lammps_model_species(exported), float(r_max))


def _gap_member(model: TrainedModel) -> Member:
    from xfer.backends.gap_files import inspect_model

    info = inspect_model(model.path)
    return Member(info.xml, info.species, float(info.cutoff))


def _deepmd_member(model: TrainedModel) -> Member:
    from xfer.backends.deepmd import model_type_map

    path = get_backend("deepmd").export(model)
    (rcut,) = _attrs(path, "get_rcut")
    return Member(path, model_type_map(path), float(rcut))


MEMBER_INFO: dict[str, Callable[[TrainedModel], Member]] = {
    "mace": _mace_member,
    "gap": _gap_member,
    "deepmd": _deepmd_member,
}


def check_committee(models: Sequence[TrainedModel]) -> list[Member]:
    """The members of a committee, or InputError (fewer than 2, mixed, species, cutoff)."""
    if len(models) < 2:
        raise InputError(f"a committee needs at least two models, got {len(models)}")
    archs = sorted({m.arch for m in models})
    if len(archs) > 1:
        raise InputError(f"a committee must be of one architecture, got {', '.join(archs)}")
    if archs[0] not in MEMBER_INFO:
        raise InputError(f"no in-LAMMPS committee for architecture {archs[0]!r}")
    members = [MEMBER_INFO[archs[0]](m) for m in models]
    first = members[0]
    for model, member in zip(models[1:], members[1:], strict=True):
        if member.species != first.species:
            raise InputError(
                f"committee members disagree on species: {models[0].path} has "
                f"{' '.join(first.species)}, {model.path} has {' '.join(member.species)}"
            )
        if abs(member.cutoff - first.cutoff) > 1e-9:
            raise InputError(
                f"committee members disagree on the cutoff: {models[0].path} has "
                f"{first.cutoff:g} A, {model.path} has {member.cutoff:g} A"
            )
    return members


def committee_pair_spec(
    models: Sequence[TrainedModel],
    out_file: str | Path | None = None,
    out_freq: int | None = None,
    per_atom_file: bool = False,
) -> PairSpec:
    """Pair lines evaluating the committee ``models`` (``models[0]`` drives the dynamics).

    Without ``out_file``/``out_freq`` the pair style ends with its models, so that the MD
    run appends them (both pair-style families share deepmd-kit's keywords);
    ``per_atom_file`` adds deepmd's per-atom columns to its file (``atomic``).
    """
    members = check_committee(models)
    if out_freq is not None and out_freq < 1:
        raise InputError(f"the deviation interval must be >= 1 step, got {out_freq}")
    arch = models[0].arch
    single = get_backend(arch).pair_spec(models[0])
    files = " ".join(lammps_path(m.lammps_file) for m in members)
    devi = f" out_file {lammps_path(Path(out_file))}" if out_file is not None else ""
    devi += f" out_freq {out_freq}" if out_freq is not None else ""
    devi += " atomic" if per_atom_file and arch == "deepmd" else ""
    elements = " ".join(single.elements)
    if arch == "deepmd":
        style, coeff = f"deepmd {files}{devi}", f"* * {elements}"
    elif arch == "mace":
        style, coeff = f"mace{devi}", f"* * {files} {elements}"
    else:
        style, coeff = f"quip{devi}", f'* * {files} "IP GAP" {elements}'
    return PairSpec(
        pair_style=style,
        pair_coeff=coeff,
        elements=single.elements,
        plugin=single.plugin,
        newton_pair=single.newton_pair,
        extra_commands=single.extra_commands,
    )


def committee_spec(models: Sequence[TrainedModel]) -> CommitteeSpec:
    """The :class:`~xfer.md.CommitteeSpec` of ``models`` for :class:`~xfer.md.MDSettings`."""
    pair = committee_pair_spec(models, per_atom_file=True)
    return CommitteeSpec(
        pair=pair,
        members=tuple(str(m.path) for m in models),
        engine=pair.pair_style.split()[0] in ENGINE_DEVIATION_STYLES,
    )
