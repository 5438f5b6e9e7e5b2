"""Declarative parameters: one spec per parameter, one validator, one message form.

Every tunable number of gapwatch (a detector's threshold, a policy's patience, an averaging window…) is
declared once as a :class:`Param` — default, type, allowed interval or choices, unit and *why this default* —
and every owner (a detector, the stop policy, …) validates what it is given through :func:`validate`. The
specs are kept in :data:`REGISTRY` so that the CLI (``--param overfitting.min_z=4``, :func:`parse_cli_param`),
the generated documentation tables (:func:`markdown_table`, ``tools/gen_param_docs.py``) and one generated
test (every parameter fed an invalid value) all read the same declaration.

Modelled on scikit-learn's ``_parameter_constraints`` (constraints as data, one validator, a common test that
feeds every parameter an invalid value generated from its constraint) and optuna's ``{x=}`` messages. One
message form for every bad value::

    overfitting: min_z must be a number in (0, inf) (sigma), got -1 (min_z=-1)

Rules: ``bool`` is never accepted where a number is expected (``True`` is not ``1`` here); numpy scalars are
accepted and returned as Python ``int``/``float``; NaN is never accepted and ±inf only when the interval
includes it (a closed end at ``math.inf``); integer parameters accept integral floats (``3.0`` → ``3``).
"""

from __future__ import annotations

import builtins
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from .errors import UsageError

_Types = Union[type, tuple[type, ...]]  # noqa: UP007 - a runtime alias (a field below is named ``type``)

__all__ = ["REGISTRY", "Param", "defaults", "markdown_table", "parse_cli_param", "parse_cli_params", "register",
           "spec", "validate"]


@dataclass(frozen=True)
class Param:
    """One parameter: its name, default, meaning and the values it accepts.

    ``doc`` says what the parameter is *and* why the default is what it is (a paper, a measurement, a
    convention). ``unit`` is a word such as ``"evaluations"``, ``"epochs"``, ``"steps"``, ``"fraction"``,
    ``"sigma"`` (multiples of the curve's noise), or ``""`` for dimensionless values. ``type`` is ``int``,
    ``float``, ``bool``, ``str`` or a tuple of them (``(int, float)``: any real number, kept as given).
    ``low``/``high`` bound numbers (``None``: unbounded); ``low_open``/``high_open`` exclude the bound.
    ``choices`` restricts to listed values; ``allow_none`` also accepts ``None``.
    """

    name: str
    default: Any
    doc: str
    unit: str = ""
    type: _Types = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] | None = None
    allow_none: bool = False

    # ------------------------------------------------------------------------------------------ description
    @property
    def types(self) -> tuple[builtins.type, ...]:
        return self.type if isinstance(self.type, tuple) else (self.type,)

    @property
    def numeric(self) -> bool:
        """True for int/float parameters (bool excluded)."""
        return all(t in (int, float) for t in self.types)

    def interval(self) -> str:
        """``"(0, inf)"``, ``"[1, inf)"``, ``"[0, 1]"`` … (empty for non-numeric parameters)."""
        if not self.numeric:
            return ""
        lo = "-inf" if self.low is None else _num(self.low)
        hi = "inf" if self.high is None else _num(self.high)
        left = "(" if self.low is None or self.low_open else "["
        right = ")" if self.high is None or self.high_open else "]"
        return f"{left}{lo}, {hi}{right}"

    def expected(self) -> str:
        """What a valid value is, in words: ``"a number in (0, inf)"``, ``"one of 'min', 'max'"``, …"""
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.types == (bool,):
            text = "a bool (true/false)"
        elif self.types == (str,):
            text = "a string"
        elif self.types == (int,):
            text = f"an integer in {self.interval()}"
        elif self.numeric:
            text = f"a number in {self.interval()}"
        else:
            text = "a " + " or ".join(t.__name__ for t in self.types)
        return text + (" or None" if self.allow_none else "")

    # ------------------------------------------------------------------------------------------ checking
    def check(self, value: Any, owner: str) -> Any:
        """``value`` converted to the parameter's type; :class:`UsageError` (the one form) otherwise."""
        if value is None:
            if self.allow_none:
                return None
            raise self._error(owner, value)
        out = self._convert(value)
        if out is _BAD:
            raise self._error(owner, value)
        if self.choices is not None and out not in self.choices:
            raise self._error(owner, value)
        if self.numeric and not self._in_interval(float(out)):
            raise self._error(owner, value)
        return out

    def _convert(self, value: Any) -> Any:
        types = self.types
        if isinstance(value, (bool, _np_bool())):
            return bool(value) if bool in types else _BAD
        if self.numeric:
            if not isinstance(value, numbers.Real):
                return _BAD
            f = float(value)
            if math.isnan(f):
                return _BAD
            if types == (int,):
                if math.isinf(f) or f != int(f):
                    return _BAD
                return int(f)
            if int in types and float in types:
                return int(value) if isinstance(value, numbers.Integral) else f
            return f
        if str in types and isinstance(value, str):
            return value
        return value if isinstance(value, types) else _BAD

    def _in_interval(self, f: float) -> bool:
        if self.low is not None and (f < self.low or (self.low_open and f == self.low)):
            return False
        if self.high is not None and (f > self.high or (self.high_open and f == self.high)):
            return False
        # ±inf only when a closed end of the interval is that infinity
        if f == math.inf:
            return self.high == math.inf and not self.high_open
        if f == -math.inf:
            return self.low == -math.inf and not self.low_open
        return True

    def _error(self, owner: str, value: Any) -> UsageError:
        unit = f" ({self.unit})" if self.unit else ""
        shown = _show(value)
        return UsageError(f"{owner}: {self.name} must be {self.expected()}{unit}, got {shown} "
                          f"({self.name}={shown})")


