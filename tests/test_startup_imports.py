"""A plain ``gapwatch analyze`` of an ordinary log imports no heavy library (issue 11: start-up cost).

``import pandas`` (which pulls pyarrow) and ``import scipy.special`` / ``scipy.optimize`` each cost a few tenths
of a second of CPU, more than the whole analysis of a 10-epoch log. The History stores numpy columns, the
forecast's normal CDF and Nelder–Mead refinement are numpy ports of scipy's (:mod:`gapwatch.special`,
:func:`gapwatch.forecast.ensemble.nelder_mead`), so the default path needs none of them. Each check runs in a
fresh interpreter and looks at ``sys.modules`` afterwards; nothing here measures time.

The ports must give scipy's numbers exactly (the analysis JSON and the detector decisions are benchmarked),
which the last tests check bit for bit against scipy itself.

The command line must not load pydantic either: typer 0.29 made it a dependency and builds a pydantic
TypeAdapter for every option of the command being run (~0.1 s of CPU and 10 MB, a quarter of the start-up
budget), so ``pyproject.toml`` keeps ``typer<0.29``; the CLI test fails if an environment has a newer typer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gapwatch.testing.samples import keras_csvlogger_file

FIXTURES = Path(__file__).parent / "fixtures"
HEAVY = ("pandas", "pyarrow", "scipy", "torch", "numpy.ma", "urllib.request")  # numpy.ma: np.median, np.unique
CLI_HEAVY = (*HEAVY, "pydantic")  # typer >= 0.29 imports it on every command (pyproject pins typer<0.29)


#: Run first in the probe: notes, for each heavy module, the innermost gapwatch line whose import loaded it.
_SPY = """import sys, traceback
_who = {}
class _Spy:
    def find_spec(self, name, path=None, target=None):
        if name in HEAVY and name not in _who:
            ours = [f for f in traceback.extract_stack() if "/gapwatch/" in f.filename.replace("\\\\", "/")]
            where = ours[-1].filename.replace("\\\\", "/") if ours else "?"
            _who[name] = f"{where[where.find('gapwatch/'):]}:{ours[-1].lineno}" if ours else "?"
        return None
sys.meta_path.insert(0, _Spy())
"""


def _loaded_after(code: str, *args: str, heavy: tuple[str, ...] = HEAVY) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; return what it printed (``stdout``) and which ``heavy`` modules it
    loaded (``loaded``: module → the gapwatch file:line whose import pulled it in, for the failure message)."""
    probe = (f"HEAVY = {heavy!r}\n{_SPY}{code}\nimport json\n"
             "print(json.dumps({m: _who.get(m, '?') for m in HEAVY if m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return {"loaded": json.loads(out.stdout.strip().splitlines()[-1]), "stdout": out.stdout}


@pytest.mark.parametrize("log", ["fixture", "turning"])
def test_cli_analyze_imports_no_heavy_module(log: str, tmp_path: Path) -> None:
    path = (FIXTURES / "logs" / "keras" / "training.csv" if log == "fixture"
            else keras_csvlogger_file(tmp_path / "t.csv"))
    code = ("import sys\nfrom gapwatch.cli import main\nsys.argv = ['gapwatch', 'analyze', sys.argv[1]]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n")
    got = _loaded_after(code, str(path), heavy=CLI_HEAVY)
    assert got["loaded"] == {}, f"gapwatch analyze {path.name} imported (module: by) {got['loaded']}"
    assert "overfit" in str(got["stdout"]).lower() or "forecast" in str(got["stdout"]).lower()


def test_library_analyze_with_forecast_imports_no_heavy_module(tmp_path: Path) -> None:
    code = ("import sys, gapwatch\nres = gapwatch.analyze(gapwatch.load(sys.argv[1]))\n"
            "assert res.runs and res.runs[0].forecast is not None, 'the default forecast did not run'\n")
    got = _loaded_after(code, str(keras_csvlogger_file(tmp_path / "t.csv")))
    assert got["loaded"] == {}, f"gapwatch.analyze imported (module: by) {got['loaded']}"


def test_history_frame_still_gives_pandas() -> None:
    """The pandas table is one attribute away (pandas imported on first use only)."""
    code = ("import sys, gapwatch\nh = gapwatch.load(sys.argv[1])\nassert 'pandas' not in sys.modules\n"
            "f = h.frame\nassert list(f.columns) == ['run', 'step', 'epoch', 'split', 'metric', 'value', 'name']\n"
            "assert len(f) == len(h)\n")
    got = _loaded_after(code, str(FIXTURES / "logs" / "keras" / "training.csv"))
    assert "pandas" in got["loaded"]


def test_ndtr_is_bit_identical_to_scipy() -> None:
    from scipy.special import ndtr as scipy_ndtr

    from gapwatch.special import ndtr

    rng = np.random.default_rng(0)
    for scale in (0.3, 1.0, 3.0, 10.0, 40.0):
        x = rng.normal(size=200_000) * scale
        np.testing.assert_array_equal(ndtr(x), scipy_ndtr(x))
    edge = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e-300, 1 / np.sqrt(0.5), -1 / np.sqrt(0.5),
                     np.sqrt(2.0), -np.sqrt(2.0), 8 * np.sqrt(2.0), -8 * np.sqrt(2.0), 37.6, -37.6, 38.5, -38.5,
                     1e308, -1e308])
    np.testing.assert_array_equal(ndtr(edge), scipy_ndtr(edge))
    assert ndtr(np.ones((2, 3))).shape == (2, 3) and ndtr(np.empty(0)).shape == (0,)


