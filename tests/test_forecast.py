"""Tests of gapwatch.forecast: known-answer curves, invariants, shipped weights, bad input, CLI."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gapwatch.cli import main as cli_main
from gapwatch.errors import InputError, UsageError
from gapwatch.forecast import SCHEMA, bars, ensemble, forecast, forecast_curve, forecast_for_analysis, prior
from gapwatch.history import History
from gapwatch.monitor import Monitor

try:
    import torch as _torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:  # pragma: no cover
    HAVE_TORCH = False

METHODS = ["ensemble"] + (["pfn"] if HAVE_TORCH else [])


def pow3(t: np.ndarray) -> np.ndarray:
    return 0.3 + 2.0 * (1.0 + t / 4.0) ** -0.8


def u_curve(n: int = 60, onset: float = 20.0, noise: float = 0.0,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Validation loss that improves, bottoms near ``onset`` and then clearly rises (overfitting)."""
    x = np.arange(1, n + 1, dtype=float)
    y = 0.4 + 1.5 * np.exp(-x / 5.0) + 0.02 * np.maximum(x - onset, 0.0) ** 1.3
    y = y + np.random.default_rng(seed).normal(0.0, noise, n)
    return x, y


def history_of(x: np.ndarray, y: np.ndarray, name: str = "r", metric: str = "val_loss") -> History:
    recs = [{"epoch": float(e), metric: float(v), "train_loss": float(v) * 0.5}
            for e, v in zip(x, y, strict=True)]
    return History.from_records(recs, run=name)


# --------------------------------------------------------------------------------- known answers
def test_noiseless_pow3_is_recovered_by_the_ensemble() -> None:
    x = np.arange(1, 61, dtype=float)
    y = pow3(x)
    fc = forecast_curve(x, y, observed=30, method="ensemble")
    err = np.abs(fc.quantiles["0.5"] - y[30:]) / np.ptp(y[:30])
    assert err.max() < 0.01
    band = fc.quantiles["0.9"] - fc.quantiles["0.1"]
    # sharp next to the data; wider later (model discrepancy, and the curve may still turn)
    assert band[0] < 0.05 * np.ptp(y[:30])
    assert np.all(np.diff(band) > -1e-9)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
def test_noiseless_pow3_is_recovered_by_the_pfn() -> None:
    x = np.arange(1, 61, dtype=float)
    y = pow3(x)
    fc = forecast_curve(x, y, observed=30, method="pfn")
    err = np.abs(fc.quantiles["0.5"] - y[30:]) / np.ptp(y[:30])
    assert err.max() < 0.1  # a small CPU-trained PFN: close, not exact (docs/forecast.md)


@pytest.mark.parametrize("method", METHODS)
def test_u_curve_cut_after_its_minimum_says_best_is_behind(method: str) -> None:
    x, y = u_curve(n=60, onset=20.0, noise=0.002)
    fc = forecast_curve(x, y, observed=45, horizon=60, method=method)
    assert fc.p_best_behind > 0.9
    assert fc.best["x"] <= 45


@pytest.mark.parametrize("method", METHODS)
def test_u_curve_cut_well_before_its_minimum_puts_best_after_the_cut(method: str) -> None:
    x = np.arange(1, 101, dtype=float)
    y = 0.4 + 1.5 * np.exp(-x / 25.0) + 0.01 * np.maximum(x - 70.0, 0.0) ** 1.3
    fc = forecast_curve(x, y, observed=20, horizon=100, method=method)
    assert fc.best["x"] > 20
    assert fc.p_best_behind < 0.5


@pytest.mark.parametrize("method", METHODS)
def test_max_mode_mirrors_min_mode(method: str) -> None:
    x, y = u_curve(noise=0.003)
    lo = forecast_curve(x, y, observed=30, method=method, mode="min")
    hi = forecast_curve(x, -y, observed=30, method=method, mode="max")
    assert hi.p_best_behind == pytest.approx(lo.p_best_behind)
    np.testing.assert_allclose(hi.quantiles["0.1"], -lo.quantiles["0.9"])
    np.testing.assert_allclose(hi.quantiles["0.5"], -lo.quantiles["0.5"])


