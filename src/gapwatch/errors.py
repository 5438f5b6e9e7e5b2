"""Exceptions with messages meant for people.

Every error that reaches the command line is one of these; the CLI prints the message on one line and exits
with :attr:`GapwatchError.exit_code` (2 for usage errors, 1 for input that cannot be read).
"""

from __future__ import annotations


class GapwatchError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""

    exit_code: int = 1


class InputError(GapwatchError, ValueError):
    """A log or table could not be read: names the file, the place (line, key) and what was expected."""

    exit_code = 1

    def __init__(self, message: str, *, path: object | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.line = line


class UsageError(GapwatchError, ValueError):
    """A bad argument or option value (exit code 2)."""

    exit_code = 2


class MissingDependencyError(GapwatchError, ImportError):
    """An optional dependency is not installed; the message carries the pip command that installs it."""

    exit_code = 2

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this feature needs '{package}', which is not installed. Install it with: "
            f"pip install 'gapwatch[{extra}]'"
        )
        self.package = package
        self.extra = extra


def require(module: str, extra: str, package: str | None = None):  # type: ignore[no-untyped-def]
    """Import ``module`` lazily, raising :class:`MissingDependencyError` with an install hint if absent."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(package or module.split(".")[0], extra) from exc


def one_line(exc: BaseException, command: str = "gapwatch") -> tuple[str, int] | None:
    """The one line (``gapwatch: error: …``) and exit code for an error a user caused: a
    :class:`GapwatchError`, or a click usage error (bad option, missing argument; click's two-line banner
    folded into one, naming ``COMMAND --help``). ``None`` for anything else (a bug: let it raise)."""
    if isinstance(exc, GapwatchError):
        return f"gapwatch: error: {exc}", exc.exit_code
    fmt, code = getattr(exc, "format_message", None), getattr(exc, "exit_code", None)
    if callable(fmt) and isinstance(code, int) and type(exc).__module__.endswith("click.exceptions"):
        msg = str(fmt()).replace("Value error, ", "").replace("\n", " ")
        cmd = getattr(getattr(exc, "ctx", None), "command_path", None) or command
        return f"gapwatch: error: {msg} (see '{cmd} --help')", code
    return None
