"""gapwatch.params: one validator, one message form; a generated test over every registered parameter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gapwatch.errors import UsageError
from gapwatch.params import Param, markdown_table, parse_cli_param, register, validate

SPECS = (
    Param("min_z", 3.0, "threshold", unit="sigma", low=0, low_open=True),
    Param("window", 5, "window", unit="evaluations", type=int, low=1),
    Param("frac", None, "share", unit="fraction", low=0, high=1, allow_none=True),
    Param("mode", "min", "direction", type=str, choices=("min", "max")),
    Param("flag", False, "switch", type=bool),
    Param("either", 2, "int or float", type=(int, float), low=0),
    Param("bound", math.inf, "may be infinite", low=0, high=math.inf),
)
OWNER = "_test_params_demo"
register(OWNER, SPECS)


def test_message_form_names_owner_parameter_unit_and_value() -> None:
    with pytest.raises(UsageError) as e:
        validate("overfitting", SPECS, {"min_z": -1})
    assert str(e.value) == "overfitting: min_z must be a number in (0, inf) (sigma), got -1 (min_z=-1)"


def test_defaults_merged_and_types_converted() -> None:
    out = validate(OWNER, SPECS, {"min_z": np.float32(2.5), "window": np.int64(4), "frac": 0.5})
    assert out == {"min_z": 2.5, "window": 4, "frac": 0.5, "mode": "min", "flag": False, "either": 2,
                   "bound": math.inf}
    assert type(out["min_z"]) is float and type(out["window"]) is int
    assert validate(OWNER, SPECS, {"window": 3.0})["window"] == 3  # integral float → int
    assert type(validate(OWNER, SPECS, {"either": 2.5})["either"]) is float
    assert type(validate(OWNER, SPECS, {"either": np.int64(3)})["either"]) is int


@pytest.mark.parametrize("key,value", [
    ("min_z", True), ("min_z", 0), ("min_z", math.nan), ("min_z", math.inf), ("min_z", "3"),
    ("window", 2.5), ("window", 0), ("window", np.bool_(True)), ("window", None),
    ("frac", 1.5), ("frac", -0.1), ("mode", "median"), ("flag", 1), ("either", -1), ("bound", math.nan),
    ("bound", -math.inf),
])
def test_invalid_values_rejected(key: str, value: object) -> None:
    with pytest.raises(UsageError, match=rf"^{OWNER}: {key} must be .*, got .*\({key}="):
        validate(OWNER, SPECS, {key: value})


def test_infinity_only_where_the_interval_includes_it() -> None:
    assert validate(OWNER, SPECS, {"bound": math.inf})["bound"] == math.inf
    with pytest.raises(UsageError, match="min_z"):
        validate(OWNER, SPECS, {"min_z": math.inf})


def test_unknown_key_lists_known_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown parameter\(s\) \['nope'\]; known: \['min_z', 'window'"):
        validate(OWNER, SPECS, {"nope": 1})


def test_register_rejects_bad_declarations() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        register("_dup", [Param("a", 1.0, ""), Param("a", 2.0, "")])
    with pytest.raises(ValueError, match="invalid default"):
        register("_bad_default", [Param("a", -1.0, "", low=0)])
    with pytest.raises(ValueError, match="already registered"):
        register(OWNER, SPECS[:1])
    assert register(OWNER, list(SPECS)) == SPECS  # same specs again (a reload) is fine


def test_parse_cli_param_types_by_spec() -> None:
    assert parse_cli_param(f"{OWNER}.min_z=4") == (OWNER, "min_z", 4.0)
    assert type(parse_cli_param(f"{OWNER}.min_z=4")[2]) is float
    assert parse_cli_param(f"{OWNER}.window=3") == (OWNER, "window", 3)
    assert parse_cli_param(f"{OWNER}.frac=None") == (OWNER, "frac", None)
    assert parse_cli_param(f"{OWNER}.flag=yes") == (OWNER, "flag", True)
    assert parse_cli_param(f"{OWNER}.mode=max") == (OWNER, "mode", "max")
    for bad, msg in [(f"{OWNER}.window=abc", "window must be an integer"), ("min_z=4", "OWNER.NAME=VALUE"),
                     (f"{OWNER}.nope=1", "unknown parameter 'nope'"),
                     ("nobody.x=1", "unknown parameter owner"),
                     (f"{OWNER}.min_z=-2", r"got -2 \(min_z=-2\)")]:
        with pytest.raises(UsageError, match=msg):
            parse_cli_param(bad)


def test_markdown_table_has_one_row_per_parameter() -> None:
    table = markdown_table(OWNER).splitlines()
    assert len(table) == 2 + len(SPECS)
    assert table[2] == "| `min_z` | `3.0` | a number in (0, inf) | sigma | threshold |"