# --------------------------------------------------------------------------------- invariants
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(8, 70), frac=st.floats(0.1, 0.9))
def test_quantiles_are_ordered_and_finite_on_prior_curves(seed: int, n: int, frac: float) -> None:
    rng = np.random.default_rng(seed)
    t = prior.sample_positions(rng, n)
    n = t.size
    y = prior.sample_curves(rng, t, 1)[0]
    m = max(3, min(n - 1, int(frac * n)))
    for method in METHODS:
        fc = forecast_curve(t * 100.0, y, observed=m, method=method, n_samples=64)
        q = np.stack([fc.quantiles[k] for k in ("0.1", "0.5", "0.9")])
        assert np.all(np.isfinite(q))
        assert np.all(np.diff(q, axis=0) >= -1e-9)
        assert 0.0 <= fc.p_best_behind <= 1.0
        assert fc.best["low"] <= fc.best["x"] <= fc.best["high"]
        assert np.all(np.isfinite(fc.logpdf(y[m:])))


def test_bar_distribution_is_a_density_and_quantiles_invert_it() -> None:
    rng = np.random.default_rng(1)
    borders = np.sort(rng.normal(size=33))
    probs = rng.dirichlet(np.ones(32))
    grid = np.linspace(borders[0] - 20, borders[-1] + 20, 400_001)
    dens = np.exp(bars.logpdf(np.broadcast_to(probs, (grid.size, 32)), borders, grid))
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=2e-3)
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):
        v = float(bars.quantile(probs[None], borders, q)[0])
        cdf = np.trapezoid(dens[grid <= v], grid[grid <= v])
        assert cdf == pytest.approx(q, abs=3e-3)


def test_prior_curves_are_finite_and_normalised() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        t, y, m = prior.sample_batch(rng, 16)
        assert t.shape == (y.shape[1],) and np.all(np.diff(t) > 0) and t[-1] == pytest.approx(1.0)
        assert np.all(np.isfinite(y))
        assert np.allclose(y[:, :m].min(axis=1), 0.0) and np.allclose(y[:, :m].max(axis=1), 1.0)


def test_ensemble_is_robust_to_a_spike() -> None:
    x = np.arange(1, 61, dtype=float)
    y = pow3(x) + np.random.default_rng(0).normal(0, 0.002, 60)
    y[20] += 1.0  # one broken evaluation
    fc = forecast_curve(x, y, observed=40, method="ensemble")
    assert np.abs(fc.quantiles["0.5"] - pow3(x[40:])).max() < 0.05


# --------------------------------------------------------------------------------- API, JSON, analysis hook
def test_forecast_on_history_and_json_shape() -> None:
    x, y = u_curve()
    fc = forecast(history_of(x, y, "run-a"), observed=0.5, horizon=50, method="ensemble")
    d = fc.to_dict()
    assert d["schema"] == SCHEMA
    (r,) = d["runs"]
    assert r["name"] == "run-a" and r["observed"] == 30
    assert r["monitor"] == {"split": "val", "metric": "loss", "mode": "min"}
    assert r["x"] == list(range(31, 51))
    assert set(r["quantiles"]) == {"0.1", "0.5", "0.9"}
    assert all(len(v) == 20 for v in r["quantiles"].values())
    assert set(r["best"]) == {"x", "low", "high"}
    json.dumps(d, allow_nan=False)


def test_horizon_beyond_the_log_extends_x_with_the_last_spacing() -> None:
    x = np.arange(0, 200, 10, dtype=float)
    fc = forecast_curve(x, pow3(x / 10), observed=20, horizon=25, method="ensemble")
    np.testing.assert_array_equal(fc.x, [200, 210, 220, 230, 240])


def test_default_horizon_is_fifty_percent_more() -> None:
    x = np.arange(1, 21, dtype=float)
    fc = forecast_curve(x, pow3(x), method="ensemble")
    assert fc.observed == 20 and fc.x.size == 10


def test_forecast_for_analysis_gives_a_run_entry_or_none_with_reason() -> None:
    x, y = u_curve()
    h = history_of(x, y)
    fc = forecast_for_analysis(h, Monitor("val", "loss", "min"), method="ensemble")
    assert fc is not None and fc.observed == 60 and fc.x.size == 30
    y2 = y.copy()
    y2[5] = np.nan
    why: list[str] = []
    assert forecast_for_analysis(history_of(x, y2), Monitor("val", "loss", "min"), reasons=why) is None
    assert "non-finite" in why[0]
    why = []
    assert forecast_for_analysis(history_of(x[:2], y[:2]), Monitor("val", "loss", "min"), reasons=why) is None
    assert "at least 3" in why[0]
    assert forecast_for_analysis(h, None) is None


