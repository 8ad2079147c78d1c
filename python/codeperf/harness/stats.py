"""Statistics for timing samples: spread, speedup confidence intervals, scaling fits.

Standard library only. pyperf timings come in groups: one group of values per
worker process, and values from the same process share its memory layout,
hash seed and the machine's load at that moment, so they vary less among
themselves than between processes. The bootstrap here is therefore two-stage
(resample processes, then values inside each resampled process): a confidence
interval built from pooled values alone would be too narrow and would call
run-to-run noise "significant". When the two sides' processes ran back to back
in pairs (Python, Rust, Rust, Python, ...), the bootstrap draws pairs, so load
that hit both sides of a pair cancels in their ratio instead of widening it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import fmean, median, stdev
from typing import Sequence

CONFIDENCE = 0.95
RESAMPLES = 2000
# Two-sided Student t quantiles at 97.5% for 1..10 degrees of freedom (the
# exponent CI of a log-log fit over a handful of sizes); past 10, 1.96 + 2.4/df
# is within 0.01 of the table.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)

Groups = Sequence[Sequence[float]]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between order statistics."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def describe(values: Sequence[float]) -> dict[str, float | int]:
    """Median and spread of `values` (same unit in and out): median, p25, p75, MAD, min, max,
    mean, standard deviation, count. Median and IQR lead because timings are skewed."""
    if not values:
        raise ValueError("describe() needs at least one value")
    mid = median(values)
    return {
        "median": mid,
        "p25": percentile(values, 25),
        "p75": percentile(values, 75),
        "mad": median([abs(v - mid) for v in values]),
        "min": min(values),
        "max": max(values),
        "mean": fmean(values),
        "stdev": stdev(values) if len(values) > 1 else 0.0,
        "count": len(values),
    }


def _flatten(groups: Groups) -> list[float]:
    return [v for group in groups for v in group]


def _clean(groups: Groups, what: str) -> list[list[float]]:
    cleaned = [list(g) for g in groups if len(g) > 0]
    if not cleaned:
        raise ValueError(f"{what}: no values")
    return cleaned


def _pooled_median(groups: list[list[float]], picks: list[int], rng: random.Random) -> float:
    pooled: list[float] = []
    for index in picks:
        group = groups[index]
        pooled.extend(rng.choices(group, k=len(group)))
    return median(pooled)


def _resampled_medians(num: list[list[float]], den: list[list[float]], rng: random.Random,
                       paired: bool) -> tuple[float, float]:
    """One bootstrap draw of (median(num), median(den)). Paired: group i of num and of den
    were measured side by side, so they are drawn together and share the moment's load."""
    num_picks = [rng.randrange(len(num)) for _ in num]
    den_picks = num_picks if paired else [rng.randrange(len(den)) for _ in den]
    return _pooled_median(num, num_picks, rng), _pooled_median(den, den_picks, rng)


def _interval(point: float, draws: list[float], confidence: float) -> "RatioCI":
    alpha = (1.0 - confidence) / 2.0
    return RatioCI(point, percentile(draws, 100 * alpha), percentile(draws, 100 * (1 - alpha)),
                   confidence)


def _checked(num: Groups, den: Groups, confidence: float,
             paired: bool) -> tuple[list[list[float]], list[list[float]]]:
    n, d = _clean(num, "numerator"), _clean(den, "denominator")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    if paired and len(n) != len(d):
        raise ValueError(f"paired groups differ in number ({len(n)} vs {len(d)})")
    if median(_flatten(d)) <= 0:
        raise ValueError("denominator median must be positive")
    return n, d


@dataclass(frozen=True)
class RatioCI:
    """ratio = median(numerator) / median(denominator), with a bootstrap CI."""

    ratio: float
    low: float
    high: float
    confidence: float

    @property
    def excludes_one(self) -> bool:
        """The interval lies wholly above or below 1: the two sides differ significantly."""
        return self.low > 1.0 or self.high < 1.0

    def significant_change(self, noise_pct: float) -> bool:
        """Significant and at least `noise_pct` percent away from 1 (a practical threshold:
        on a shared machine a real but tiny shift is not worth a red mark)."""
        return self.excludes_one and abs(self.ratio - 1.0) * 100.0 >= noise_pct


