"""Where messages go: xfer's own warnings to the terminal, third-party warnings to a log.

Libraries xfer drives (mace, e3nn, torch, ...) emit ``UserWarning``s that would bury the
one line a user needs. Unless ``--verbose`` is given they are appended to the log file
(``$XFER_LOG``, default ``$XDG_STATE_HOME/xfer/xfer.log`` = ``~/.local/state/xfer/xfer.log``);
warnings xfer itself logs (logger ``xfer``) are printed as ``warning: ...`` lines.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path


def log_path() -> Path:
    """The log file third-party warnings are written to."""
    if os.environ.get("XFER_LOG"):
        return Path(os.environ["XFER_LOG"]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "xfer" / "xfer.log"


def configure(verbose: bool) -> None:
    """Route xfer's warnings to stderr and (unless ``verbose``) other warnings to the log."""
    xfer_log = logging.getLogger("xfer")
    if not any(getattr(h, "_xfer", False) for h in xfer_log.handlers):
        console = _Stderr()
        console.setFormatter(_LowerLevel())
        console._xfer = True  # type: ignore[attr-defined]
        xfer_log.addHandler(console)
        xfer_log.propagate = False
    xfer_log.setLevel(logging.INFO if verbose else logging.WARNING)
    if verbose:
        logging.captureWarnings(False)
        return
    py_warnings = logging.getLogger("py.warnings")
    py_warnings.handlers.clear()
    py_warnings.propagate = False
    py_warnings.addHandler(_file_handler())
    logging.captureWarnings(True)
    warnings.simplefilter("default")  # each distinct warning once, into the log


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is at the time (captured or not)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _LowerLevel(logging.Formatter):
    """``warning: ...`` like the ``error: ...`` lines (without renaming levels globally)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _file_handler() -> logging.Handler:
    """Append to the log file; drop the messages if it cannot be written."""
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, delay=True, encoding="utf-8")
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(path)
        if not os.access(path.parent, os.W_OK):
            raise PermissionError(path.parent)
    except OSError:
        return logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s pid %(process)d %(message)s"))
    return handler
