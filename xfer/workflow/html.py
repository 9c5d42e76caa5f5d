"""A self-contained HTML page: every local image embedded as a ``data:`` URI.

The report's HTML then opens anywhere (mail, another machine) with its figures; links to
other files (halt.json, extxyz frames) stay relative to the report directory.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import re
from pathlib import Path

from xfer.errors import InputError

IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')


def embed_images(body: str, base: Path) -> str:
    """``body`` with each ``<img src="relative/path">`` under ``base`` inlined."""

    def inline(match: re.Match) -> str:
        src = html.unescape(match.group(2))
        if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I):  # data:, http:, file: stay as they are
            return match.group(0)
        path = base / src
        if not path.is_file():
            raise InputError(f"report image {src} is missing from {base}")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"{match.group(1)}data:{mime};base64,{data}{match.group(3)}"

    return IMG_SRC.sub(inline, body)
