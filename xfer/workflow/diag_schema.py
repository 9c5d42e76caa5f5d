"""Schema of a campaign's ``[diagnostics]`` table and the ``[[models]]`` the user brings.

::

    [[models]]                       a model of the user's (name it; arch = its backend)
    name = "mace-off"; path = "models/MACE-OFF.model"; arch = "mace"

    [diagnostics.volume_scan]        held-out rigid scans (Figures 3, 4)
    models = ["mace/OPLS/seed0", "mace-off"]     # default: every model
    mixes = [{EC = 4, EMC = 8}, {EC = 8, EMC = 4}]; scans = 5; points = 7
    plateau_density = 0.3; shift_threshold = 5.0 # g/cm3; meV/atom

    [diagnostics.along]              errors along each model's own run (Figure 7)
    ensemble = "nvt"; every_ps = 20.0

    [diagnostics.generalisation]     unseen liquids by volume ratio (Figure 5)
    molecules = 48; ensemble = "npt"; every_ps = 20.0; time_ps = <md.time_ps>
    [[diagnostics.generalisation.liquids]]
    name = "EC:DEC 1:1 v/v"; mix_vv = {EC = 1, DEC = 1}

Model names are those of the campaign's committees (``arch/recipe/seedK``) or of
``[[models]]`` entries. The reference that relabels frames is the dataset build's, or
``[diagnostics.reference]`` (calculator + kwargs, as in a dataset build).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from xfer.chem.volume_mix import LIQUID_DENSITY
from xfer.data.config import ReferenceConfig

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+/-]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserModel(_Model):
    """A model file the user brings (xfer-trained with metadata, or bare of ``arch``)."""

    name: str = Field(pattern=NAME_PATTERN)
    path: Path
    arch: str


class VolumeScanDiag(_Model):
    models: list[str] | None = Field(None, description="model names (default: all)")
    mixes: list[dict[str, int]] = Field(
        default_factory=lambda: [{"EC": 4, "EMC": 8}, {"EC": 8, "EMC": 4}]
    )
    scans: int = Field(5, ge=1, description="configurations per composition")
    points: int = Field(7, ge=2)
    density: float = Field(1.1, gt=0, description="g/cm3 of the packed boxes scanned")
    plateau_density: float = Field(0.3, gt=0, description="g/cm3")
    shift_threshold: float = Field(5.0, gt=0, description="meV/atom")


class AlongDiag(_Model):
    models: list[str] | None = None
    ensemble: Literal["npt", "nvt"] = "nvt"
    every_ps: float = Field(20.0, gt=0)


class Liquid(_Model):
    name: str = Field(min_length=1)
    mix_vv: dict[str, float] = Field(description="parts by volume, e.g. {EC = 1, DEC = 1}")

    @field_validator("mix_vv")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(LIQUID_DENSITY))
        if unknown or not value or any(v <= 0 for v in value.values()):
            raise ValueError(
                f"need positive parts of molecules with a liquid density "
                f"({', '.join(LIQUID_DENSITY)}); got {value}"
            )
        return value


def _liquids() -> list[Liquid]:
    return [
        Liquid(name="EC:DEC 1:1 v/v", mix_vv={"EC": 1, "DEC": 1}),
        Liquid(name="VC:EMC 1:1 v/v", mix_vv={"VC": 1, "EMC": 1}),
        Liquid(name="PC", mix_vv={"PC": 1}),
    ]


class GeneralisationDiag(_Model):
    models: list[str] | None = None
    liquids: list[Liquid] = Field(default_factory=_liquids, min_length=1)
    molecules: int = Field(48, ge=1)
    ensemble: Literal["npt", "nvt"] = "npt"
    every_ps: float = Field(20.0, gt=0)
    time_ps: float | None = Field(None, gt=0, description="default: md.time_ps")


class Diagnostics(_Model):
    reference: ReferenceConfig | None = None
    volume_scan: VolumeScanDiag | None = None
    along: AlongDiag | None = None
    generalisation: GeneralisationDiag | None = None

    def selections(self) -> dict[str, list[str] | None]:
        """Model names per enabled diagnostic (None: every model)."""
        return {
            name: table.models
            for name, table in (("volume_scan", self.volume_scan), ("along", self.along),
                                ("generalisation", self.generalisation))
            if table is not None
        }  # fmt: skip
