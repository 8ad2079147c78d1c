"""The statistics the baseline comparison needs, with the standard library only.

The Mann-Whitney U test compares two sets of pyperf timings without assuming
they are normal (timings are skewed: a run is never faster than the machine
allows, only slower). Small samples without ties use the exact distribution of
U; otherwise the normal approximation with tie and continuity corrections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median
from typing import Sequence

# Up to this many (n1 * n2) pairs the exact null distribution of U is computed.
EXACT_LIMIT = 10_000


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U of the first sample: the number of pairs (x, y) with x > y, ties counting 1/2
    p_value: float  # two-sided
    method: str  # "exact" or "normal"


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Mid-ranks (1-based) of `values` and the sizes of the tie groups."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mid = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = mid
        ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def _u_distribution(n1: int, n2: int) -> list[int]:
    """Counts of each U value 0..n1*n2 over all C(n1+n2, n1) orderings.

    They are the coefficients of the Gaussian binomial [n1+n2 choose n1]_q =
    prod_{i=1..n1} (1 - q^(n2+i)) / (1 - q^i), computed exactly in integers.
    """
    size = n1 * n2 + 1
    poly = [0] * size
    poly[0] = 1
    for i in range(1, n1 + 1):
        grow = n2 + i
        for k in range(size - 1, grow - 1, -1):  # multiply by (1 - q^grow)
            poly[k] -= poly[k - grow]
        for k in range(i, size):  # divide by (1 - q^i): a running sum with stride i
            poly[k] += poly[k - i]
    return poly


def mann_whitney_u(x: Sequence[float], y: Sequence[float]) -> MannWhitney:
    """Two-sided Mann-Whitney U test of x against y."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one value")
    ranks, ties = _ranks(list(x) + list(y))
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    has_ties = any(t > 1 for t in ties)
    if not has_ties and n1 * n2 <= EXACT_LIMIT:
        counts = _u_distribution(n1, n2)
        total = sum(counts)
        k = int(round(u1))
        lower = sum(counts[: k + 1]) / total
        upper = sum(counts[k:]) / total
        return MannWhitney(u1, min(1.0, 2 * min(lower, upper)), "exact")
    n = n1 + n2
    mean_u = n1 * n2 / 2
    tie_term = sum(t ** 3 - t for t in ties) / (n * (n - 1))
    variance = n1 * n2 / 12 * ((n + 1) - tie_term)
    if variance <= 0:  # every value identical: no evidence of any difference
        return MannWhitney(u1, 1.0, "normal")
    z = max(0.0, abs(u1 - mean_u) - 0.5) / math.sqrt(variance)
    return MannWhitney(u1, min(1.0, math.erfc(z / math.sqrt(2))), "normal")


def median_or_none(values: Sequence[float]) -> float | None:
    return median(values) if values else None
