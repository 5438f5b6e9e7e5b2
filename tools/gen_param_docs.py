"""Regenerate the parameter tables in ``docs/*.md`` from the :mod:`gapwatch.params` specs.

A table follows a marker line naming its owner; the table is every ``|`` line right after it::

    <!-- generated from the specs: gapwatch.params.markdown_table('overfitting') -->
    | parameter | default | allowed | unit | meaning |
    ...

Usage::

    .venv/bin/python tools/gen_param_docs.py            # rewrite the tables in place
    .venv/bin/python tools/gen_param_docs.py --check    # exit 1 (listing the files) when a table is stale

``tests/test_params.py`` runs the check, so a changed default, interval or explanation fails the tests until the
docs are regenerated.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Modules whose import registers parameter specs (the detectors register on first use of their registry).
MODULES = ("gapwatch.policy", "gapwatch.policy_forecast", "gapwatch.averaging", "gapwatch.guard",
           "gapwatch.keeper", "gapwatch.integrations", "gapwatch.schedule", "gapwatch.launches")
_BLOCK = re.compile(r"(?P<mark><!-- generated from the specs: "
                    r"gapwatch\.params\.markdown_table\('(?P<owner>[\w.]+)'\) -->\n)(?P<table>(?:\|.*\n)*)")


def load_registry() -> dict[str, tuple[object, ...]]:
    """Import every module that declares parameters and return :data:`gapwatch.params.REGISTRY`."""
    from gapwatch import params
    from gapwatch.detectors import registered

    registered()
    for mod in MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a module of this list that does not exist (yet): nothing to load
            if exc.name != mod:
                raise
    return dict(params.REGISTRY)


def render(text: str, source: str = "") -> str:
    """``text`` with every marked table regenerated; ``ValueError`` naming ``source`` for an unknown owner."""
    from gapwatch.params import REGISTRY, markdown_table

    def table(m: re.Match[str]) -> str:
        owner = m.group("owner")
        if owner not in REGISTRY:
            raise ValueError(f"{source}: no parameters registered for {owner!r}; known: {sorted(REGISTRY)}")
        return m.group("mark") + markdown_table(owner)

    return _BLOCK.sub(table, text)


def stale_files(docs: Path = DOCS, write: bool = False) -> list[Path]:
    """Markdown files under ``docs`` whose tables differ from the specs (rewritten when ``write``)."""
    load_registry()
    out = []
    for path in sorted(docs.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        new = render(text, str(path))
        if new != text:
            out.append(path)
            if write:
                path.write_text(new, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--check", action="store_true", help="only report stale tables (exit 1 when there are any)")
    args = ap.parse_args(argv)
    stale = stale_files(write=not args.check)
    for path in stale:
        print(f"{'stale' if args.check else 'updated'}: {path.relative_to(ROOT)}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
