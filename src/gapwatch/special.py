"""Special functions the core needs, in numpy, so that a plain ``gapwatch analyze`` does not import scipy
(``import scipy.special`` costs about 0.2–0.45 s of CPU, as much as the whole analysis of a short log).

:func:`ndtr` is a port of the Cephes ``ndtr``/``erf``/``erfc`` (S. L. Moshier, *Methods and Programs for
Mathematical Functions*, 1989; netlib ``cephes/ndtr.c``) that ``scipy.special.ndtr`` wraps: the same rational
approximations, the same branch points and the same order of floating-point operations, with ``exp`` taken
from the C library (``math.exp``) as scipy's compiled code does (numpy's vectorised ``exp`` differs from it by
one unit in the last place on about 1% of arguments). It returns the same bits as ``scipy.special.ndtr``
(checked on 6,000,000 normal arguments at several scales in ``tests/test_startup_imports.py``).
"""

from __future__ import annotations

import math

import numpy as np

# Cephes ndtr.c coefficients. erf(x) = x T(x²)/U(x²) for |x| <= 1
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3, 7.00332514112805075473e3,
      5.55923013010394962768e4)
_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3, 2.26290000613890934246e4,
      4.92673942608635921086e4)
# erfc(x) = exp(-x²) P(x)/Q(x) for 1 <= x < 8
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0, 4.86371970985681366614e1,
      1.96520832956077098242e2, 5.26445194995477358631e2, 9.34528527171957607540e2, 1.02755188689515710272e3,
      5.57535335369399327526e2)
_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2, 9.75708501743205489753e2,
      1.82390916687909736289e3, 2.24633760818710981792e3, 1.65666309194161350182e3, 5.57535340817727675546e2)
# erfc(x) = exp(-x²) R(x)/S(x) for x >= 8
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0, 6.16021097993053585195e0,
      7.40974269950448939160e0, 2.97886665372100240670e0)
_S = (2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1, 1.70814450747565897222e1,
      9.60896809063285878198e0, 3.36907645100081516050e0)
#: natural log of the largest double: erfc underflows to 0 beyond x² = MAXLOG
MAXLOG = 7.09782712893383996843e2
_SQRT1_2 = 0.70710678118654752440
_libm_exp = np.frompyfunc(math.exp, 1, 1)


def _polevl(x: np.ndarray, coef: tuple[float, ...]) -> np.ndarray:
    """Cephes ``polevl``: ``coef[0] x^N + … + coef[N]`` by Horner's rule."""
    a = np.full_like(x, coef[0])
    for c in coef[1:]:
        a = a * x + c
    return a


def _p1evl(x: np.ndarray, coef: tuple[float, ...]) -> np.ndarray:
    """Cephes ``p1evl``: ``polevl`` with an implicit leading coefficient 1."""
    a = x + coef[0]
    for c in coef[1:]:
        a = a * x + c
    return a


def ndtr(a: np.ndarray | float) -> np.ndarray:
    """Standard normal CDF ``Φ(a) = P(Z ≤ a)``, elementwise, bit-identical to ``scipy.special.ndtr``.

    Args:
        a: any real array (or a float); NaN gives NaN, ±inf give 1 and 0.
    Returns:
        float64 array of ``a``'s shape, values in [0, 1].
    """
    if np.ndim(a) == 0:  # the Mann–Kendall tests call it once per test: a scalar path, the same operations
        return np.asarray(_ndtr_scalar(float(a)))
    a = np.asarray(a, dtype=float)
    x = a * _SQRT1_2
    z = np.abs(x)
    out = np.empty_like(x)
    # |x| < 1/sqrt(2): 0.5 + 0.5 erf(x)
    small = z < _SQRT1_2
    xs = x[small]
    xx = xs * xs
    out[small] = 0.5 + 0.5 * (xs * _polevl(xx, _T) / _p1evl(xx, _U))
    # 1/sqrt(2) <= |x| < 1: erfc(|x|) = 1 - erf(|x|)
    mid = ~small & (z < 1.0)
    zm = z[mid]
    zz = zm * zm
    ym = 0.5 * (1.0 - zm * _polevl(zz, _T) / _p1evl(zz, _U))
    out[mid] = np.where(x[mid] > 0, 1.0 - ym, ym)
    # |x| >= 1 (and NaN): erfc(|x|) = exp(-x²) P/Q or R/S, 0 beyond MAXLOG
    rest = ~small & ~mid
    if rest.any():
        zb = z[rest]
        with np.errstate(over="ignore"):
            mz = -zb * zb  # -inf for huge |x|: underflow below
        under = ~(mz >= -MAXLOG)  # erfc underflows (and NaN, set below)
        e = np.asarray(_libm_exp(np.where(under, 0.0, mz)), dtype=float)
        near = zb < 8.0
        # each branch evaluated on arguments in its range only (no inf/inf on the other branch)
        zn = np.where(near & ~under, zb, 1.0)
        zf = np.where(near | under, 8.0, zb)
        y = np.where(near, e * _polevl(zn, _P) / _p1evl(zn, _Q), e * _polevl(zf, _R) / _p1evl(zf, _S))
        y = 0.5 * np.where(under, 0.0, y)
        out[rest] = np.where(x[rest] > 0, 1.0 - y, y)
        out[np.isnan(a)] = np.nan
    return out


def _polevl1(x: float, coef: tuple[float, ...]) -> float:
    a = coef[0]
    for c in coef[1:]:
        a = a * x + c
    return a


def _p1evl1(x: float, coef: tuple[float, ...]) -> float:
    a = x + coef[0]
    for c in coef[1:]:
        a = a * x + c
    return a


def _ndtr_scalar(a: float) -> float:
    """:func:`ndtr` of one float, with Python floats: the same IEEE operations in the same order as the array path
    (so the same bits; tested against it), ~50x faster on a scalar."""
    if math.isnan(a):
        return math.nan
    x = a * _SQRT1_2
    z = abs(x)
    if z < _SQRT1_2:
        xx = x * x
        return 0.5 + 0.5 * (x * _polevl1(xx, _T) / _p1evl1(xx, _U))
    if z < 1.0:
        zz = z * z
        y = 0.5 * (1.0 - z * _polevl1(zz, _T) / _p1evl1(zz, _U))
        return 1.0 - y if x > 0 else y
    mz = -z * z
    if not mz >= -MAXLOG:  # erfc underflows
        y = 0.0
    else:
        e = math.exp(mz)
        y = e * _polevl1(z, _P) / _p1evl1(z, _Q) if z < 8.0 else e * _polevl1(z, _R) / _p1evl1(z, _S)
        y = 0.5 * y
    return 1.0 - y if x > 0 else y
