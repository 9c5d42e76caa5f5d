"""Unit conversions used across xfer, each defined once.

xfer works in ASE/LAMMPS ``metal`` units (eV, A, ps, amu, bar); these factors convert the
quantities that arrive in other units (force-field tables, density, diffusion, pressure).
"""

from __future__ import annotations

KCAL_MOL_TO_EV = 0.0433641043  # 1 kcal/mol in eV (OPLS-AA tables, MMFF gradients)
AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660  # 1 amu/A^3 in g/cm^3
ATM_TO_BAR = 1.01325  # 1 atm in bar (LAMMPS metal pressure unit)
A2_PS_TO_CM2_S = 1e-4  # 1 A^2/ps = 1e-16 cm^2 / 1e-12 s
AVOGADRO = 6.02214076e23  # 1/mol
CM_PER_SQRT_EV_A2_AMU = 521.4709  # wavenumber (cm^-1) of omega = 1 sqrt(eV / (A^2 amu))
