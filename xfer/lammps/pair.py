"""The engine-facing contract of a potential: the LAMMPS lines that evaluate it.

Every provider of a potential (the ML backends, OPLS-AA) answers with a :class:`PairSpec`;
the MD and single-point engines render it through ``lmp_templates/potential_ml.lmp.j2``
and check its plugin before running.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PairSpec:
    """What LAMMPS needs to evaluate a model.

    ``pair_coeff`` is the argument string after ``pair_coeff``, e.g. ``"* * model.pt H C O"``;
    its element list must follow ``elements`` (the order of LAMMPS atom types).
    """

    pair_style: str
    pair_coeff: str
    elements: tuple[str, ...]
    plugin: str | None = None  # LAMMPS style name provided by a plugin, checked before running
    newton_pair: bool = True
    extra_commands: tuple[str, ...] = ()  # e.g. "neigh_modify ..." a backend requires