class _Bad:
    def __repr__(self) -> str:  # pragma: no cover - never shown
        return "<invalid>"


_BAD = _Bad()


def _np_bool() -> builtins.type:
    import numpy as np  # numpy is a core dependency; imported here to keep this module import-light

    return np.bool_


def _num(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _show(value: Any) -> str:
    """A value as the user wrote it: ``-1``, ``2.5``, ``'abc'``, ``True`` (numpy scalars as Python)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and hasattr(value, "item"):
        value = value.item()
    return repr(value)


# ------------------------------------------------------------------------------------------------ registry
#: Every registered owner's parameter specs, by owner name (``"overfitting"``, ``"policy"``, …).
REGISTRY: dict[str, tuple[Param, ...]] = {}


def register(owner: str, specs: Sequence[Param]) -> tuple[Param, ...]:
    """Record ``owner``'s specs in :data:`REGISTRY` and return them as a tuple.

    Checks the declaration itself (a programming error, so ``ValueError``): names unique, every default valid.
    Registering the same owner twice is allowed only with equal specs (a module reload).
    """
    specs = tuple(specs)
    names = [p.name for p in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{owner}: parameter(s) declared twice: {dup}")
    for p in specs:
        try:
            p.check(p.default, owner)
        except UsageError as exc:
            raise ValueError(f"invalid default in the declaration: {exc}") from exc
    if owner in REGISTRY and REGISTRY[owner] != specs:
        raise ValueError(f"parameter owner {owner!r} is already registered with different specs")
    REGISTRY[owner] = specs
    return specs


def defaults(specs: Sequence[Param]) -> dict[str, Any]:
    """``{name: default}`` of ``specs``, in declaration order."""
    return {p.name: p.default for p in specs}


def spec(owner: str, name: str) -> Param:
    """The registered spec ``owner.name``; :class:`UsageError` listing what is known when absent."""
    if owner not in REGISTRY:
        raise UsageError(f"unknown parameter owner {owner!r}; known: {sorted(REGISTRY)}")
    for p in REGISTRY[owner]:
        if p.name == name:
            return p
    raise UsageError(f"{owner}: unknown parameter {name!r}; known: {[p.name for p in REGISTRY[owner]]}")


def validate(owner: str, specs: Sequence[Param], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` merged over the defaults of ``specs`` and checked; values converted to their declared type.

    Raises :class:`~gapwatch.errors.UsageError` for a key not in ``specs`` (listing the known ones) and for a
    bad value (``"<owner>: <name> must be <expected> (<unit>), got <value> (<name>=<value>)"``).
    """
    known = [p.name for p in specs]
    unknown = sorted(set(given) - set(known), key=str)
    if unknown:
        raise UsageError(f"{owner}: unknown parameter(s) {unknown}; known: {known}")
    return {p.name: p.check(given[p.name], owner) if p.name in given else p.default for p in specs}


# ------------------------------------------------------------------------------------------------ outputs
def markdown_table(owner: str) -> str:
    """A registered owner's parameter table (Markdown): parameter, default, allowed values, unit, meaning."""
    if owner not in REGISTRY:
        raise UsageError(f"unknown parameter owner {owner!r}; known: {sorted(REGISTRY)}")
    rows = ["| parameter | default | allowed | unit | meaning |", "|---|---|---|---|---|"]
    for p in REGISTRY[owner]:
        doc = " ".join(p.doc.split()).replace("|", "\\|")
        allowed = p.expected().replace("|", "\\|")
        rows.append(f"| `{p.name}` | `{_show(p.default)}` | {allowed} | {p.unit or '—'} | {doc} |")
    return "\n".join(rows) + "\n"


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_cli_params(items: Sequence[str]) -> dict[str, dict[str, Any]] | None:
    """``["overfitting.min_z=4", ...]`` → ``{"overfitting": {"min_z": 4.0}}``, each typed and checked by
    :func:`parse_cli_param`; ``None`` for no items (every owner keeps its defaults)."""
    if not items:
        return None
    out: dict[str, dict[str, Any]] = {}
    for it in items:
        owner, name, value = parse_cli_param(it)
        out.setdefault(owner, {})[name] = value
    return out


def parse_cli_param(text: str) -> tuple[str, str, Any]:
    """``"overfitting.min_z=4"`` → ``("overfitting", "min_z", 4.0)``, typed and checked by the owner's spec.

    The owner is everything before the last ``.`` of the key. ``none`` (any case) is ``None`` where the spec
    allows it; bools accept true/false/yes/no/on/off/1/0. :class:`UsageError` names the text when it cannot be
    read.
    """
    key, eq, raw = text.partition("=")
    owner, dot, name = key.strip().rpartition(".")
    if not eq or not dot or not owner or not name:
        raise UsageError(f"--param expects OWNER.NAME=VALUE (e.g. overfitting.min_z=4), got {text!r}")
    if owner not in REGISTRY:
        _register_analysis_owners()
    p = spec(owner, name)
    return owner, name, p.check(_parse_raw(p, raw.strip(), owner), owner)


def _register_analysis_owners() -> None:
    """Register the specs of every owner ``analyze`` takes parameters for (the detectors register on first use
    of their registry; :mod:`gapwatch.launches` on import), so that ``--param`` is checked before any work."""
    from . import launches  # noqa: F401  (registers its specs)
    from .detectors import registered

    registered()


def _parse_raw(p: Param, raw: str, owner: str) -> Any:
    if p.allow_none and raw.lower() == "none":
        return None
    types = p.types
    if bool in types and raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    if p.numeric:
        for conv in (int, float):  # the spec's check makes "3.0" an integer 3 and "4" a float 4.0 as declared
            try:
                return conv(raw)
            except ValueError:
                continue
        raise p._error(owner, raw)
    if p.choices is not None and str not in types:
        for c in p.choices:
            if str(c) == raw:
                return c
    return raw
