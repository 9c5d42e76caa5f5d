"""Reading xfer's own JSON files (results, metadata, manifests, done markers) with checks.

A truncated or hand-edited file must not end in a traceback: :func:`read_json` names the
file, says what is wrong with it and how to get a good one back (``fix``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xfer.errors import InputError


class CorruptFile(InputError):
    """One of xfer's own files is unreadable as what it should be."""


_JSON = {dict: "object", list: "array", int: "number", float: "number", str: "string"}


def read_json(path: str | Path, fix: str, expect: type = dict) -> Any:
    """Parse ``path``; a :class:`CorruptFile` error names the file, the problem and ``fix``.

    ``expect`` is the type the top-level value must have (a JSON object by default).
    A missing file raises ``FileNotFoundError`` as usual (callers decide what absent means).
    """
    path = Path(path)
    text = path.read_text()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{exc.msg}: line {exc.lineno} column {exc.colno}"
        what = f"not valid JSON ({where})" if text.strip() else "empty"
        raise CorruptFile(f"{path} is {what}: {fix}") from None
    if not isinstance(value, expect):
        raise CorruptFile(
            f"{path} holds a JSON {_JSON.get(type(value), type(value).__name__)}, not the "
            f"expected {_JSON.get(expect, expect.__name__)}: {fix}"
        )
    return value


def require_keys(value: dict[str, Any], path: str | Path, keys: dict[str, type], fix: str) -> None:
    """Raise :class:`CorruptFile` unless ``value`` has every key in ``keys`` with its type."""
    for key, kind in keys.items():
        if not isinstance(value.get(key), kind):
            found = "missing" if key not in value else f"a {type(value[key]).__name__}"
            raise CorruptFile(f"{path}: {key!r} is {found}, not a JSON {_JSON[kind]}: {fix}")
