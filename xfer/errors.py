"""User-facing errors: the CLI prints these as one line and exits non-zero, no traceback."""


class XferError(Exception):
    """Base class for errors caused by user input or environment, not by a bug."""


class InputError(XferError):
    """A file, option or configuration the user gave is malformed or inconsistent."""


class EnvironmentProblem(XferError):
    """A required library, plugin or executable is missing or broken."""


class TemplateError(XferError):
    """A LAMMPS input template could not be rendered (e.g. an undefined variable)."""


def validation_message(exc: Exception, default: str = "", every: bool = False) -> str:
    """One line for a pydantic ``ValidationError``: ``field.path: message``.

    The first error only (all of them, ``; ``-joined, with ``every``); an error without a
    location is placed at ``default``. Any other exception gives its own message.
    """
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors()[: None if every else 1]:
        where = ".".join(str(p) for p in err["loc"]) or default
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)