def test_auto_falls_back_to_the_ensemble_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail, as on a core install
    x, y = u_curve()
    fc = forecast_curve(x, y, observed=30, method="auto")
    assert fc.method == "ensemble"
    assert any("torch is not installed" in n for n in fc.notes)


# --------------------------------------------------------------------------------- shipped weights
@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
def test_shipped_weights_load_offline_and_checksum_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from gapwatch.forecast import pfn

    def no_network(*a: object, **k: object) -> None:
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "socket", no_network)
    pfn._CACHE.clear()
    loaded = pfn.load_pfn()
    manifest = json.loads((pfn.WEIGHTS_DIR / pfn.MANIFEST_FILE).read_text())
    assert pfn.sha256_file(pfn.WEIGHTS_DIR / pfn.WEIGHTS_FILE) == manifest["sha256"]
    assert (pfn.WEIGHTS_DIR / pfn.WEIGHTS_FILE).stat().st_size < 5_000_000
    assert loaded.borders.shape == (manifest["config"]["n_bins"] + 1,)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
def test_corrupted_weights_are_refused(tmp_path: Path) -> None:
    from gapwatch.forecast import pfn

    for f in (pfn.WEIGHTS_FILE, pfn.MANIFEST_FILE):
        shutil.copy(pfn.WEIGHTS_DIR / f, tmp_path / f)
    with open(tmp_path / pfn.WEIGHTS_FILE, "r+b") as fh:
        fh.seek(100)
        b = fh.read(1)
        fh.seek(100)
        fh.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(InputError, match="checksum mismatch"):
        pfn.load_pfn(tmp_path)


# --------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"observed": 2}, InputError, "at least 3"),
        ({"observed": 0.02}, InputError, "at least 3"),
        ({"observed": 30, "horizon": 30}, UsageError, "must be larger than observed"),
        ({"observed": 30, "horizon": 10}, UsageError, "must be larger than observed"),
        ({"observed": 100}, UsageError, "only 60 are logged"),
        ({"observed": -0.5}, UsageError, "positive"),
        ({"observed": 30, "method": "magic"}, UsageError, "method must be one of"),
        ({"observed": 30, "mode": "up"}, UsageError, "mode must be"),
    ],
)
def test_bad_arguments_get_clear_errors(kwargs: dict, exc: type, match: str) -> None:
    x, y = u_curve()
    with pytest.raises(exc, match=match):
        forecast_curve(x, y, **kwargs)


def test_nan_in_the_observed_part_is_an_error_naming_it() -> None:
    x, y = u_curve()
    y[7] = np.nan
    with pytest.raises(InputError, match=r"observed value 7 \(x=8\) is nan"):
        forecast_curve(x, y, observed=30)
    fc = forecast_curve(x, y, observed=5, horizon=6, method="ensemble")  # NaN after the cut is fine
    assert fc.x.size == 1


def test_cli_json_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x, y = u_curve()
    log = tmp_path / "run.jsonl"
    log.write_text("".join(json.dumps({"epoch": int(e), "val_loss": float(v)}) + "\n"
                           for e, v in zip(x, y, strict=True)))
    assert cli_main(["forecast", str(log), "--observed", "0.5", "--horizon", "50", "--json",
                     "--method", "ensemble"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == SCHEMA and doc["runs"][0]["observed"] == 30
    assert len(doc["runs"][0]["quantiles"]["0.5"]) == 20
    assert cli_main(["forecast", str(log), "--observed", "20", "--method", "ensemble"]) == 0
    assert "P(best already behind)" in capsys.readouterr().out
    assert cli_main(["forecast", str(log), "--observed", "30", "--horizon", "30"]) == 2
    assert "must be larger than observed" in capsys.readouterr().err
    assert cli_main(["forecast", str(log), "--observed", "2"]) == 1
    assert "at least 3" in capsys.readouterr().err
    assert cli_main(["forecast", str(log), "--observed", "lots"]) == 2
    assert "--observed must be" in capsys.readouterr().err


def test_pow3_baseline_fits_a_pow3() -> None:
    t = np.linspace(0.01, 1, 50)
    y = 0.1 + 0.9 * (1 + t / 0.05) ** -0.7
    pred = ensemble.pow3_least_squares(t[:25], y[:25], t[25:])
    assert np.abs(pred - y[25:]).max() < 1e-3
    assert math.isfinite(float(pred[-1]))


def test_json_validates_against_the_shipped_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = (Path(__file__).resolve().parents[1] / "src" / "gapwatch" / "schemas"
                   / "forecast.schema.json")
    if not schema_path.is_file():
        pytest.skip("forecast.schema.json not shipped")
    x, y = u_curve()
    doc = forecast_curve(x, y, observed=25, method="ensemble").to_dict()
    jsonschema.validate(json.loads(json.dumps(doc)), json.loads(schema_path.read_text()))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vals=st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan")), st.just(1.0)),
                     min_size=0, max_size=40))
