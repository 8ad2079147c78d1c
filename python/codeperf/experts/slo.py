"""Service-level objectives for Circle of Experts queries, and goodput as vLLM defines it.

    --slo ttft_ms=500 --slo e2e_ms=2000 --slo itl_ms=50      # any subset
    [slo]                                                    # or in the experts file
    ttft_ms = 500

A query meets its SLO when it succeeded and every answer of its quorum meets
every bound (vLLM's `bench serve --goodput`: a request counts toward goodput
only when it meets all the given bounds). Goodput is the number of queries
that met it per second of the run (the same denominator as throughput).

What each bound is compared with:
- `ttft_ms`: each quorum answer's time to first token. A non-streamed answer
  has no separate first token; its whole latency stands in (the first token
  came no later than that), so a slow JSON answer cannot pass unseen.
- `itl_ms`: each quorum answer's mean gap between content chunks. An answer in
  one chunk has no gap, so nothing to violate.
- `tpot_ms`: each quorum answer's time per output token after the first
  (not measurable without streaming: not judged).
- `e2e_ms`: the query end to end (sent -> engine done).
A failed query never meets the SLO; it is counted under `failed`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

BOUNDS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms")


class SloError(ValueError):
    """An SLO that names an unknown bound or a bound that is not a positive number."""


@dataclass(frozen=True)
class Slo:
    bounds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "slo") -> "Slo":
        bounds = {}
        for key, value in data.items():
            if key not in BOUNDS:
                raise SloError(f"{where}: unknown bound {key!r}; known: {', '.join(BOUNDS)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise SloError(f"{where}: {key} must be a positive number of ms, not {value!r}")
            bounds[key] = float(value)
        return cls(bounds)

    @classmethod
    def parse(cls, items: Iterable[str]) -> "Slo":
        """From `KEY=MS` strings (the --slo option)."""
        data: dict[str, Any] = {}
        for item in items:
            key, sep, raw = item.partition("=")
            if not sep:
                raise SloError(f"--slo {item!r}: expected KEY=MS, e.g. ttft_ms=500")
            try:
                data[key.strip()] = float(raw)
            except ValueError:
                raise SloError(f"--slo {item!r}: {raw!r} is not a number") from None
        return cls.from_mapping(data, "--slo")

    def merged(self, other: "Slo") -> "Slo":
        """These bounds, with `other`'s replacing any of the same name (command line over file)."""
        return Slo({**self.bounds, **other.bounds})

    def __bool__(self) -> bool:
        return bool(self.bounds)

    def violations(self, result: Any) -> list[str]:
        """The bounds a `QueryResult` violated ("failed" for a failed query); [] when it met them."""
        if not result.ok:
            return ["failed"]
        out = []
        answers = result.answered
        for key, bound in self.bounds.items():
            if key == "e2e_ms":
                bad = result.total_ms is None or result.total_ms > bound
            elif key == "ttft_ms":
                bad = any((c.ttft_ms if c.ttft_ms is not None else c.latency_ms or 0.0) > bound
                          for c in answers)
            elif key == "itl_ms":
                bad = any(c.itl_ms and sum(c.itl_ms) / len(c.itl_ms) > bound for c in answers)
            else:  # tpot_ms
                bad = any(c.tpot_ms is not None and c.tpot_ms > bound for c in answers)
            if bad:
                out.append(key)
        return out


@dataclass
class SloTally:
    """Queries that met the SLO, and violations partitioned by bound."""

    slo: Slo
    queries: int = 0
    met: int = 0
    violated: Counter = field(default_factory=Counter)  # bound -> queries violating it

    def record(self, result: Any) -> bool:
        self.queries += 1
        bad = self.slo.violations(result)
        for key in bad:
            self.violated[key] += 1
        if not bad:
            self.met += 1
        return not bad

    def summary(self, duration_s: float | None) -> dict[str, Any]:
        return {"slo_met_count": self.met,
                "slo_met_pct": 100.0 * self.met / self.queries if self.queries else None,
                "goodput_qps": self.met / duration_s if duration_s else None}

    def to_dict(self, duration_s: float | None) -> dict[str, Any]:
        return {"bounds": dict(self.slo.bounds), "queries": self.queries, "met": self.met,
                "violations_by_bound": dict(sorted(self.violated.items())),
                **self.summary(duration_s)}
