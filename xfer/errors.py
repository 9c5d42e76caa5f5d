"""User-facing errors: the CLI prints these as one line and exits non-zero, no traceback."""


class XferError(Exception):
    """Base class for errors caused by user input or environment, not by a bug."""


class InputError(XferError):
    """A file, option or configuration the user gave is malformed or inconsistent."""


class EnvironmentProblem(XferError):
    """A required library, plugin or executable is missing or broken."""


class TemplateError(XferError):
    """A LAMMPS input template could not be rendered (e.g. an undefined variable)."""
