"""MLIP backends (one module per architecture) behind :class:`xfer.backends.base.Backend`.

Backends register themselves by name; use :func:`get_backend` to obtain one.
"""

from xfer.backends.base import Backend, TrainedModel, get_backend, register_backend

__all__ = ["Backend", "TrainedModel", "get_backend", "register_backend"]
