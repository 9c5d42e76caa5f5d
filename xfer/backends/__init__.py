"""MLIP backends (one module per architecture) behind :class:`xfer.backends.base.Backend`.

Backends register themselves by name; use :func:`get_backend` to obtain one and
:func:`load_user_model` to load any model file (xfer-trained or a user's own, by content).
"""

from xfer.backends.base import Backend, TrainedModel, get_backend, register_backend
from xfer.backends.usermodel import load_user_model

__all__ = ["Backend", "TrainedModel", "get_backend", "load_user_model", "register_backend"]
