"""Latency histograms: HdrHistogram, kept encoded in the JSON so runs can be merged.

Values are recorded in microseconds (1 us .. 1 hour, 3 significant digits, so
any recorded value is within 0.1% of the truth). Summaries are in milliseconds.
A value above the range is counted in `overflow` and clamped to the maximum,
so it still shows in the tail instead of vanishing.
"""

from __future__ import annotations

from typing import Any, Iterable

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600 * 1_000_000
SIGNIFICANT_DIGITS = 3
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def _pkey(p: float) -> str:
    return "p" + (f"{p:g}".replace(".", ""))  # 50 -> p50, 99.9 -> p999


class LatencyHistogram:
    """Records latencies; `summary()` for tables, `to_dict()` for the envelope."""

    def __init__(self) -> None:
        self._hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
        self.overflow = 0
        # The exact sum of recorded values (the histogram's own mean walks every bucket
        # in Python and is bucket-rounded); None once merged with a histogram without one.
        self._sum_us: float | None = 0.0
        self._summary: dict[str, Any] | None = None  # cached until the next change

    # -- recording ---------------------------------------------------------
    def record_us(self, micros: float) -> None:
        value = max(LOWEST_US, int(round(micros)))
        if value > HIGHEST_US:
            self.overflow += 1
            value = HIGHEST_US
        self._hist.record_value(value)
        if self._sum_us is not None:
            self._sum_us += value
        self._summary = None

    def record_seconds(self, seconds: float) -> None:
        self.record_us(seconds * 1e6)

    def record_ns(self, nanos: int) -> None:
        self.record_us(nanos / 1000.0)

    def merge(self, other: "LatencyHistogram") -> "LatencyHistogram":
        self._hist.add(other._hist)
        self.overflow += other.overflow
        self._sum_us = (None if self._sum_us is None or other._sum_us is None
                        else self._sum_us + other._sum_us)
        self._summary = None
        return self

    # -- reading -----------------------------------------------------------
    @property
    def count(self) -> int:
        return int(self._hist.get_total_count())

    def percentile_ms(self, p: float) -> float | None:
        if self.count == 0:
            return None
        return self._hist.get_value_at_percentile(p) / 1000.0

    def count_at_or_above_ms(self, threshold_ms: float) -> int:
        """How many recorded values are >= threshold_ms (to the histogram's precision)."""
        if self.count == 0:
            return 0
        threshold_us = threshold_ms * 1000.0
        return sum(item.count_at_value_iterated_to for item in self._hist.get_recorded_iterator()
                   if item.value_iterated_to >= threshold_us)

    def summary(self) -> dict[str, Any]:
        """count, min/mean/max and the standard percentiles, in ms (None when empty)."""
        if self._summary is not None:
            return dict(self._summary)
        count = self.count
        if count == 0:
            summary: dict[str, Any] = {"count": 0, "min_ms": None, "mean_ms": None, "max_ms": None,
                                       **{f"{_pkey(p)}_ms": None for p in PERCENTILES}}
        else:
            mean_us = self._sum_us / count if self._sum_us is not None else self._hist.get_mean_value()
            # One pass over the buckets for every percentile.
            values = self._hist.get_percentile_to_value_dict(list(PERCENTILES))
            summary = {
                "count": count,
                "min_ms": self._hist.get_min_value() / 1000.0,
                "mean_ms": mean_us / 1000.0,
                "max_ms": self._hist.get_max_value() / 1000.0,
                **{f"{_pkey(p)}_ms": values[p] / 1000.0 for p in PERCENTILES},
            }
        self._summary = summary
        return dict(summary)

    def to_dict(self) -> dict[str, Any]:
        """The envelope form: the encoded histogram (HdrHistogram V2, base64) and its summary."""
        return {"unit": "us", "encoding": "hdrhistogram-v2-base64",
                "hdr": self._hist.encode().decode("ascii"), "overflow": self.overflow,
                "sum_us": self._sum_us, "summary": self.summary()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LatencyHistogram":
        if data.get("encoding") != "hdrhistogram-v2-base64":
            raise ValueError(f"unknown histogram encoding {data.get('encoding')!r}")
        hist = cls()
        hist._hist.add(HdrHistogram.decode(data["hdr"].encode("ascii")))
        hist.overflow = int(data.get("overflow", 0))
        hist._sum_us = data.get("sum_us")
        return hist

    # Pickled in its encoded form: the HdrHistogram's ctypes counts array cannot be
    # pickled, and load workers (Ray actors) send their histograms back to be merged.
    def __getstate__(self) -> dict[str, Any]:
        return {"hdr": self._hist.encode(), "overflow": self.overflow, "sum_us": self._sum_us}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
        self._hist.add(HdrHistogram.decode(state["hdr"]))
        self.overflow = state["overflow"]
        self._sum_us = state["sum_us"]

    @classmethod
    def from_values_ms(cls, values: Iterable[float]) -> "LatencyHistogram":
        hist = cls()
        for value in values:
            hist.record_us(value * 1000.0)
        return hist
