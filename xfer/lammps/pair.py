"""The engine-facing contract of a potential: the data file and LAMMPS lines that evaluate it.

Every provider of a potential answers the same :class:`EnginePotential` questions: how
to write a system's data file (atom types, charges, force-field terms), which input
template and variables give its ``pair_style`` lines, and which plugin it needs. The ML
backends answer with a :class:`PairSpec` (``lmp_templates/potential_ml.lmp.j2``);
OPLS-AA is :data:`OPLS_AA` (``lmp_templates/potential_opls.lmp.j2``). The MD engine only
talks to this contract, so no engine code asks which potential it is running.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # datafile pulls in RDKit; this module stays cheap (the backends import it)
    from xfer.chem.system import System
    from xfer.lammps.datafile import DataFileInfo


class EnginePotential(Protocol):
    """What the MD engine needs from any potential."""

    pair_style: str  # the pair style LAMMPS runs (recorded in result.json)
    plugin: str | None  # LAMMPS style a plugin provides, checked before running

    def write_data(self, system: System, path: Path) -> DataFileInfo:
        """Write ``system`` as the LAMMPS data file this potential reads."""
        ...

    def template_vars(self) -> dict[str, Any]:
        """The potential template and its variables for ``md.lmp.j2``."""
        ...

    def describe(self) -> str:
        """One line for reports (e.g. ``pair_style mace (plugin mace)``)."""
        ...


@dataclass(frozen=True)
class PairSpec:
    """What LAMMPS needs to evaluate an ML model.

    ``pair_coeff`` is the argument string after ``pair_coeff``, e.g. ``"* * model.pt H C O"``;
    its element list must follow ``elements`` (the order of LAMMPS atom types).
    """

    pair_style: str
    pair_coeff: str
    elements: tuple[str, ...]
    plugin: str | None = None  # LAMMPS style name provided by a plugin, checked before running
    newton_pair: bool = True
    extra_commands: tuple[str, ...] = ()  # e.g. "neigh_modify ..." a backend requires

    def write_data(self, system: System, path: Path) -> DataFileInfo:
        """Element atom types in the model's order, bonds only (they feed the halts)."""
        from xfer.lammps.datafile import write_ml_data

        return write_ml_data(system, path, list(self.elements))

    def template_vars(self) -> dict[str, Any]:
        return {
            "potential_template": "potential_ml.lmp.j2",
            "pair_style": self.pair_style,
            "pair_coeff": self.pair_coeff,
            "newton_pair": self.newton_pair,
            "extra_commands": list(self.extra_commands),
        }

    def describe(self) -> str:
        plugin = f" (plugin {self.plugin})" if self.plugin else ""
        return f"pair_style {self.pair_style.split()[0]}{plugin}"


@dataclass(frozen=True)
class OplsPotential:
    """OPLS-AA (Jorgensen et al. 2024): LJ + long-range Coulomb, typed data file."""

    title: str = "OPLS-AA"
    pair_style: str = "lj/charmm/coul/long"
    plugin: str | None = None
    lj_inner: float = 9.0  # A, LJ switching starts
    lj_outer: float = 11.0  # A, LJ and real-space Coulomb cut-off
    kspace_accuracy: float = 1.0e-5

    def write_data(self, system: System, path: Path) -> DataFileInfo:
        """OPLS-AA atom types, charges and all bonded terms in the data file."""
        from xfer.lammps.datafile import write_opls_data

        return write_opls_data(system, path)

    def template_vars(self) -> dict[str, Any]:
        return {
            "potential_template": "potential_opls.lmp.j2",
            "lj_inner": self.lj_inner,
            "lj_outer": self.lj_outer,
            "kspace_accuracy": self.kspace_accuracy,
        }

    def describe(self) -> str:
        return f"pair_style {self.pair_style} + kspace pppm ({self.title})"


OPLS_AA = OplsPotential()
CLASSICAL: dict[str, OplsPotential] = {"opls": OPLS_AA}  # potentials that need no model
