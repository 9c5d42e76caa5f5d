"""One base for xfer's ASE calculators: the checks every model needs before it evaluates.

ASE's contract (``ase/calculators/calculator.py``): ``calculate()`` calls the base first
(which stores ``self.atoms``) and fills ``self.results``. On top, xfer refuses elements a
model was not trained on (QUIP and DeePMD would silently give them zero or garbage) and
partial periodicity (no backend defines a stress for it), so that every calculator fails
the same readable way. Subclasses only implement :meth:`ModelCalculator.evaluate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator, all_changes

from xfer.backends.common import check_species, full_periodicity


class ModelCalculator(Calculator):
    """Energy, forces and (periodic only) stress of one model, or of several (committees)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]
    kind = "model"  # e.g. "MACE", "GAP": names the model in error messages

    def __init__(
        self, model: Path | None = None, species: Sequence[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.model = None if model is None else Path(model).resolve()
        self.species = None if species is None else tuple(species)

    def calculate(
        self,
        atoms: Any = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = tuple(all_changes),
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        if self.species is not None:
            check_species(self.atoms.get_chemical_symbols(), self.species, self.model, self.kind)
        periodic = full_periodicity(self.atoms, f"{self.kind} needs full or no periodicity")
        wanted = [p for p in properties if p != "stress" or periodic]
        self.results = self.evaluate(wanted, system_changes, periodic)

    def evaluate(
        self, properties: Sequence[str], system_changes: Sequence[str], periodic: bool
    ) -> dict[str, Any]:
        """Results for ``self.atoms`` (checked); ``properties`` holds stress only if periodic."""
        raise NotImplementedError
