"""The rate sweep's arithmetic: which rates to offer, when a rate is over-saturated, the knee.

Pure functions and small state machines, so each rule is tested on synthetic
curves (tests/test_sweep.py); `codeperf.load.sweep_scenario` runs them
against real endpoints.

- `sweep_rates`: K constant rates evenly spaced from the synchronous rate up
  to `overshoot` x the throughput rate (GuideLLM spaces them up to the
  throughput rate; going a little past it shows the saturation).
- `Oversaturation`: stops a rate whose backlog grows without bound: over the
  last second, successes completed below 90% of the offered rate *while* the
  queries in flight rose (by 5% of a second's arrivals, at least 3), at two checks in a row (one slow second is noise,
  a backlog that keeps growing is not).
- `knee`: the highest offered rate still achieved (>= 95%) whose p95 is within
  every SLO bound, not stopped early; `best_goodput`: the valid rate, not
  stopped early, with the highest goodput.
- `theoretical_rps`: the circle's saturation from the simulator profiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

ACHIEVED_MIN = 0.95  # a rate counts as achieved when >= 95% of it completes successfully
OVERSATURATED_BELOW = 0.90  # the over-saturation stop: completions below 90% of offered ...
CHECK_EVERY_S = 0.5  # ... with in-flight rising, at two checks this far apart in a row
WINDOW_S = 1.0


def sweep_rates(sync_rps: float, throughput_rps: float, k: int, overshoot: float = 1.2
                ) -> list[float]:
    """K rates, evenly spaced, above the synchronous rate up to overshoot x throughput."""
    if k < 1:
        raise ValueError("a sweep needs at least one rate")
    top = max(throughput_rps * overshoot, sync_rps)
    return [sync_rps + (top - sync_rps) * j / k for j in range(1, k + 1)]


def refine_rate(rows: Sequence[dict[str, Any]], slo_bounds: dict[str, float]) -> float | None:
    """The midpoint between the knee and the next rate above it that failed (None: nothing to refine)."""
    best = knee(rows, slo_bounds)
    above = sorted(r["offered_rps"] for r in rows
                   if best is None or r["offered_rps"] > best["offered_rps"])
    if not above:
        return None
    low = best["offered_rps"] if best is not None else 0.0
    return (low + above[0]) / 2.0


@dataclass
class Oversaturation:
    """Feed it (t, in_flight, completed successes) as the run goes; it says when to stop."""

    offered_rps: float
    warmup_s: float
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    strikes: int = 0
    reason: str | None = None

    def observe(self, t: float, in_flight: int, done_ok: int) -> str | None:
        if self.reason is not None:
            return self.reason
        if self.samples and t - self.samples[-1][0] < CHECK_EVERY_S:
            return None
        self.samples.append((t, in_flight, done_ok))
        if t < self.warmup_s + WINDOW_S:
            return None
        # The sample closest to one window ago.
        past = min(self.samples, key=lambda s: abs(s[0] - (t - WINDOW_S)))
        span = t - past[0]
        if span <= 0:
            return None
        rate = (done_ok - past[2]) / span
        # Rising by more than noise: 5% of a second of arrivals (at least 3 queries).
        rising = in_flight - past[1] >= max(3.0, 0.05 * self.offered_rps * span)
        if rate < OVERSATURATED_BELOW * self.offered_rps and rising:
            self.strikes += 1
        else:
            self.strikes = 0
        if self.strikes >= 2:
            self.reason = (f"over-saturated at t={t:.1f} s: {rate:.1f} successes/s over the last "
                           f"{span:.1f} s against {self.offered_rps:.1f} offered, in flight "
                           f"{past[1]} -> {in_flight}")
        return self.reason


def achieved_rps(end_times_ok: Iterable[float], start: float, until: float) -> float | None:
    """Successes per second that completed in [start, until): the steady part of a run."""
    if until <= start:
        return None
    return sum(1 for t in end_times_ok if start <= t < until) / (until - start)


def completion_rate(end_times_ok: Sequence[float]) -> float | None:
    """Successes per second between the first and the last success: a closed loop's rate
    once it is serving, whatever its ramp-up and drain (None with fewer than two)."""
    if len(end_times_ok) < 2:
        return None
    span = max(end_times_ok) - min(end_times_ok)
    return (len(end_times_ok) - 1) / span if span > 0 else None


def within_slo(row: dict[str, Any], slo_bounds: dict[str, float]) -> bool:
    """Every bounded metric's p95 within its bound (a missing p95 is not within it)."""
    for key, bound in slo_bounds.items():
        p95 = row.get(key.replace("_ms", "_p95_ms"))
        if p95 is None and key == "itl_ms":
            continue  # one-chunk answers: no gap to judge (codeperf.experts.slo)
        if p95 is None or p95 > bound:
            return False
    return True


def achieved(row: dict[str, Any]) -> bool:
    got, offered = row.get("achieved_rps"), row.get("offered_rps")
    return (got is not None and offered and got >= ACHIEVED_MIN * offered
            and not row.get("oversaturated"))


def knee(rows: Sequence[dict[str, Any]], slo_bounds: dict[str, float]) -> dict[str, Any] | None:
    """The row of the highest offered rate that is achieved and within the SLO at p95."""
    good = [r for r in rows if achieved(r) and within_slo(r, slo_bounds)]
    return max(good, key=lambda r: r["offered_rps"], default=None)


def best_goodput(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The valid row (generator not the bottleneck, not stopped as over-saturated: a
    backlog growing without bound is no rate to serve at) with the highest goodput."""
    good = [r for r in rows if r.get("valid") and not r.get("oversaturated")
            and r.get("goodput_qps") is not None]
    return max(good, key=lambda r: r["goodput_qps"], default=None)


def theoretical_rps(profiles: Sequence[Any], quorum: int,
                    answer_tokens: Sequence[int | None] | None = None) -> float | None:
    """The circle's saturation rate (queries/s) from its experts' simulator profiles.

    A query needs `quorum` answers, so the circle keeps up while `quorum` of its
    experts do: its rate is the quorum-th highest per-model saturation rate
    (`simulator.saturation_rps`). None when that rate is unlimited or a profile is
    unknown (a real server).
    """
    from codeperf.experts.simulator import saturation_rps

    if any(p is None for p in profiles) or not 1 <= quorum <= len(profiles):
        return None
    tokens = list(answer_tokens or [None] * len(profiles))
    caps = sorted((saturation_rps(p, n) or float("inf") for p, n in zip(profiles, tokens)),
                  reverse=True)
    rate = caps[quorum - 1]
    return None if rate == float("inf") else rate
