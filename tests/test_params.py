"""gapwatch.params: one validator, one message form; a generated test over every registered parameter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gapwatch import params
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


# ------------------------------------------------------------------ generated: every registered parameter
def _gen_docs():  # type: ignore[no-untyped-def]
    """``tools/gen_param_docs.py`` as a module (it knows which modules declare parameters)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "tools" / "gen_param_docs.py"
    spec = importlib.util.spec_from_file_location("gen_param_docs", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _load_owners() -> dict[str, tuple[Param, ...]]:
    """Every registered owner (detectors, policy, averaging, and whatever else declares specs), test owners out."""
    _gen_docs().load_registry()
    return {o: s for o, s in params.REGISTRY.items() if not o.startswith("_")}


def _invalid_values(p: Param) -> list[object]:
    """Values ``p`` must reject, generated from its declaration (scikit-learn's common-test idea)."""
    bad: list[object] = []
    if not p.allow_none:
        bad.append(None)
    if p.numeric:
        bad += ["3", True, math.nan, [1]]
        if p.low is not None and math.isfinite(p.low):
            bad.append(p.low if p.low_open else p.low - 1)
        if p.high is not None and math.isfinite(p.high):
            bad.append(p.high if p.high_open else p.high + 1)
        if p.high is None or p.high != math.inf:
            bad.append(math.inf)
        if p.types == (int,):
            bad.append((p.low if p.low is not None else 0) + 1.5)
    elif p.types == (bool,):
        bad += ["yes", 1, 0.0]
    elif p.types == (str,):
        bad += [3, True]
        if p.choices is not None:
            bad.append("no-such-choice")
    else:
        bad += [v for v in (3, "x", 2.5) if not isinstance(v, p.types)]
    return bad


def _cases() -> list[tuple[str, str, object]]:
    return [(owner, p.name, v) for owner, specs in _load_owners().items() for p in specs
            for v in _invalid_values(p)]


def test_registry_covers_detectors_policy_and_averaging() -> None:
    owners = _load_owners()
    assert {"overfitting", "double_descent", "grokking", "memorization", "instability", "underfitting",
            "catastrophic_overfitting", "stability_gap", "policy", "policy_forecast", "ema", "swa",
            "soup"} <= set(owners)
    for specs in owners.values():
        for p in specs:
            assert len(p.doc) >= 20, f"{p.name}: say what it is and why this default"


@pytest.mark.parametrize("owner,name,value", _cases(), ids=lambda x: repr(x)[:40])
def test_every_parameter_rejects_invalid_values(owner: str, name: str, value: object) -> None:
    with pytest.raises(UsageError) as e:
        validate(owner, params.REGISTRY[owner], {name: value})
    msg = str(e.value)
    assert msg.startswith(f"{owner}: {name} must be "), msg
    assert f"({name}={value!r})" in msg, msg


@pytest.mark.parametrize("owner", sorted(_load_owners()))
def test_every_owner_rejects_unknown_keys(owner: str) -> None:
    with pytest.raises(UsageError, match=rf"^{owner}: unknown parameter\(s\) \['no_such_parameter'\]; known:"):
        validate(owner, params.REGISTRY[owner], {"no_such_parameter": 1})


def _tiny_history():  # type: ignore[no-untyped-def]
    from gapwatch import History

    return History.from_records([{"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 1.0 / (e + 1) + 0.1}
                                 for e in range(12)])


@pytest.mark.parametrize("owner,name,value", [c for c in _cases() if c[0] in {
    "overfitting", "double_descent", "grokking", "memorization", "instability", "underfitting",
    "catastrophic_overfitting", "stability_gap", "policy"}][::3], ids=lambda x: repr(x)[:40])
def test_entry_points_validate_through_the_specs(owner: str, name: str, value: object) -> None:
    """The detectors and the stop policy reject what their specs reject, with the same message."""
    from gapwatch.detectors import registered
    from gapwatch.policy import StopPolicy

    with pytest.raises(UsageError, match=rf"^{owner}: {name} must be "):
        if owner == "policy":
            StopPolicy("min", {name: value})
        else:
            registered()[owner](_tiny_history(), **{name: value})


def test_parse_cli_param_on_a_real_owner() -> None:
    _load_owners()
    assert parse_cli_param("overfitting.min_z=4") == ("overfitting", "min_z", 4.0)
    assert parse_cli_param("policy.confirm_p_best_behind=none") == ("policy", "confirm_p_best_behind", None)
    with pytest.raises(UsageError, match=r"^overfitting: min_z must be a number in \[0, inf\) "):
        parse_cli_param("overfitting.min_z=-1")


def test_docs_parameter_tables_are_generated_from_the_specs() -> None:
    """``docs/*.md`` tables equal ``tools/gen_param_docs.py``'s output (run it after changing a spec)."""
    gen = _gen_docs()
    stale = gen.stale_files(gen.DOCS)
    assert stale == [], f"regenerate with: .venv/bin/python tools/gen_param_docs.py ({stale})"
    text = (gen.DOCS / "detectors.md").read_text(encoding="utf-8")
    for owner in ("overfitting", "instability", "stability_gap"):
        assert f"gapwatch.params.markdown_table('{owner}') -->\n| parameter |" in text


# ------------------------------------------------------------------ stats.trailing_mean: exactness contract
def test_trailing_mean_is_np_mean_of_each_window() -> None:
    from gapwatch.stats import trailing_mean, window_means

    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 40):
        for w in (1, 2, 3, 8, 9, 17):
            v = rng.normal(size=n) * 1e3 + 1e7
            ref = np.array([np.mean(v[max(0, i - w + 1): i + 1]) for i in range(n)])
            assert np.array_equal(trailing_mean(v, w), ref)
            assert np.array_equal(window_means(v, w), ref[w - 1:])
            # online == offline: a prefix gives the same means as the whole series
            assert np.array_equal(trailing_mean(v[: n // 2], w), ref[: n // 2])


def test_trailing_mean_does_not_degrade_on_long_offset_series() -> None:
    """The degradation test: 10**6 evaluations on an offset of 1e8 with noise 1e-3. The cumulative-sum formula
    that ``stats.rolling_mean`` used (and this replaces) is off by ~1e-4 at the end here (seed 1), four orders
    of magnitude above the round-off of one mean (eps·1e8 ≈ 2e-8); the exact means stay at round-off."""
    from gapwatch.stats import trailing_mean

    rng = np.random.default_rng(1)
    n, w = 1_000_000, 5
    v = 1e8 + 1e-3 * rng.normal(size=n)
    tail = v[-w:]
    got = trailing_mean(v, w)[-1]
    exact = float(np.mean(tail))
    assert got == exact
    c = np.cumsum(np.insert(v, 0, 0.0))
    cumsum_mean = (c[-1] - c[-1 - w]) / w
    assert abs(cumsum_mean - exact) > 1e-5  # the formula it replaces degrades with n and the offset
