"""Schema of the campaign TOML (``xfer campaign run FILE``): one file describes a whole study.

Tables (paths are relative to the TOML file, except ``campaign.out``, which is relative to
the working directory)::

    [campaign]   name, out (results directory), parsl (execution profile name or file)
    [dataset]    build = "<dataset build TOML>" | [dataset.config] (the same, inline) |
                 path = "<existing dataset dir>"; valid_fraction, split_seed
    [recipes.NAME]                      user recipes (same form as ``xfer dataset recipe``)
    [training]   recipes = [...], committee = N (seeds 0..N-1) or seeds = [...]
    [training.architectures.ARCH]       preset (one the backend declares), hyper = {...},
                                        recipes (a subset of training.recipes; default all)
    [md]         mix, temperature, time_ps, timestep_fs, seed, halts, output strides,
                 minimize_steps (relax the packed box before MD)
    [md.npt]     pressure, density (packing), density_range (halt), pdamp_fs (barostat)
    [md.nvt]     density (fixed)
    [analysis]   AnalysisSettings (full_length_ps defaults to md.time_ps)
    [reference]  arch + recipe (a committee of this campaign) | potential = "opls", members
    [active_learning] (+ .explore, .starts, .stop)  optional AL loops (:mod:`al_schema`)
    [[models]]   name, path, arch: models the user brings (for the diagnostics)
    [diagnostics] (+ .volume_scan, .along, .generalisation)  (:mod:`diag_schema`)

Validation errors name the field and, where the choice is closed, the allowed values.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xfer.analysis.settings import AnalysisSettings
from xfer.backends.base import available_backends, preset_names
from xfer.chem.molecules import known_molecules
from xfer.data.config import BuildConfig, load_config
from xfer.data.recipes import NAMED, Recipe
from xfer.errors import InputError, validation_message
from xfer.workflow.al_schema import ActiveLearning
from xfer.workflow.diag_schema import Diagnostics, UserModel


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CampaignMeta(_Model):
    name: str = Field("campaign", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    out: Path | None = Field(None, description="results directory (default runs/<name>)")
    parsl: str = Field(
        "local", description="bundled profile name (xfer/workflow/profiles/) or a config file"
    )


class DatasetSource(_Model):
    build: Path | None = Field(None, description="dataset build TOML (xfer dataset build)")
    config: BuildConfig | None = Field(None, description="the same build, inline")
    path: Path | None = Field(None, description="an existing dataset directory")
    valid_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    split_seed: int = 0

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSource:
        if sum(x is not None for x in (self.build, self.config, self.path)) != 1:
            raise ValueError(
                "give exactly one of build = '<build TOML>', a [dataset.config] table "
                "or path = '<dataset dir>'"
            )
        return self

    def build_config(self) -> BuildConfig:
        """The build configuration (from the file or the inline table)."""
        if self.config is not None:
            return self.config
        assert self.build is not None
        return load_config(self.build)


class Architecture(_Model):
    preset: str = Field("tiny", description="a preset the architecture's backend declares")
    hyper: dict[str, Any] = Field(default_factory=dict, description="backend hyperparameters")
    recipes: list[str] | None = Field(
        None, description="train only these of training.recipes (e.g. a reference on Full)"
    )


class Training(_Model):
    recipes: list[str] = Field(min_length=1)
    architectures: dict[str, Architecture] = Field(min_length=1)
    committee: int | None = Field(None, ge=1, description="seeds 0..committee-1")
    seeds: list[int] | None = None

    @model_validator(mode="after")
    def _seeds(self) -> Training:
        if (self.committee is None) == (self.seeds is None):
            raise ValueError("give exactly one of committee = N or seeds = [...]")
        if self.seeds is not None and len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct")
        if len(set(self.recipes)) != len(self.recipes):
            raise ValueError("recipes must be distinct")
        return self

    @property
    def seed_list(self) -> list[int]:
        return list(self.seeds) if self.seeds is not None else list(range(self.committee or 0))


class NptRun(_Model):
    pressure: float = Field(1.0, description="atm")
    density: float = Field(1.1, gt=0, description="g/cm3 of the packed start box")
    density_range: tuple[float, float] | None = Field((0.2, 2.0), description="halt (g/cm3)")
    pdamp_fs: float | None = Field(
        None, gt=0, description="barostat damping time (fs); default that of xfer md"
    )


class NvtRun(_Model):
    density: float = Field(0.92, gt=0, description="g/cm3, fixed")


class ValidationMD(_Model):
    mix: dict[str, int] = Field(default_factory=lambda: {"EC": 16, "EMC": 32})
    temperature: float = Field(500.0, gt=0, description="K")
    time_ps: float = Field(1000.0, gt=0, description="length of every NPT and NVT run")
    timestep_fs: float = Field(0.5, gt=0)
    seed: int = Field(1, ge=1, description="packing and velocity seed")
    bond_stretch_max: float = Field(0.5, gt=0, description="halt: bond longer than r0 + this (A)")
    check_every: int = Field(10, ge=1, description="steps between halt checks")
    minimize_steps: int = Field(
        0, ge=0, description="conjugate-gradient steps on the packed box before MD (0: none)"
    )
    thermo_every: int = Field(10, ge=1)
    dump_every: int = Field(100, ge=1)
    npt: NptRun = Field(default_factory=NptRun)
    nvt: NvtRun = Field(default_factory=NvtRun)

    @model_validator(mode="after")
    def _molecules(self) -> ValidationMD:
        unknown = sorted(set(self.mix) - set(known_molecules()))
        if unknown:
            raise _FieldError(
                ("md", "mix"),
                f"unknown molecule(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(known_molecules())}",
            )
        if any(n < 1 for n in self.mix.values()):
            raise _FieldError(("md", "mix"), "molecule counts must be >= 1")
        return self


class ReferenceCommittee(_Model):
    """Who defines P_ref and D_ref: a committee of this campaign, or classical OPLS runs."""

    arch: str | None = None
    recipe: str | None = None
    potential: Literal["opls"] | None = None
    members: int = Field(2, ge=2, description="OPLS runs differing only in seed")

    @model_validator(mode="after")
    def _kind(self) -> ReferenceCommittee:
        cell = self.arch is not None or self.recipe is not None
        if cell == (self.potential is not None):
            raise ValueError(
                "give either arch + recipe (a committee of this campaign) or potential = 'opls'"
            )
        if cell and (self.arch is None or self.recipe is None):
            raise ValueError("a committee reference needs both arch and recipe")
        return self


class Campaign(_Model):
    """A whole study: dataset -> recipes -> committees -> validation MD -> analysis -> report."""

    campaign: CampaignMeta = Field(default_factory=CampaignMeta)
    dataset: DatasetSource
    recipes: dict[str, dict[str, Any]] = Field(default_factory=dict, description="user recipes")
    training: Training
    md: ValidationMD = Field(default_factory=ValidationMD)
    analysis: dict[str, Any] = Field(default_factory=dict)
    reference: ReferenceCommittee
    active_learning: ActiveLearning | None = None
    models: list[UserModel] = Field(default_factory=list)
    diagnostics: Diagnostics | None = None

    source: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        known = available_backends()
        for arch in self.training.architectures:
            if arch not in known:
                raise _FieldError(
                    ("training", "architectures", arch),
                    f"unknown architecture; allowed: {', '.join(known)}",
                )
        for arch, settings in self.training.architectures.items():
            presets = preset_names(arch)
            if presets and settings.preset not in presets:
                raise _FieldError(
                    ("training", "architectures", arch, "preset"),
                    f"unknown preset {settings.preset!r}; should be "
                    + " or ".join(repr(name) for name in presets),
                )
        allowed = [*NAMED, *self.recipes]
        for k, name in enumerate(self.training.recipes):
            if name not in allowed:
                raise _FieldError(
                    ("training", "recipes", k),
                    f"unknown recipe {name!r}; allowed: {', '.join(allowed)}",
                )
        for arch, settings in self.training.architectures.items():
            for k, name in enumerate(settings.recipes or []):
                if name not in self.training.recipes:
                    raise _FieldError(
                        ("training", "architectures", arch, "recipes", k),
                        f"{name!r} is not in training.recipes; allowed: "
                        + ", ".join(self.training.recipes),
                    )
        for name, body in self.recipes.items():
            try:
                Recipe(name=name, **body)
            except (ValidationError, TypeError) as exc:
                raise _FieldError(("recipes", name), validation_message(exc)) from None
        try:
            settings = self.analysis_settings
        except ValidationError as exc:
            err = exc.errors()[0]
            raise _FieldError(("analysis", *err["loc"]), err["msg"]) from None
        if abs(settings.full_length_ps - self.md.time_ps) > 1e-9 * self.md.time_ps:
            raise _FieldError(
                ("analysis", "full_length_ps"),
                f"{settings.full_length_ps} must equal md.time_ps ({self.md.time_ps}) "
                "or be left out",
            )
        if self.active_learning is not None:
            self._check_active_learning(self.active_learning, allowed)
        self._check_models(known)
        ref = self.reference
        if ref.arch is not None:
            if ref.arch not in self.training.architectures:
                raise _FieldError(
                    ("reference", "arch"),
                    f"{ref.arch!r} is not trained here; allowed: "
                    + ", ".join(self.training.architectures),
                )
            trained = self.recipes_of(ref.arch)
            if ref.recipe not in trained:
                raise _FieldError(
                    ("reference", "recipe"),
                    f"{ref.recipe!r} is not trained here for {ref.arch}; allowed: "
                    + ", ".join(trained),
                )
            if len(self.training.seed_list) < 2:
                raise _FieldError(
                    ("training", "committee"), "a committee reference needs at least 2 seeds"
                )
        return self

    def _check_active_learning(self, al: ActiveLearning, recipes: list[str]) -> None:
        trained = list(self.training.architectures)
        for k, arch in enumerate(al.architectures or []):
            if arch not in trained:
                raise _FieldError(
                    ("active_learning", "architectures", k),
                    f"{arch!r} has no [training.architectures] entry; allowed: "
                    + ", ".join(trained),
                )
        for k, name in enumerate(al.start_recipes):
            if name not in recipes:
                raise _FieldError(
                    ("active_learning", "start_recipes", k),
                    f"unknown recipe {name!r}; allowed: {', '.join(recipes)}",
                )

    def member_names(self) -> list[str]:
        """``arch/recipe/seedK`` of every model this campaign trains."""
        t = self.training
        return [
            f"{a}/{r}/seed{s}"
            for a in t.architectures
            for r in self.recipes_of(a)
            for s in t.seed_list
        ]

    def _check_models(self, known: list[str]) -> None:
        names = self.member_names()
        for k, model in enumerate(self.models):
            if model.arch not in known:
                raise _FieldError(
                    ("models", k, "arch"), f"unknown architecture; allowed: {', '.join(known)}"
                )
            if model.name in names:
                raise _FieldError(("models", k, "name"), f"{model.name!r} is already a model")
            names.append(model.name)
        if self.diagnostics is None:
            return
        for diagnostic, chosen in self.diagnostics.selections().items():
            for k, name in enumerate(chosen or []):
                if name not in names:
                    raise _FieldError(
                        ("diagnostics", diagnostic, "models", k),
                        f"unknown model {name!r}; allowed: {', '.join(names)}",
                    )

    def diagnostic_models(self, diagnostic: str) -> list[str]:
        """Names of the models ``diagnostic`` runs for (all models unless it names some)."""
        assert self.diagnostics is not None
        chosen = self.diagnostics.selections()[diagnostic]
        return list(chosen) if chosen else self.member_names() + [m.name for m in self.models]

    def recipes_of(self, arch: str) -> list[str]:
        """The recipes ``arch`` is trained on, in training.recipes order."""
        only = self.training.architectures[arch].recipes
        return [name for name in self.training.recipes if only is None or name in only]

    @property
    def al_architectures(self) -> list[str]:
        """Architectures of the AL loops (all trained ones unless the table names some)."""
        al = self.active_learning
        if al is None:
            return []
        return list(al.architectures or self.training.architectures)

    @property
    def analysis_settings(self) -> AnalysisSettings:
        return AnalysisSettings.model_validate({"full_length_ps": self.md.time_ps, **self.analysis})

    def out_dir(self, override: Path | None = None) -> Path:
        """Results directory: ``override``, else ``campaign.out``, else ``runs/<name>``."""
        chosen = override or self.campaign.out or Path("runs") / self.campaign.name
        return Path(chosen).resolve()

    def user_recipes(self) -> dict[str, Recipe]:
        return {name: Recipe(name=name, **body) for name, body in self.recipes.items()}


class _FieldError(ValueError):
    """A validation problem at an explicit location (reported as ``a.b.c: message``)."""

    def __init__(self, loc: tuple, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message



def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str] | None:
    """Field names of the model that sits at ``loc`` under ``model`` (None if not a model)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _model_of(field.annotation)
        if current is None:
            return None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [k for k, f in current.model_fields.items() if not f.exclude]
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _describe(err: dict) -> str:
    """One ``field: message`` from a pydantic error, with allowed keys for unknown ones."""
    loc = tuple(err["loc"])
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, _FieldError):
        return f"{'.'.join(str(p) for p in ctx_error.loc)}: {ctx_error.message}"
    where = ".".join(str(p) for p in loc) or "campaign"
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(Campaign, loc[:-1])
        if allowed:
            return f"{where}: unknown field; allowed: {', '.join(allowed)}"
    if err["type"] == "missing":
        return f"{where}: required field missing"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"