def _objectives(n: int, rng: np.random.Generator) -> list:  # type: ignore[type-arg]
    a = rng.normal(size=(n, n))
    c = rng.normal(size=n) * 3
    m = a @ a.T + 0.1 * np.eye(n)
    return [lambda v: float((v - c) @ m @ (v - c)),
            lambda v: float(np.sum(np.abs(v - c)) + np.sin(5 * v).sum()),
            lambda v: float(np.round(np.sum((v - c) ** 2), 2)),  # plateaus: ties between vertices
            lambda v: float(np.sum((1 - v[:-1]) ** 2) + 100 * np.sum((v[1:] - v[:-1] ** 2) ** 2)) if n > 1
            else float((v[0] - 1) ** 4)]


def test_nelder_mead_is_bit_identical_to_scipy() -> None:
    from scipy.optimize import minimize

    from gapwatch.forecast.ensemble import nelder_mead

    rng = np.random.default_rng(0)
    for trial in range(150):
        n = 1 + trial % 3
        x0 = np.zeros(n) if trial % 17 == 0 else rng.normal(size=n) * 2
        for f in _objectives(n, rng):
            for xat, fat, mf in ((1e-3, 1e-3, 120), (1e-6, 1e-6, 50)):
                want = minimize(f, x0, method="Nelder-Mead", options={"xatol": xat, "fatol": fat, "maxfev": mf}).x
                np.testing.assert_array_equal(nelder_mead(f, x0, xatol=xat, fatol=fat, maxfev=mf), want)


def test_ndtr_of_a_scalar_gives_the_same_bits_as_the_array_path() -> None:
    """The scalar path (one Mann–Kendall test, one call) repeats the array path's operations on Python floats."""
    from scipy.special import ndtr as scipy_ndtr

    from gapwatch.special import ndtr

    rng = np.random.default_rng(1)
    xs = np.concatenate([rng.normal(size=3000) * s for s in (0.3, 1.0, 3.0, 10.0, 40.0)] +
                        [np.array([0.0, -0.0, np.inf, -np.inf, 1e300, -1e300, 38.0, -38.0, 8.0, -8.0, 1.0, -1.0])])
    scalars = np.array([float(ndtr(float(x))) for x in xs])
    np.testing.assert_array_equal(scalars.view(np.int64), ndtr(xs).view(np.int64))
    np.testing.assert_array_equal(scalars.view(np.int64), scipy_ndtr(xs).view(np.int64))
    assert np.isnan(float(ndtr(float("nan")))) and np.ndim(ndtr(0.5)) == 0
