"""The package's layer order (README "Architecture"): a layer imports only from layers below.

    base (errors, atomic, jsonfiles, runtime, children, provenance, progress) -> chem
    -> engine (lammps, md) -> data -> backends (+ training) -> analysis -> workflow -> cli
    (-> testing: test support only)

Every ``import``/``from`` statement in xfer, module level or inside a function, is checked,
so a lazy import cannot hide an inversion. ``if TYPE_CHECKING:`` imports count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import xfer

PACKAGE = Path(xfer.__file__).resolve().parent
LAYERS = ("base", "chem", "engine", "data", "backends", "analysis", "workflow", "cli", "testing")
HOME = {  # first component below xfer -> layer
    "errors": "base", "atomic": "base", "runtime": "base", "provenance": "base",
    "progress": "base", "jsonfiles": "base", "children": "base",
    "chem": "chem", "lammps": "engine", "md": "engine", "data": "data",
    "backends": "backends", "training": "backends", "analysis": "analysis",
    "workflow": "workflow", "cli": "cli", "testing": "testing",
}  # fmt: skip


def _layer(module: str) -> str:
    """Layer of a dotted module name inside xfer (``xfer`` itself is base)."""
    parts = module.split(".")
    return "base" if len(parts) == 1 else HOME[parts[1]]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) of every xfer import in ``source``, relative imports resolved."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
    return [(line, m) for line, m in found if m == "xfer" or m.startswith("xfer.")]


def _violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports of ``module``'s source that reach a higher layer."""
    own = LAYERS.index(_layer(module))
    return [
        f"{module}:{line} imports {target}"
        for line, target in _imports(source, module, is_package)
        if LAYERS.index(_layer(target)) > own
    ]


def test_every_module_has_a_layer():
    unknown = {
        p.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for p in PACKAGE.rglob("*.py")
        if len(p.relative_to(PACKAGE).parts) > 1 or p.name != "__init__.py"
    } - set(HOME) - {"__init__", "plugins"}
    assert not unknown, f"modules with no layer in HOME: {sorted(unknown)}"


def test_imports_follow_the_layer_order():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "profiles" in path.relative_to(PACKAGE).parts:
            continue  # Parsl profiles are data files executed by xfer.workflow.execution
        violations += _violations(path.read_text(), _module_name(path), path.name == "__init__.py")
    assert not violations, "imports against the layer order:\n" + "\n".join(violations)


def test_the_check_sees_lazy_and_relative_inversions():
    """The checker itself: engine code reaching up into backends is reported, however written."""
    lazy = "def f():\n    from xfer.backends.base import get_backend\n"
    relative = "from ..backends import common\n"
    assert _violations(lazy, "xfer.lammps.probe") == [
        "xfer.lammps.probe:2 imports xfer.backends.base"
    ]
    assert _violations(relative, "xfer.lammps.probe") == [
        "xfer.lammps.probe:1 imports xfer.backends"
    ]
    assert _violations(lazy, "xfer.workflow.probe") == []
