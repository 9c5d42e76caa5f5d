"""Analysis settings: every cut, block and grid of SPEC section 5, with the paper's defaults.

The defaults reproduce the paper (1 ns runs, 100 ps equilibration, 100 ps MSD blocks
10 ps apart, 10 ps ballistic cut). Short laptop runs scale them down through this model
(campaign TOML embeds it; the CLI reads it from a TOML/JSON file or options).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xfer.errors import InputError, validation_message


class DensityGrid(BaseModel):
    """Fixed histogram grid (g/cm3) shared by every model that is compared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float = Field(0.2, ge=0.0, description="lower edge of the first bin")
    max: float = Field(2.0, gt=0.0, description="upper edge of the last bin")
    width: float = Field(0.005, gt=0.0, description="bin width")

    @model_validator(mode="after")
    def _ordered(self) -> DensityGrid:
        if self.max <= self.min:
            raise ValueError("density grid: max must exceed min")
        return self


class AnalysisSettings(BaseModel):
    """How runs are analyzed and scored (times in ps)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    full_length_ps: float = Field(
        1000.0, gt=0.0, description="configured full run length: shorter runs are unstable"
    )
    equilibration_ps: float = Field(100.0, ge=0.0, description="discarded at the start of a run")
    block_ps: float = Field(100.0, gt=0.0, description="length of one MSD block")
    block_spacing_ps: float = Field(10.0, gt=0.0, description="distance between block starts")
    ballistic_ps: float = Field(10.0, ge=0.0, description="dropped at the start of each block")
    msd_origins: Literal["block_start", "all"] = Field(
        "block_start",
        description="block_start: one time origin per block (the paper); "
        "all: FFT average over every origin inside the block",
    )
    density_grid: DensityGrid = DensityGrid()
    kl_epsilon: float = Field(
        1e-6,
        gt=0.0,
        lt=1e-2,
        description="additive smoothing of every histogram bin before KL (empty bins)",
    )
    density_min_blocks: int = Field(
        16, ge=2, description="fewest blocks a blocking level may have for the density SE"
    )

    @model_validator(mode="after")
    def _consistent(self) -> AnalysisSettings:
        if self.ballistic_ps >= self.block_ps:
            raise ValueError("ballistic_ps must be shorter than block_ps")
        return self


def load_settings(path: Path | None = None, **overrides: float | None) -> AnalysisSettings:
    """Settings from a TOML/JSON file (optionally under an ``[analysis]`` table) plus overrides.

    ``None`` overrides are ignored so CLI options can be passed through unchanged.
    """
    data: dict = {}
    if path is not None:
        try:
            text = Path(path).read_text()
            data = tomllib.loads(text) if Path(path).suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read analysis settings {path}: {exc}") from exc
        data = data.get("analysis", data)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return AnalysisSettings.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"bad analysis setting {validation_message(exc, 'settings')}") from exc
