"""``python -m xfer.cli``: same as the ``xfer`` command."""

from xfer.cli import run

run()
