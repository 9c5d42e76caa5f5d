"""OPLS-AA force field for the carbonate solvents: atom typing and parameters.

Parameters come from Jorgensen et al., J. Phys. Chem. B 128, 250 (2024)
(doi:10.1021/acs.jpcb.3c06602) as distributed in moltemplate's ``oplsaa2024.lt``
(PyPI ``moltemplate``), which we parse directly. Atom types are assigned by a SMARTS
table over the RDKit graph. Every bond, angle, dihedral and improper implied by the
molecular graph must find a parameter: a missing one is an error, never silently dropped.

Documented additions: the 2024 file lacks the carbonate OS-C-OS angle (taken by analogy
from the ester OS-C-CT angle of the same set, ``SUPPLEMENT_ANALOGY``, as are a few VC
terms), and its vinylene-carbonate types leave VC with -0.14 e: we neutralise VC by
adding +0.07 e to each ring ether oxygen (``VC_CHARGE_FIX``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from itertools import combinations, product

from rdkit import Chem

from xfer.chem.molecules import Molecule, get_molecule
from xfer.errors import InputError

WILDCARD = "€€"

# (SMARTS with the typed atom first, OPLS type). First match wins; order matters.
TYPE_RULES: tuple[tuple[str, int], ...] = (
    ("[OX1]=[CX3]([OX2])[OX2]", 771),  # carbonate C=O oxygen
    ("[CX3](=[OX1])([OX2])[OX2]", 772),  # carbonate carbon
    ("[OX2]", 773),  # carbonate ether oxygen (OS)
    ("[CX4H3][OX2]", 789),  # methoxy carbon
    ("[CX4H2][OX2]", 774),  # CH2 bonded to O
    ("[CX4H1;R][OX2]", 775),  # PC ring CH
    ("[CX4H3][CX4H1;R]", 776),  # PC methyl carbon
    ("[CX4H3]", 135),  # alkyl CH3
    ("[CX3]=[CX3][OX2]", 518),  # vinylene carbon (VC)
    ("[#1][CX3]", 144),  # alkene H
    ("[#1][CX4H3][CX4H1;R]", 779),  # H on PC methyl
    ("[#1][CX4H1;R]", 778),  # H on PC ring CH
    ("[#1][CX4][OX2]", 777),  # H on O-bonded carbon
    ("[#1][CX4]", 140),  # alkyl H
)

VC_CHARGE_FIX = 0.07  # e added to each VC ring oxygen (type 773) so VC is neutral

# Terms the 2024 file lacks, in its units (kcal/mol, degrees). Neither the 2024 file nor
# GROMACS' oplsaa.ff has the carbonate OS-C~-OS angle; following the OPLS analogy rule we
# take the most similar term of the same published set, the ester angle OS-C~-CT.
# Vinylene carbonate (VC) terms with a ring CM next to the carbonate OS likewise take the
# phenyl-ester (CA) or alkyl (CT) analogue.
SUPPLEMENT_ANALOGY: dict[str, dict[tuple[str, ...], tuple[str, ...]]] = {
    "angle": {
        ("OS", "C~", "OS"): ("OS", "C~", "CT"),
        ("C~", "OS", "CM"): ("C~", "OS", "CA"),
    },
    "dihedral": {
        ("CM", "CM", "OS", "C~"): ("CM", "CM", "OS", "CA"),
        ("HC", "CM", "OS", "C~"): ("HC", "CM", "OS", "CT"),
        ("O~", "C~", "OS", "CM"): ("O~", "C~", "OS", "CA"),
        ("OS", "C~", "OS", "CM"): ("OS", "C~", "OS", "CT"),
    },
}


@dataclass
class OplsParameters:
    """Parameters parsed from ``oplsaa2024.lt`` (kcal/mol, A, degrees, e)."""

    charge: dict[int, float] = field(default_factory=dict)
    mass: dict[int, float] = field(default_factory=dict)
    lj: dict[int, tuple[float, float]] = field(default_factory=dict)  # epsilon, sigma
    classes: dict[int, tuple[str, str, str, str]] = field(default_factory=dict)  # b, a, d, i
    bond: dict[tuple[str, ...], tuple[float, ...]] = field(default_factory=dict)
    angle: dict[tuple[str, ...], tuple[float, ...]] = field(default_factory=dict)
    dihedral: dict[tuple[str, ...], tuple[float, ...]] = field(default_factory=dict)
    improper: dict[tuple[str, ...], tuple[float, ...]] = field(default_factory=dict)


_RE_CHARGE = re.compile(r"set type @atom:(\d+)\s+charge\s+(\S+)")
_RE_MASS = re.compile(r"^\s*@atom:(\d+)\s+([\d.]+)\s*$")
_RE_CLASSES = re.compile(
    r"replace\{\s*@atom:(\d+)\s+@atom:\d+_b(\S+?)_a(\S+?)_d(\S+?)_i(\S+?)\s*\}"
)
_RE_PAIR = re.compile(r"pair_coeff @atom:(\d+)_\S+ @atom:\d+_\S+ (\S+) (\S+)")
_RE_TERM = re.compile(r"^\s*(bond|angle|dihedral|improper)_coeff @\w+:(\S+)((?:\s+-?[\d.]+)+)")


@cache
def load_parameters() -> OplsParameters:
    """Parse moltemplate's oplsaa2024.lt once per process."""
    path = files("moltemplate").joinpath("force_fields/oplsaa2024.lt")
    params = OplsParameters()
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := _RE_CHARGE.search(line):
            params.charge[int(m[1])] = float(m[2])
        elif m := _RE_MASS.match(line):
            params.mass[int(m[1])] = float(m[2])
        elif m := _RE_CLASSES.search(line):
            params.classes[int(m[1])] = (m[2], m[3], m[4], m[5])
        elif m := _RE_PAIR.search(line):
            params.lj[int(m[1])] = (float(m[2]), float(m[3]))
        elif m := _RE_TERM.match(line):
            # alternatives are named A_B_C_D__k: keep the generic first one (k = 1)
            name, _, variant = m[2].partition("__")
            if variant in ("", "1"):
                getattr(params, m[1])[tuple(name.split("_"))] = tuple(map(float, m[3].split()))
    for kind, analogies in SUPPLEMENT_ANALOGY.items():
        table = getattr(params, kind)
        for missing, source in analogies.items():
            table.setdefault(missing, table[source])
    return params


