"""Models the user brings: any model file of a registered architecture, recognised by content.

A model trained by xfer carries ``<model>.json`` metadata (architecture, recipe, seed);
one trained elsewhere (a foundation model, a colleague's DeePMD file) has none. Both load
through :func:`load_user_model`: xfer's metadata names the architecture where it exists,
otherwise each registered backend's :meth:`~xfer.backends.base.Backend.recognises` looks
at the file's content (never its name) and the first that claims it loads it, reading
species, cutoff and a SHA-256 of the file from the model itself.
"""

from __future__ import annotations

from pathlib import Path

from xfer.backends.base import TrainedModel, available_backends, get_backend
from xfer.errors import InputError


def recognise(path: Path) -> str | None:
    """The registered architecture whose model format ``path`` holds (None if none)."""
    for name in available_backends():
        if get_backend(name).recognises(Path(path)):
            return name
    return None


def model_formats() -> str:
    """The formats every registered backend reads, for error messages."""
    formats = [get_backend(n).model_formats or f"a {n} model" for n in available_backends()]
    return "; ".join(formats)


def load_user_model(path: Path) -> TrainedModel:
    """A model file (or a seed directory xfer trained) of any registered architecture.

    Metadata: xfer's ``<model>.json`` where it exists, plus what the model says about
    itself (``species``, ``cutoff``, ``source_sha256``). A file of no known format is one
    InputError naming the formats.
    """
    from xfer.backends.committee import find_model

    path = Path(path)
    if path.is_dir():
        model = find_model(path)
        if model is None:
            raise InputError(f"{path} holds no model with xfer metadata (<model>.json)")
        return get_backend(model.arch).load(model.path)
    if not path.is_file():
        raise InputError(f"model {path} does not exist")
    own = find_model(path.parent)
    if own is not None and own.path == path.resolve():
        return get_backend(own.arch).load(own.path)
    arch = recognise(path)
    if arch is None:
        raise InputError(f"{path} is not a model file xfer reads; expected {model_formats()}")
    return get_backend(arch).load(path)
