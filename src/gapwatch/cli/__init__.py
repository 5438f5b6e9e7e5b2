"""The ``gapwatch`` command line (typer). Each sub-command lives in its own module of this package."""

import sys

import typer

from ..errors import one_line

app = typer.Typer(
    name="gapwatch",  # its help is the docstring of the callback `_root`
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: no rich import on `--help` (start-up time)
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"gapwatch {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_version,
                                 is_eager=True),
) -> None:
    """Find, forecast and fix overfitting in machine-learning training runs."""

# sub-commands register themselves on `app` when imported (after `app` exists: each module imports it)
from . import analyze, demo, examples, forecast, replay, series, watch  # noqa: E402,F401


def main(argv: list[str] | None = None) -> int:
    """Console entry point: user errors become one line on stderr (:func:`gapwatch.errors.one_line`) and exit 1
    (input) or 2 (usage)."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        print("gapwatch: aborted", file=sys.stderr)
        return 1
    except Exception as exc:
        told = one_line(exc)
        if told is None:
            raise
        print(told[0], file=sys.stderr)
        return told[1]
    # click returns the code of a typer.Exit when standalone_mode is False
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