def assign_types(mol: Molecule) -> list[int]:
    """OPLS-AA type of every atom of ``mol`` (SMARTS rules, first match wins)."""
    types: list[int | None] = [None] * mol.n_atoms
    for smarts, opls_type in TYPE_RULES:
        pattern = Chem.MolFromSmarts(smarts)
        for match in mol.mol.GetSubstructMatches(pattern, uniquify=False):
            if types[match[0]] is None:
                types[match[0]] = opls_type
    missing = [i for i, t in enumerate(types) if t is None]
    if missing:
        raise InputError(f"no OPLS-AA type for atoms {missing} of {mol.name}")
    return [int(t) for t in types]  # type: ignore[arg-type]


@dataclass
class MoleculeTerms:
    """OPLS-AA description of one molecule (0-based atom indices, LAMMPS-ready values)."""

    types: list[int]
    charges: list[float]
    bonds: list[tuple[tuple[int, int], tuple[str, ...], tuple[float, ...]]]
    angles: list[tuple[tuple[int, int, int], tuple[str, ...], tuple[float, ...]]]
    dihedrals: list[tuple[tuple[int, int, int, int], tuple[str, ...], tuple[float, ...]]]
    impropers: list[tuple[tuple[int, int, int, int], tuple[str, ...], tuple[float, ...]]]


def _lookup(table: dict[tuple[str, ...], tuple[float, ...]], key: tuple[str, ...]):
    """Exact or reversed match; for dihedrals the match with fewest wildcards wins (then the
    forward key, then the table's order). Looks up each wildcard variant of the key rather
    than scanning the table (which took 0.5 s of every OPLS run's start-up)."""
    matches = []
    for rank, candidate in enumerate((key, key[::-1])):
        for pattern in set(product(*((c, WILDCARD) for c in candidate))):
            if pattern in table:
                matches.append((pattern.count(WILDCARD), rank, pattern))
    if not matches:
        return None
    score, rank, _ = min(matches)
    tied = {p for s, r, p in matches if (s, r) == (score, rank)}
    best = next(p for p in table if p in tied)
    return best, table[best]


@cache
def molecule_terms(name: str) -> MoleculeTerms:
    """Type molecule ``name`` and collect every bonded term with its parameters; fail on gaps."""
    params = load_parameters()
    mol = get_molecule(name)
    types = assign_types(mol)
    bclass = [params.classes[t][0] for t in types]
    aclass = [params.classes[t][1] for t in types]
    dclass = [params.classes[t][2] for t in types]
    iclass = [params.classes[t][3] for t in types]
    charges = [params.charge[t] for t in types]
    if mol.name == "VC":
        charges = [q + VC_CHARGE_FIX if t == 773 else q for q, t in zip(charges, types)]
    if abs(sum(charges)) > 1e-6:
        raise InputError(f"OPLS-AA charges of {mol.name} sum to {sum(charges):+.3f} e, not 0")

    neighbours: dict[int, list[int]] = {i: [] for i in range(mol.n_atoms)}
    for i, j in mol.bonds:
        neighbours[i].append(j)
        neighbours[j].append(i)
    angles = [(a, b, c) for b in neighbours for a, c in combinations(sorted(neighbours[b]), 2)]
    dihedrals = []
    for b, c in mol.bonds:
        for a in neighbours[b]:
            for d in neighbours[c]:
                if a not in (b, c) and d not in (b, c) and a != d:
                    dihedrals.append((a, b, c, d))

    missing: list[str] = []

    def term(kind, atoms, classes):
        key = tuple(classes[i] for i in atoms)
        found = _lookup(getattr(params, kind), key)
        if found is None:
            missing.append(f"{kind} {'-'.join(key)}")
            return None
        return (atoms, found[0], found[1])

    bonds = [term("bond", pair, bclass) for pair in mol.bonds]
    angle_terms = [term("angle", a, aclass) for a in angles]
    dihedral_terms = [term("dihedral", d, dclass) for d in dihedrals]
    impropers = []
    for centre, nbrs in neighbours.items():
        if len(nbrs) != 3:
            continue
        # put the neighbour the pattern names (e.g. O~ for a carbonyl centre) first
        for order in (nbrs, nbrs[1:] + nbrs[:1], nbrs[2:] + nbrs[:2]):
            key = (iclass[centre], *(iclass[n] for n in order))
            found = next(
                (
                    (p, v)
                    for p, v in params.improper.items()
                    if all(q in (k, WILDCARD) for q, k in zip(p, key))
                ),
                None,
            )
            if found:
                impropers.append(((centre, *order), found[0], found[1]))
                break
    if missing:
        raise InputError(
            f"OPLS-AA parameters missing for {mol.name}: {', '.join(sorted(set(missing)))}"
        )
    return MoleculeTerms(types, charges, bonds, angle_terms, dihedral_terms, impropers)  # type: ignore[arg-type]
