"""The ``[active_learning]`` table of a campaign: every number of SPEC section 6, as defaults.

::

    [active_learning]            architectures (default: every [training] one), start_recipes,
                                 generations = 12, committee = 5 (seed 0 drives), init,
                                 max_force_variance = 0.5 (eV^2/A^2), select, labelling_workers
    [active_learning.explore]    compositions (2:10 ... 10:2 EC:EMC), starts_per_composition = 5,
                                 time_ps = 500, temperature (default md.temperature), pressure,
                                 timestep_fs, deviation_every, dump_every, check_every,
                                 bond_stretch_rel = 1.0 (+100%), density_range = [0.2, 1.2]
    [active_learning.starts]     the OPLS-AA NPT run that makes each composition's start boxes
    [active_learning.stop]       q_min, all_stable: end a loop once its committee meets them

A loop runs all ``generations`` unless ``[active_learning.stop]`` is given: then, after each
generation's validation, a gate task scores its committee (Q against the campaign's
reference, as in the report) and, once every target given is met, the loop's later tasks
(exploration of that generation onwards) finish at once as "not needed".

``init``: ``fresh`` (the paper's choice) trains every generation from new random weights;
``previous`` starts each seed's training from the same seed's model of the generation
before: DeePMD ``dp train --init-frz-model``, MACE ``mace_run_train --foundation_model``
(fine-tuning, one head); GAP has no weights to start from (a sparse GP is solved anew), so
it refits exactly as ``fresh`` (same tasks).

Threshold units: ``max_force_variance`` takes the paper's quantity, the maximum over atoms
of the committee force *variance*, in eV^2/A^2 (default 0.5). LAMMPS reports and halts on the
*deviation* (``model_devi.csv``'s ``max_devi_f``, ``xfer md --max-force-deviation``, eV/A),
so the exploration runs get ``max_force_deviation = sqrt(max_force_variance)``
(0.7071 eV/A by default) and frames are compared as ``max_devi_f ** 2 > max_force_variance``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xfer.chem.molecules import known_molecules
from xfer.data.al_starts import AL_COMPOSITIONS, StartSettings


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


_START = StartSettings()


class Explore(_Model):
    """The NPT exploration runs of the primary model with the in-engine committee deviation."""

    compositions: list[dict[str, int]] = Field(
        default_factory=lambda: [dict(c) for c in AL_COMPOSITIONS], min_length=1,
        description="molecule counts per box (SPEC: 12 molecules, 2:10 ... 10:2 EC:EMC)",
    )  # fmt: skip
    starts_per_composition: int = Field(5, ge=1, description="seeded OPLS-AA start frames")
    time_ps: float = Field(500.0, gt=0, description="longest trajectory")
    temperature: float | None = Field(None, gt=0, description="K; default md.temperature")
    pressure: float = Field(1.0, description="atm")
    timestep_fs: float = Field(0.5, gt=0)
    deviation_every: int = Field(10, ge=1, description="steps between committee evaluations")
    dump_every: int = Field(10, ge=1, description="a multiple of deviation_every")
    check_every: int = Field(10, ge=1, description="steps between bond/density checks")
    bond_stretch_rel: float = Field(1.0, gt=0, description="halt: bond > (1 + this) * r0")
    density_range: tuple[float, float] = Field((0.2, 1.2), description="halt outside (g/cm3)")

    @model_validator(mode="after")
    def _consistent(self) -> Explore:
        known = set(known_molecules())
        for k, mix in enumerate(self.compositions):
            unknown = sorted(set(mix) - known)
            if unknown:
                raise ValueError(
                    f"compositions[{k}]: unknown molecule(s) {', '.join(unknown)}; "
                    f"allowed: {', '.join(sorted(known))}"
                )
            if any(n < 0 for n in mix.values()) or sum(mix.values()) < 1:
                raise ValueError(f"compositions[{k}]: counts must be >= 0 with at least one")
        labels = [tuple(sorted((n, c) for n, c in m.items() if c)) for m in self.compositions]
        if len(set(labels)) != len(labels):
            raise ValueError("compositions must be distinct")
        if self.dump_every % self.deviation_every:
            raise ValueError(
                f"dump_every ({self.dump_every}) must be a multiple of deviation_every "
                f"({self.deviation_every}) so every dumped frame has its own deviation"
            )
        low, high = self.density_range
        if not 0 < low < high:
            raise ValueError("density_range must be [min, max] with 0 < min < max")
        return self


class Starts(_Model):
    """The classical NPT run per composition whose frames start the explorations."""

    temperature: float = Field(_START.temperature, gt=0, description="K")
    pressure: float = Field(_START.pressure, description="atm")
    density: float = Field(_START.density, gt=0, description="g/cm3 of the packed box")
    equilibration_ps: float = Field(_START.equilibration_ps, ge=0)
    sample_ps: float = Field(_START.sample_ps, gt=0, description="frames are drawn from here")
    timestep_fs: float = Field(_START.timestep_fs, gt=0)
    dump_every: int = Field(_START.dump_every, ge=1)
    seed: int = Field(_START.seed, ge=1, description="packing, velocities and the draw")

    def settings(self) -> StartSettings:
        return StartSettings(**self.model_dump())


class Stop(_Model):
    """End a loop early: after a generation's validation, when its committee meets all of these."""

    q_min: float | None = Field(None, ge=0, le=3, description="committee mean Q at least this")
    all_stable: bool = Field(
        False, description="every member's NPT and NVT runs stable for the full length"
    )

    @model_validator(mode="after")
    def _some_target(self) -> Stop:
        if self.q_min is None and not self.all_stable:
            raise ValueError("give a target: q_min and/or all_stable = true")
        return self

    def met(self, q_mean: float, all_stable: bool) -> bool:
        """Whether a committee with mean Q ``q_mean`` (NaN: unknown) meets every target."""
        if self.all_stable and not all_stable:
            return False
        return self.q_min is None or (q_mean == q_mean and q_mean >= self.q_min)