def parse_campaign(data: dict[str, Any], source: Path | None = None) -> Campaign:
    """Validate a campaign table; paths resolve against ``source``'s directory."""
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        where = f"{source}: " if source else ""
        raise InputError(where + _describe(exc.errors()[0])) from None
    base = source.parent if source else Path.cwd()
    ds = campaign.dataset
    if ds.build is not None and not ds.build.is_absolute():
        ds.build = (base / ds.build).resolve()
    if ds.path is not None and not ds.path.is_absolute():
        ds.path = (base / ds.path).resolve()
    if ds.config is not None:  # relative paths inside an inline build, as load_config does
        for item in ds.config.imports:
            if not item.path.is_absolute():
                item.path = (base / item.path).resolve()
        for scan in ds.config.vs:
            if scan.source not in ("opls", "packed") and not Path(scan.source).is_absolute():
                scan.source = str((base / scan.source).resolve())
    for model in campaign.models:
        if not model.path.is_absolute():
            model.path = (base / model.path).resolve()
    campaign.source = source
    return campaign


def load_campaign(path: Path) -> Campaign:
    """Read and validate a campaign TOML; every problem is one :class:`InputError` line."""
    path = Path(path).resolve()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such campaign file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML ({exc})") from None
    return parse_campaign(data, path)

