"""Checks of GAP model files done before QUIP sees them.

QUIP reports a bad model file with a Fortran ``STOP``: the whole process exits with code 1
and no Python exception (in LAMMPS as in quippy). Every failure we know of is therefore
detected here first and raised as :class:`~xfer.errors.InputError`:

* the xml is missing, unreadable or not well-formed (truncated, corrupt);
* it is not a GAP potential (no ``<Potential>``/``<GAP_params>``);
* a ``gap.xml.sparseX.*`` file it refers to is missing or fails its recorded md5 sum.

The species found here let the backend refuse configurations with an element the model
has no descriptor for (QUIP would silently give that atom zero energy and force).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ase.data import chemical_symbols

from xfer.backends.common import per_file_version
from xfer.errors import InputError
from xfer.provenance import file_digest

_SINGLE_Z = re.compile(r"(?:^|\s)(?:Z|Z1|Z2)=(\d+)")
_LIST_Z = re.compile(r"species_Z=\{([^}]*)\}")
_CUTOFF = re.compile(r"(?:^|\s)(?:cutoff|rcut_hard)=([0-9.eEdD+-]+)")
_SPARSE_KEYS = re.compile(r"(?:^|\s)(?:n_sparse|sparse_method)=\S+")  # fitting, not evaluation


@dataclass(frozen=True)
class GapModelInfo:
    """What xfer needs to know about a checked GAP model."""

    xml: Path
    species: tuple[str, ...]  # element symbols, by atomic number
    cutoff: float  # largest descriptor cutoff (A)
    sparse_files: tuple[Path, ...]
    init_args: str  # the <Potential init_args=...> string
    descriptors: tuple[str, ...] = ()  # descriptor definitions, sparsification keys removed

    @property
    def files(self) -> tuple[Path, ...]:
        """The xml and every file that must travel with it."""
        return (self.xml, *self.sparse_files)


@per_file_version("GAP sparseX file")
def _md5(path: str) -> str:
    """md5 hex digest of ``path`` (cached per file version: sparseX files can be large)."""
    return file_digest(Path(path), "md5")


def _descriptor_species(texts: Iterable[str]) -> set[int]:
    numbers: set[int] = set()
    for text in texts:
        numbers.update(int(z) for z in _SINGLE_Z.findall(text))
        for group in _LIST_Z.findall(text):
            numbers.update(int(z) for z in group.split())
    numbers.discard(0)
    return numbers


def _cutoff(texts: Iterable[str]) -> float:
    values = [
        float(v.replace("d", "e").replace("D", "e")) for t in texts for v in _CUTOFF.findall(t)
    ]
    return max(values, default=0.0)


@dataclass(frozen=True)
class _ParsedXml:
    species: tuple[str, ...]
    cutoff: float
    init_args: str
    sparse: tuple[tuple[str, str], ...]  # (file name, recorded md5 or "")
    descriptors: tuple[str, ...]


@per_file_version("GAP model file")
def _parse(path: str) -> _ParsedXml:
    """Parse a GAP xml (cached per file version)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(
            f"GAP model {path} is not well-formed xml (corrupt or truncated: {exc})"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read GAP model {path}: {exc.strerror}") from None
    potential = root.find("Potential")
    if potential is None or root.find("GAP_params") is None:
        raise InputError(f"{path} is not a GAP potential file (no <Potential> and <GAP_params>)")
    sparse = tuple(
        (c.get("sparseX_filename", ""), c.get("sparseX_md5sum", ""))
        for c in root.iter("gpCoordinates")
        if c.get("sparseX_filename")
    )
    descriptors = [d.text or "" for d in root.iter("descriptor")]
    numbers = _descriptor_species(descriptors)
    if not numbers:
        raise InputError(f"GAP model {path} names no species in its descriptors")
    return _ParsedXml(
        species=tuple(chemical_symbols[z] for z in sorted(numbers)),
        cutoff=_cutoff(descriptors),
        init_args=potential.get("init_args", "IP GAP"),
        sparse=sparse,
        descriptors=tuple(" ".join(_SPARSE_KEYS.sub(" ", d).split()) for d in descriptors),
    )


def _listing(names: list[str]) -> str:
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


def inspect_model(xml: Path) -> GapModelInfo:
    """Check a GAP model xml and its sparseX files; InputError for every known defect."""
    xml = Path(xml).resolve()
    parsed = _parse(xml)
    missing, corrupt = [], []
    for name, md5 in parsed.sparse:
        path = xml.parent / name
        if not path.is_file():
            missing.append(name)
            continue
        if md5 and _md5(path) != md5:
            corrupt.append(name)
    if missing:
        raise InputError(
            f"GAP model {xml} lacks {len(missing)} of its {len(parsed.sparse)} sparseX files "
            f"({_listing(missing)}): copy every {xml.name}.sparseX.* file next to the xml"
        )
    if corrupt:
        raise InputError(
            f"sparseX file(s) of GAP model {xml} do not match the md5 sums recorded in the "
            f"xml: {_listing(corrupt)}"
        )
    return GapModelInfo(
        xml=xml,
        species=parsed.species,
        cutoff=parsed.cutoff,
        sparse_files=tuple(xml.parent / name for name, _ in parsed.sparse),
        init_args=parsed.init_args,
        descriptors=parsed.descriptors,
    )
