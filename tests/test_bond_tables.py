"""Bond alarm tables: rows written exactly as numpy.savetxt with the table formats."""

import io

import numpy as np

from xfer.lammps.bond_alarm import _table_text


def test_table_rows_match_savetxt():
    r = np.linspace(0.3, 13.5, 257)
    energy = 340.0 * (r - 1.5) ** 2 + np.where(r > 2.0, 1.0e4, 0.0)
    force = -680.0 * (r - 1.5)
    expected = io.StringIO()
    np.savetxt(expected, np.column_stack([np.arange(1, r.size + 1), r, energy, force]),
               fmt=["%d", "%.10f", "%.12e", "%.12e"])
    assert _table_text(r, energy, force) == expected.getvalue()
