"""One metric's comparison with the baseline: the shape shared by every comparison method."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

IMPROVED, REGRESSED, UNCHANGED = "improved", "regressed", "unchanged"
NOT_COMPARABLE = "not comparable"


@dataclass
class MetricComparison:
    suite: str
    id: str
    metric: str
    method: str  # paired bootstrap, bootstrap, mann-whitney, histogram, ci-overlap, threshold
    baseline: float | None
    current: float | None
    ratio: float | None  # current / baseline
    significant: bool
    status: str  # improved, regressed, unchanged, not comparable
    detail: str = ""
    # Shown for context only, never a regression: bench_rust's absolute times.
    informational: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