def test_forecast_for_analysis_never_raises(vals: list[float]) -> None:
    recs = [{"epoch": i + 1, "val_loss": v} for i, v in enumerate(vals)]
    if not recs:
        return
    h = History.from_records(recs, run="odd")
    why: list[str] = []
    d = forecast_for_analysis(h, Monitor("val", "loss", "min"), method="ensemble", reasons=why)
    assert (d is None) == bool(why)
    if d is not None:
        q = np.array([d.quantiles[k] for k in ("0.1", "0.5", "0.9")])
        assert np.all(np.diff(q, axis=0) >= -1e-9)


# --------------------------------------------------------------------------------- bounded scores
def acc_curve(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """A validation accuracy that climbs steeply towards 0.99 (a power law in the error)."""
    x = np.arange(1, n + 1, dtype=float)
    return x, 1.0 - (0.01 + 0.6 * x ** -1.2)


@pytest.mark.parametrize("method", METHODS)
def test_bounded_score_forecasts_never_pass_the_bound(method: str) -> None:
    x, y = acc_curve()
    fc = forecast_curve(x, y, observed=6, method=method, mode="max")
    assert any("bound 1" in n for n in fc.notes)
    for q in fc.quantiles.values():
        assert np.all(q <= 1.0)
    assert fc.samples is not None and np.all(fc.samples <= 1.0)
    q = np.stack([fc.quantiles[k] for k in ("0.1", "0.5", "0.9")])
    assert np.all(np.diff(q, axis=0) >= -1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_bounded_density_integrates_to_one(method: str) -> None:
    x, y = acc_curve()
    fc = forecast_curve(x, y, observed=8, horizon=12, method=method, mode="max")
    grid = np.linspace(0.0, 1.0, 200_001)
    dens = np.exp(np.stack([fc.logpdf(np.full(fc.x.size, g)) for g in grid[::50]]))  # (4001, q)
    mass = np.trapezoid(dens, grid[::50], axis=0)
    # the transform sends [0, 1] to z ∈ [log(0.001), log(1.001)]; nearly all mass must land there
    assert np.all(mass > 0.9) and np.all(mass < 1.02)


def test_bound_none_is_the_plain_sign_flip() -> None:
    x, y = acc_curve()
    a = forecast_curve(x, y, observed=10, method="ensemble", mode="max", bound=None)
    b = forecast_curve(x, -y, observed=10, method="ensemble", mode="min")
    np.testing.assert_allclose(a.quantiles["0.5"], -b.quantiles["0.5"])
    assert not any("bound" in n for n in a.notes)


def test_percent_accuracy_gets_bound_100_only_for_accuracy_like_names() -> None:
    x, y = acc_curve()
    h = history_of(x, 100.0 * y, metric="val_acc")
    fc = forecast(h, Monitor("val", "acc", "max"), observed=10, method="ensemble")
    assert any("bound 100" in n for n in fc.notes)
    assert np.all(fc.quantiles["0.9"] <= 100.0)
    h2 = history_of(x, 100.0 * y, metric="val_reward")
    fc2 = forecast(h2, Monitor("val", "reward", "max"), observed=10, method="ensemble")
    assert not any("bound" in n for n in fc2.notes)


def test_bad_bounds_are_refused() -> None:
    x, y = acc_curve()
    with pytest.raises(UsageError, match="mode='max'"):
        forecast_curve(x, 1.0 - y, observed=10, method="ensemble", mode="min", bound=1.0)
    with pytest.raises(UsageError, match="<= 0.5"):
        forecast_curve(x, y, observed=10, method="ensemble", mode="max", bound=0.5)
    with pytest.raises(UsageError, match="finite"):
        forecast_curve(x, y, observed=10, method="ensemble", mode="max", bound=float("nan"))
    with pytest.raises(UsageError, match="finite"):
        forecast_curve(x, y, observed=10, method="ensemble", mode="max", bound=True)


def test_cli_bound_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x, y = acc_curve()
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"epoch": float(e), "val_acc": float(v), "train_loss": 0.1}) + "\n"
                           for e, v in zip(x, y, strict=True)))
    assert cli_main(["forecast", str(log), "--observed", "10", "--method", "ensemble", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert max(doc["runs"][0]["quantiles"]["0.9"]) <= 1.0
    assert any("bound 1" in n for n in doc["runs"][0]["notes"])
    assert cli_main(["forecast", str(log), "--observed", "10", "--method", "ensemble", "--bound", "none",
                     "--json"]) == 0
    assert not any("bound" in n for n in json.loads(capsys.readouterr().out)["runs"][0]["notes"])
    assert cli_main(["forecast", str(log), "--bound", "abc"]) == 2
    assert "--bound" in capsys.readouterr().err


def test_future_x_extends_geometric_grids_geometrically() -> None:
    x = 16.0 * np.sqrt(2.0) ** np.arange(8)
    y = 1.0 - (0.05 + 0.5 * x ** -0.5)
    fc = forecast_curve(x, y, horizon=11, method="ensemble", mode="max")
    np.testing.assert_allclose(fc.x, 16.0 * np.sqrt(2.0) ** np.arange(8, 11))
    xe = np.arange(1.0, 9.0)
    fc2 = forecast_curve(xe, np.linspace(1.0, 0.5, 8), horizon=11, method="ensemble")
    np.testing.assert_allclose(fc2.x, [9.0, 10.0, 11.0])


def test_geometric_prior_grids_use_the_log_position() -> None:
    t = 2.0 ** (np.arange(10.0) - 9)
    assert prior.is_geometric(t) and not prior.is_geometric(np.arange(1, 11) / 10)
    u = prior.curve_time(t)
    np.testing.assert_allclose(u, np.arange(10.0) / 9)
    rng = np.random.default_rng(0)
    for _ in range(50):
        ts = prior.sample_positions(rng, 72)
        assert prior.N_MIN <= ts.size <= 72 and ts[-1] == 1.0 and np.all(np.diff(ts) > 0)
        if prior.is_geometric(ts):
            assert ts[0] >= 10.0 ** -prior.GEO_MAX_DECADES * 0.999


# --------------------------------------------------------------------------------- shipped PFN quality floor
def _prior_scores(method: str) -> tuple[float, float]:
    """Mean log-likelihood (normalised units) and 80%-band coverage on 30 held-out prior curves, two cuts."""
    rng = np.random.default_rng(2024)  # not a training seed: those are [seed, step]
    lls, covs = [], []
    for _ in range(30):
        t = prior.sample_positions(rng, int(rng.integers(20, 60)))
        y = prior.sample_curves(rng, t, 1)[0]
        for cut in (0.3, 0.6):
            m = max(3, int(cut * y.size))
            # the forecaster's own band (band_scale=1): the conformal width correction is fitted to real runs
            fc = forecast_curve(100.0 * t, y, observed=m, horizon=y.size, method=method, n_samples=32,
                                band_scale=1.0)
            sc = float(np.ptp(y[:m]))
            lls.append(float(np.mean(np.maximum(fc.logpdf(y[m:]) + math.log(sc), -50.0))))
            covs.append(float(np.mean((y[m:] >= fc.quantiles["0.1"]) & (y[m:] <= fc.quantiles["0.9"]))))
    return float(np.mean(lls)), float(np.mean(covs))


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
def test_shipped_pfn_is_calibrated_and_beats_the_ensemble_on_its_prior() -> None:
    ll_pfn, cov_pfn = _prior_scores("pfn")
    ll_ens, _ = _prior_scores("ensemble")
    assert 0.7 <= cov_pfn <= 0.92, cov_pfn
    assert ll_pfn > ll_ens + 1.0, (ll_pfn, ll_ens)
