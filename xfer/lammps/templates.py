"""Render LAMMPS inputs from the Jinja templates shipped in ``xfer/lammps/lmp_templates/``.

The templates are package data (found with :mod:`importlib.resources`, so an installed
xfer has them); ``$XFER_TEMPLATES`` points at a user's own set instead. Undefined
variables are errors (StrictUndefined), reported as one readable line.
"""

from __future__ import annotations

import os
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2

from xfer.errors import TemplateError

TEMPLATE_DIR = Path(str(files("xfer.lammps").joinpath("lmp_templates")))


def template_dir() -> str:
    """Where templates are read from: $XFER_TEMPLATES (a user's own set) or the bundled set."""
    return os.environ.get("XFER_TEMPLATES") or str(TEMPLATE_DIR)


@cache
def environment(root: str) -> jinja2.Environment:
    """Jinja environment over the template directory ``root``."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(name: str, **variables: Any) -> str:
    """Render template ``name`` with ``variables``."""
    try:
        return environment(template_dir()).get_template(name).render(**variables)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"LAMMPS template {name}: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"LAMMPS template not found: {exc.name}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"LAMMPS template {exc.name}:{exc.lineno}: {exc.message}") from None
