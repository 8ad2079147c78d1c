"""Ordinary least squares with a confidence interval on the slope.

Used wherever a rate is read from a series (bytes retained per call, memory per
in-flight query): the slope comes with a Student-t interval, so "it grows" is a
statement with a confidence level instead of a guess from two points. Pure
Python (no SciPy in the requirements): the t quantile inverts the t CDF, which
is computed from the regularized incomplete beta function.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class LinearFit:
    """y = intercept + slope * x, with the slope's `confidence` interval."""

    slope: float
    intercept: float
    slope_stderr: float
    slope_ci_low: float
    slope_ci_high: float
    confidence: float
    r_squared: float | None  # None when y does not vary at all
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc_regularized(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    # The continued fraction converges fast only on one side of the mean.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * betainc_regularized(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t value with P(T <= t) = p (bisection on the CDF; exact to ~1e-10)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be within (0, 1)")
    if df <= 0:
        raise ValueError("df must be > 0")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


def linear_fit(x: Sequence[float], y: Sequence[float], confidence: float = 0.95) -> LinearFit:
    """OLS fit of y on x; the slope interval uses t with n - 2 degrees of freedom."""
    n = len(x)
    if n != len(y):
        raise ValueError("x and y must have the same length")
    if n < 3:
        raise ValueError("a slope with a confidence interval needs at least 3 points")
    mean_x = math.fsum(x) / n
    mean_y = math.fsum(y) / n
    sxx = math.fsum((xi - mean_x) ** 2 for xi in x)
    if sxx == 0:
        raise ValueError("x does not vary: no slope to fit")
    sxy = math.fsum((xi - mean_x) * (yi - mean_y) for xi, yi in zip(x, y))
    syy = math.fsum((yi - mean_y) ** 2 for yi in y)
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    sse = max(0.0, math.fsum((yi - intercept - slope * xi) ** 2 for xi, yi in zip(x, y)))
    stderr = math.sqrt(sse / (n - 2) / sxx)
    half = t_quantile(0.5 + confidence / 2.0, n - 2) * stderr
    r_squared = None if syy == 0 else max(0.0, 1.0 - sse / syy)
    return LinearFit(slope=slope, intercept=intercept, slope_stderr=stderr,
                     slope_ci_low=slope - half, slope_ci_high=slope + half,
                     confidence=confidence, r_squared=r_squared, n=n)
