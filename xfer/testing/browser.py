"""Open an HTML page in headless Chromium and report what a reader would see go wrong.

Chromium (Debian's ``chromium-headless-shell`` or ``chromium``) loads a copy of the page
with a probe script first in ``<head>``: it records error events (scripts, and images or
other resources that fail to load) and, on ``load``, every image's state into an attribute
of ``<body>``, which ``--dump-dom`` returns. Console messages come from
``--enable-logging=stderr``. No driver or download is needed, only the browser binary.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
ATTRIBUTE = "data-xfer-page-check"
PROBE = f"""<script>
(() => {{
  const errors = [];
  window.addEventListener("error", (e) => {{
    const t = e.target;
    errors.push(t && t !== window ? `failed to load <${{t.tagName.toLowerCase()}}> ${{
      (t.currentSrc || t.src || t.href || "").slice(0, 300)}}` : String(e.message));
  }}, true);
  window.addEventListener("load", () => {{
    const images = [...document.images].map((i) => ({{
      alt: i.alt, src: i.src.slice(0, 300), ok: i.complete && i.naturalWidth > 0,
      width: i.naturalWidth }}));
    document.body.setAttribute("{ATTRIBUTE}", JSON.stringify({{
      title: document.title, images, errors }}));
  }});
}})();
</script>"""
CONSOLE = re.compile(r":CONSOLE(?:\(\d+\))?[:\]]\S*\]?\s*(.*)")


@dataclass(frozen=True)
class PageCheck:
    """What the browser saw: title, images (alt, ok), error events, console messages."""

    loaded: bool
    title: str
    images: list[dict]
    errors: list[str]
    console: list[str]

    @property
    def broken_images(self) -> list[str]:
        return [i["alt"] or i["src"] for i in self.images if not i["ok"]]


def find_browser() -> str | None:
    """Path of the first Chromium on PATH, or None."""
    return next((p for name in BROWSERS if (p := shutil.which(name))), None)


def check_page(page: Path, browser: str, timeout: float = 60.0) -> PageCheck:
    """Load ``page`` (next to its relative resources) and collect what went wrong."""
    text = page.read_text()
    probed = re.sub(r"(<head[^>]*>)", lambda m: m.group(1) + PROBE, text, count=1, flags=re.I)
    if probed == text:
        probed = PROBE + text
    with tempfile.TemporaryDirectory(prefix="xfer-browser-") as profile:
        copy = page.with_name(f".{page.stem}.probe.html")
        copy.write_text(probed)
        try:
            proc = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                 "--virtual-time-budget=10000", "--dump-dom", copy.resolve().as_uri()],
                capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
        finally:
            copy.unlink(missing_ok=True)
    match = re.search(rf'{ATTRIBUTE}="([^"]*)"', proc.stdout)
    console = [m.group(1) for line in proc.stderr.splitlines() if (m := CONSOLE.search(line))]
    if match is None:
        return PageCheck(False, "", [], [f"page did not load: {proc.stderr[-500:]}"], console)
    state = json.loads(html.unescape(match.group(1)))
    return PageCheck(True, state["title"], state["images"], state["errors"], console)