class ActiveLearning(_Model):
    """Active learning per (architecture, starting recipe): SPEC section 6."""

    architectures: list[str] | None = Field(None, description="default: all of [training]")
    start_recipes: list[str] = Field(min_length=1, description="generation-0 training sets")
    generations: int = Field(12, ge=1, description="generations of added frames")
    committee: int = Field(5, ge=2, description="seeds 0..N-1; seed 0 is the primary")
    init: Literal["fresh", "previous"] = Field(
        "fresh",
        description="fresh weights every generation (the paper's choice), or start from the "
        "previous generation's model of the same seed (MACE, DeePMD; GAP refits)",
    )
    max_force_variance: float = Field(
        0.5, gt=0, description="eV^2/A^2; the engine halts on deviation sqrt(this) eV/A"
    )
    select: Literal["first_above", "max_variance"] = Field(
        "first_above", description="first frame above the threshold, else the largest variance"
    )
    labelling_workers: int = Field(1, ge=1, description="reference calculations in parallel")
    explore: Explore = Field(default_factory=Explore)
    starts: Starts = Field(default_factory=Starts)
    stop: Stop | None = Field(None, description="targets that end a loop before `generations`")

    @model_validator(mode="after")
    def _distinct(self) -> ActiveLearning:
        if len(set(self.start_recipes)) != len(self.start_recipes):
            raise ValueError("start_recipes must be distinct")
        if self.architectures is not None and len(set(self.architectures)) != len(
            self.architectures
        ):
            raise ValueError("architectures must be distinct")
        return self

    @property
    def max_force_deviation(self) -> float:
        """The engine's halt threshold (eV/A): the square root of the variance threshold."""
        return math.sqrt(self.max_force_variance)

    @property
    def trajectories_per_generation(self) -> int:
        return len(self.explore.compositions) * self.explore.starts_per_composition
