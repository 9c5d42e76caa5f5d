"""Schema of the dataset build TOML (``xfer dataset build CONFIG.toml``).

Sections: ``[reference]`` (calculator + kwargs), ``[labelling]``, ``[opls]`` with
``[[opls.runs]]``, ``[sm]``, ``[[vs]]`` (or one ``[vs]`` table), ``[e0]``, ``[[import]]``.
Any section may be left out to skip that tag. Paths are relative to the TOML file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from xfer.errors import InputError, validation_message


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReferenceConfig(_Model):
    calculator: str = "tblite"
    kwargs: dict[str, Any] = Field(default_factory=dict)


class LabellingConfig(_Model):
    workers: int | Literal["auto"] = 1
    retry_failed: bool = False


class OplsRunConfig(_Model):
    ensemble: Literal["npt", "nvt"]
    temperature: float = Field(gt=0, description="K")
    frames: int = Field(ge=1)
    pressure: float = Field(1.0, description="atm (NPT)")
    density: float = Field(1.0, gt=0, description="g/cm3: packing density (NVT: fixed)")


def _paper_runs() -> list[OplsRunConfig]:
    """120 NPT frames at elevated T and P, 80 NVT frames at 300-400 K down to rho_eq / 2."""
    npt = [(400, 1), (500, 1), (500, 5000), (500, 10000), (600, 10000), (600, 20000)]
    nvt = [(t, rho) for t in (300, 400) for rho in (1.1, 0.9, 0.7, 0.55)]
    return [
        OplsRunConfig(ensemble="npt", temperature=t, pressure=p, density=1.1, frames=20)
        for t, p in npt
    ] + [OplsRunConfig(ensemble="nvt", temperature=t, density=r, frames=10) for t, r in nvt]


class OplsConfig(_Model):
    mix: dict[str, int] = Field(default_factory=lambda: {"EC": 4, "EMC": 8})
    runs: list[OplsRunConfig] = Field(default_factory=_paper_runs)
    timestep_fs: float = Field(0.5, gt=0)
    equilibration_ps: float = Field(5.0, ge=0)
    stride_ps: float = Field(0.5, gt=0)
    seed: int = Field(1, ge=1)


class SmConfig(_Model):
    molecules: dict[str, int] = Field(default_factory=lambda: {"EC": 200, "EMC": 400})
    temperatures: list[float] = Field(default_factory=lambda: [300.0, 400.0, 500.0])
    seed: int = 1
    sampler: Literal["reference", "mmff"] = "reference"
    max_bond_strain: float = Field(0.15, gt=0)
    box: float | None = Field(None, gt=0, description="periodic cubic box (A); None: isolated")


class VsConfig(_Model):
    source: str = Field("opls", description="'opls', 'packed' or an extxyz path")
    scans: int = Field(3, ge=1)
    points: int = Field(7, ge=2)
    max_density: float = Field(2.0, gt=0)
    min_density: float = Field(0.1, gt=0)
    min_distance: float = Field(1.0, gt=0, description="A: compressed end stops here")
    scales: list[float] | None = None
    mix: dict[str, int] = Field(default_factory=lambda: {"EC": 4, "EMC": 8})
    density: float = Field(1.1, gt=0, description="g/cm3 of a 'packed' source")
    seed: int = 1


class E0Config(_Model):
    elements: list[str] | Literal["auto"] = "auto"
    unpaired: dict[str, int] = Field(default_factory=dict)
    box: float | None = Field(None, gt=0)


class ImportConfig(_Model):
    """One labelled extxyz file of someone else's (see :mod:`xfer.data.importer`)."""

    path: Path
    key_map: str | dict[str, str] = "ase"
    tag: str = "imported"
    config_types: dict[str, str] = Field(
        default_factory=dict, description="the file's config_type values -> xfer tags"
    )
    composition: str | None = None
    method: str | None = None


class BuildConfig(_Model):
    """A whole dataset build."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    reference: ReferenceConfig = Field(default_factory=ReferenceConfig)
    labelling: LabellingConfig = Field(default_factory=LabellingConfig)
    opls: OplsConfig | None = None
    sm: SmConfig | None = None
    vs: list[VsConfig] = Field(default_factory=list)
    e0: E0Config | None = None
    imports: list[ImportConfig] = Field(default_factory=list, alias="import")

    @field_validator("vs", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value


def load_config(path: Path) -> BuildConfig:
    """Parse and validate a build TOML; errors name the file and the offending entry."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML ({exc})") from exc
    try:
        config = BuildConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: {validation_message(exc, every=True)}") from exc
    for item in config.imports:
        if not item.path.is_absolute():
            item.path = (path.parent / item.path).resolve()
    for scan in config.vs:
        if scan.source not in ("opls", "packed") and not Path(scan.source).is_absolute():
            scan.source = str((path.parent / scan.source).resolve())
    return config
