"""DFT-D3 on the ASE side: a model's calculator plus simple-dftd3, matching the engine's D3.

:func:`xfer.lammps.dispersion.with_d3` adds ``pair_style dispersion/d3`` in LAMMPS; this
adds the same correction (two-body D3, same damping, functional and cutoffs) to the
model's ASE calculator with simple-dftd3's ``dftd3`` package (the ``d3`` extra), so that
parity checks, committees and relabelling see the potential LAMMPS runs.
"""

from __future__ import annotations

from ase.calculators.calculator import Calculator
from ase.calculators.mixing import SumCalculator

from xfer.errors import EnvironmentProblem
from xfer.lammps.dispersion import D3

DAMPING_NAMES = {"bj": "d3bj", "original": "d3zero", "bjm": "d3bjm", "zerom": "d3zerom"}


def d3_calculator(d3: D3) -> Calculator:
    """simple-dftd3's ASE calculator for ``d3`` (no three-body term, like LAMMPS')."""
    try:
        from dftd3.ase import DFTD3
    except ImportError:
        raise EnvironmentProblem("D3 needs the dftd3 package: pip install 'xfer[d3]'") from None
    return DFTD3(
        method=d3.functional,
        damping=DAMPING_NAMES[d3.damping],
        realspace_cutoff={"disp2": d3.cutoff, "disp3": d3.cn_cutoff, "cn": d3.cn_cutoff},
    )


def with_d3(calc: Calculator, d3: D3 | None) -> Calculator:
    """``calc`` plus D3 (``calc`` itself when ``d3`` is None)."""
    return calc if d3 is None else SumCalculator([calc, d3_calculator(d3)])
