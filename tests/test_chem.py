"""Molecules, OPLS-AA typing/parameters and box packing (no LAMMPS)."""

from collections import Counter

import numpy as np
import pytest

from xfer.chem.molecules import SMILES, composition_label, get_molecule, parse_mix
from xfer.chem.opls import load_parameters, molecule_terms
from xfer.chem.packing import min_intermolecular_distance, pack
from xfer.errors import InputError

FORMULAS = {"EC": "C3H4O3", "EMC": "C4H8O3", "DEC": "C5H10O3", "PC": "C4H6O3", "VC": "C3H2O3",
            "DMC": "C3H6O3"}


@pytest.mark.parametrize("name", sorted(SMILES))
def test_molecule_formula_and_bonds(name):
    mol = get_molecule(name)
    counts = Counter(mol.symbols)
    assert "".join(f"{e}{counts[e]}" for e in "CHO") == FORMULAS[name]
    for i, j in mol.bonds:  # optimised covalent bonds are 0.9-1.6 A
        assert 0.9 < np.linalg.norm(mol.positions[i] - mol.positions[j]) < 1.6


@pytest.mark.parametrize("name", sorted(SMILES))
def test_opls_terms_cover_the_molecular_graph(name):
    mol = get_molecule(name)
    terms = molecule_terms(name)
    degree = Counter(i for bond in mol.bonds for i in bond)
    assert len(terms.bonds) == len(mol.bonds)
    assert len(terms.angles) == sum(d * (d - 1) // 2 for d in degree.values())
    assert abs(sum(terms.charges)) < 1e-9
    assert len(terms.dihedrals) > 0


def test_opls_parameters_are_the_published_values():
    params = load_parameters()
    assert params.charge[772] == pytest.approx(0.86)  # carbonate C
    assert params.lj[771] == pytest.approx((0.21, 2.96))  # carbonyl O
    assert params.bond[("CT", "HC")] == pytest.approx((340.0, 1.09))


def test_parse_mix_and_label():
    assert parse_mix("EC:16, EMC:32") == {"EC": 16, "EMC": 32}
    assert composition_label({"EC": 4, "EMC": 8}) == "EC4EMC8"
    for bad in ("EC16", "XX:3", "EC:0", ""):
        with pytest.raises(InputError):
            parse_mix(bad)


def test_pack_reaches_density_with_separated_molecules():
    system = pack({"EC": 4, "EMC": 8}, 1.0, seed=3)
    assert system.n_atoms == 160
    assert system.density == pytest.approx(1.0, rel=1e-9)
    assert min_intermolecular_distance(system) > 1.5
    assert system.mix() == {"EC": 4, "EMC": 8}


def test_impossible_packing_is_a_clear_error():
    with pytest.raises(InputError, match="density"):
        pack({"EC": 16, "EMC": 32}, 2.4)


def test_opls_lookup_prefers_fewest_wildcards_then_forward_key_then_table_order():
    from xfer.chem.opls import WILDCARD as W
    from xfer.chem.opls import _lookup

    key = ("A", "B", "C", "D")
    # reversed and forward exact matches: the forward key wins whatever the table order
    assert _lookup({("D", "C", "B", "A"): (2.0,), key: (1.0,)}, key) == (key, (1.0,))
    # fewer wildcards beat table order
    table = {(W, "B", "C", W): (3.0,), (W, "B", "C", "D"): (4.0,)}
    assert _lookup(table, key) == ((W, "B", "C", "D"), (4.0,))
    # a tie in wildcards and direction: the table's first entry
    table = {("A", W, "C", "D"): (5.0,), ("A", "B", W, "D"): (6.0,)}
    assert _lookup(table, key) == (("A", W, "C", "D"), (5.0,))
    # only the reversed key matches; nothing matches
    assert _lookup({("D", "C", W, "A"): (7.0,)}, key) == (("D", "C", W, "A"), (7.0,))
    assert _lookup({("A", "B", "C", "E"): (8.0,)}, key) is None