def ratio_of_medians(numerator: Groups, denominator: Groups, confidence: float = CONFIDENCE,
                     resamples: int = RESAMPLES, seed: int = 0, paired: bool = False) -> RatioCI:
    """Ratio of medians with a two-stage (process, then value) percentile bootstrap CI.

    Each argument is a list of groups (one per pyperf worker process). The
    speedup of Rust over Python is `ratio_of_medians(python, rust, paired=True)`
    when process i of each side ran back to back. The seed fixes the
    resampling, so the same data always gives the same interval.
    """
    num, den = _checked(numerator, denominator, confidence, paired)
    point = median(_flatten(num)) / median(_flatten(den))
    rng = random.Random(seed)
    draws = []
    for _ in range(resamples):
        n, d = _resampled_medians(num, den, rng, paired)
        draws.append(n / d if d > 0 else math.inf)
    return _interval(point, draws, confidence)


def ratio_of_ratios(num_a: Groups, den_a: Groups, num_b: Groups, den_b: Groups,
                    confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = 0,
                    paired: bool = False) -> RatioCI:
    """(median(num_a) / median(den_a)) / (median(num_b) / median(den_b)) with a bootstrap CI:
    how a speedup measured in run A compares with the one measured in run B."""
    na, da = _checked(num_a, den_a, confidence, paired)
    nb, db = _checked(num_b, den_b, confidence, paired)
    point = (median(_flatten(na)) / median(_flatten(da))) / (median(_flatten(nb)) / median(_flatten(db)))
    rng = random.Random(seed)
    draws = []
    for _ in range(resamples):
        a_num, a_den = _resampled_medians(na, da, rng, paired)
        b_num, b_den = _resampled_medians(nb, db, rng, paired)
        draws.append((a_num / a_den) / (b_num / b_den) if a_den > 0 and b_num > 0 else math.inf)
    return _interval(point, draws, confidence)


@dataclass(frozen=True)
class PowerFit:
    """y = coefficient * x ** exponent, fitted by least squares on log-log axes."""

    exponent: float
    coefficient: float
    r2: float | None  # None with two points (a line through two points fits exactly)
    exponent_low: float | None  # 95% CI of the exponent; None with fewer than 3 points
    exponent_high: float | None
    points: int

    def predict(self, x: float) -> float:
        return self.coefficient * x ** self.exponent


def t975(df: int) -> float:
    if df < 1:
        raise ValueError("degrees of freedom must be >= 1")
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


def loglog_fit(xs: Sequence[float], ys: Sequence[float]) -> PowerFit:
    """Fit y = a * x^b. The exponent b is the scaling order: 1 linear, 2 quadratic."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    if any(not (x > 0 and y > 0) for x, y in zip(xs, ys)):
        raise ValueError("log-log fit needs positive values")
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys)]
    if len({p[0] for p in points}) < 2:
        raise ValueError("log-log fit needs at least two distinct x values")
    n = len(points)
    mx = fmean(p[0] for p in points)
    my = fmean(p[1] for p in points)
    sxx = sum((p[0] - mx) ** 2 for p in points)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in points)
    slope = sxy / sxx
    intercept = my - slope * mx
    if n < 3:
        return PowerFit(slope, math.exp(intercept), None, None, None, n)
    residual = sum((p[1] - (intercept + slope * p[0])) ** 2 for p in points)
    total = sum((p[1] - my) ** 2 for p in points)
    r2 = 1.0 - residual / total if total > 0 else 1.0
    se = math.sqrt(residual / (n - 2) / sxx)
    half = t975(n - 2) * se
    return PowerFit(slope, math.exp(intercept), r2, slope - half, slope + half, n)


def fitted_crossover(slow: PowerFit, fast: PowerFit) -> float | None:
    """The x at which the two fitted curves cross (None when they are parallel).

    Below it (when `slow` grows faster than `fast`) the "fast" side stops winning.
    An extrapolation when it lies outside the measured range: callers say so.
    """
    if math.isclose(slow.exponent, fast.exponent, abs_tol=1e-9):
        return None
    return (fast.coefficient / slow.coefficient) ** (1.0 / (slow.exponent - fast.exponent))
