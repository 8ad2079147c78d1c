"""Per-query and per-expert statistics of Circle of Experts queries run under load.

`QueryStats.op(...)` makes a load-generator operation out of `consult`: it
records what each query did (time to quorum, critical-path expert, engine time,
per-expert time to first token, latency and status) and raises `RequestError`
for a failed query, so the generator counts it under its kind.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Callable

import aiohttp

from codeperf.experts.config import ExpertsConfig
from codeperf.experts.orchestrator import QueryResult, consult
from codeperf.experts.slo import Slo, SloTally
from codeperf.harness.latency import LatencyHistogram
from codeperf.harness.request_errors import RequestError


def query_text(i: int) -> str:
    """The i-th query of a run: varied, deterministic."""
    topics = ("rolling deployment", "database failover", "cache invalidation", "rate limiting",
              "blue-green release", "log retention", "secret rotation", "autoscaling policy")
    return f"Query {i}: what is the safest way to handle {topics[i % len(topics)]} for service {i % 13}?"


class QueryStats:
    def __init__(self, experts: ExpertsConfig, slo: Slo | None = None) -> None:
        self.experts = experts
        self.slo = SloTally(slo or Slo())
        # LLM token timing per expert (answers that completed): ITL holds every gap
        # between content chunks, TPOT one value per answer (codeperf.experts.tokentiming).
        self.itl = {e.name: LatencyHistogram() for e in experts.experts}
        self.tpot = {e.name: LatencyHistogram() for e in experts.experts}
        self.output_tokens = Counter()  # expert -> output tokens of completed answers
        self.tokens_source: dict[str, Counter] = {e.name: Counter() for e in experts.experts}
        self.itl_not_measurable = Counter()  # expert -> answers with fewer than two chunks
        # Per-interval end-to-end histograms (1 s, by completion time from the first
        # query), mergeable: the timeline of p50/p99 over the run.
        self.t0: float | None = None
        self.intervals: dict[int, LatencyHistogram] = {}
        self.end_to_end = LatencyHistogram()  # successful queries, consult start -> engine done
        self.time_to_quorum = LatencyHistogram()
        self.engine = LatencyHistogram()  # the engine step's wall time, thread hop included
        self.consensus_compute = LatencyHistogram()
        self.ttft = {e.name: LatencyHistogram() for e in experts.experts}
        self.expert_latency = {e.name: LatencyHistogram() for e in experts.experts}
        self.expert_status: dict[str, Counter] = {e.name: Counter() for e in experts.experts}
        self.critical_path: Counter = Counter()
        self.failures: Counter = Counter()
        self.backends: Counter = Counter()
        self.agreement: list[float] = []
        self.end_times: dict[int, float] = {}  # request index -> perf_counter at completion
        self.send_times: dict[int, float] = {}  # request index -> perf_counter when it was sent
        self.first_error: str | None = None

    def record(self, result: QueryResult, end: float | None = None) -> None:
        self.slo.record(result)
        for call in result.calls:
            self.expert_status[call.expert][call.status] += 1
            if call.status == "ok":
                self._record_tokens(call)
                if call.ttft_ms is not None:
                    self.ttft[call.expert].record_us(call.ttft_ms * 1000)
                if call.latency_ms is not None:
                    self.expert_latency[call.expert].record_us(call.latency_ms * 1000)
        if result.time_to_quorum_ms is not None:
            self.time_to_quorum.record_us(result.time_to_quorum_ms * 1000)
        if not result.ok:
            self.failures[result.error_kind or "other"] += 1
            self.first_error = self.first_error or result.error
            return
        self.end_to_end.record_us((result.total_ms or 0.0) * 1000)
        if end is not None and self.t0 is not None:
            second = max(0, int(end - self.t0))
            # Not setdefault(second, LatencyHistogram()): that builds a histogram (0.15 ms
            # of the generator's loop) for every query, then throws it away.
            interval = self.intervals.get(second)
            if interval is None:
                interval = self.intervals[second] = LatencyHistogram()
            interval.record_us((result.total_ms or 0.0) * 1000)
        self.engine.record_us((result.engine_ms or 0.0) * 1000)
        self.consensus_compute.record_us((result.consensus_compute_ms or 0.0) * 1000)
        self.critical_path[result.critical_path_expert] += 1
        self.backends[result.backend] += 1
        score = (result.consensus or {}).get("agreement_score")
        if isinstance(score, (int, float)):
            self.agreement.append(float(score))

    def _record_tokens(self, call) -> None:
        if call.itl_ms:
            for gap in call.itl_ms:
                self.itl[call.expert].record_us(gap * 1000)
        else:
            self.itl_not_measurable[call.expert] += 1
        if call.tpot_ms is not None:
            self.tpot[call.expert].record_us(call.tpot_ms * 1000)
        if call.completion_tokens is not None:
            self.output_tokens[call.expert] += call.completion_tokens
        self.tokens_source[call.expert][call.tokens_source or "none"] += 1

    def circle(self, kind: str) -> LatencyHistogram:
        """One histogram of every expert's `kind` (ttft, itl, tpot, expert_latency), merged."""
        merged = LatencyHistogram()
        for hist in getattr(self, kind).values():
            merged.merge(hist)
        return merged

    def token_summary(self, duration_s: float | None) -> dict[str, Any]:
        """Circle-wide TTFT/ITL/TPOT percentiles, output tokens/s of the run, SLO and goodput."""
        out: dict[str, Any] = {}
        for kind in ("ttft", "itl", "tpot"):
            hist = self.circle(kind)
            for p in (50, 95, 99):
                out[f"{kind}_p{p}_ms"] = hist.percentile_ms(p)
        total = sum(self.output_tokens.values())
        out["output_tokens_count"] = total
        out["output_tokens_per_s"] = total / duration_s if duration_s else None
        return {**out, **self.slo.summary(duration_s)}

    def op(self, session: aiohttp.ClientSession, *, quorum: int | None = None,
           timeout: float | None = None, query: Callable[[int], str] = query_text):
        async def one_query(i: int) -> None:
            self.send_times[i] = sent = time.perf_counter()
            if self.t0 is None:
                self.t0 = sent
            result = await consult(query(i), self.experts, quorum=quorum, timeout=timeout,
                                   session=session)
            self.end_times[i] = end = time.perf_counter()
            self.record(result, end)
            if not result.ok:
                raise RequestError(result.error_kind or "other", result.error or "")

        return one_query

    def merge(self, other: "QueryStats") -> "QueryStats":
        """Add another worker's statistics of the same circle (histograms added, counts summed).

        Query indices are global across workers (codeperf.load.partition), so
        completion times do not collide; per-second intervals are added by second
        from each worker's first query (workers start together).
        """
        self.slo.queries += other.slo.queries
        self.slo.met += other.slo.met
        self.slo.violated.update(other.slo.violated)
        for name in ("itl", "tpot", "ttft", "expert_latency"):
            mine = getattr(self, name)
            for expert, hist in getattr(other, name).items():
                mine.setdefault(expert, LatencyHistogram()).merge(hist)
        for name in ("expert_status", "tokens_source"):
            mine = getattr(self, name)
            for expert, counts in getattr(other, name).items():
                mine.setdefault(expert, Counter()).update(counts)
        for name in ("output_tokens", "itl_not_measurable", "critical_path", "failures",
                     "backends"):
            getattr(self, name).update(getattr(other, name))
        for name in ("end_to_end", "time_to_quorum", "engine", "consensus_compute"):
            getattr(self, name).merge(getattr(other, name))
        for second, hist in other.intervals.items():
            self.intervals.setdefault(second, LatencyHistogram()).merge(hist)
        self.agreement.extend(other.agreement)
        self.end_times.update(other.end_times)
        self.send_times.update(other.send_times)
        self.first_error = self.first_error or other.first_error
        return self

    @property
    def backend(self) -> str | None:
        """The engine backend that ran (the most common one; they never mix within a run)."""
        return self.backends.most_common(1)[0][0] if self.backends else None

    def summary(self) -> dict[str, Any]:
        return {
            "time_to_quorum_p50_ms": self.time_to_quorum.percentile_ms(50),
            "time_to_quorum_p95_ms": self.time_to_quorum.percentile_ms(95),
            "engine_p50_ms": self.engine.percentile_ms(50),
            "engine_p99_ms": self.engine.percentile_ms(99),
            "consensus_compute_p50_ms": self.consensus_compute.percentile_ms(50),
            "agreement_mean_x": (sum(self.agreement) / len(self.agreement)
                                 if self.agreement else None),
        }

    def to_dict(self, duration_s: float | None = None) -> dict[str, Any]:
        """Histograms per expert and for the circle; `duration_s` (the run's) for rates."""
        last = max(self.intervals, default=-1)
        return {
            "circle": {"ttft_histogram": self.circle("ttft").to_dict(),
                       "itl_histogram": self.circle("itl").to_dict(),
                       "tpot_histogram": self.circle("tpot").to_dict(),
                       "output_tokens": sum(self.output_tokens.values()),
                       "output_tokens_per_s": (sum(self.output_tokens.values()) / duration_s
                                               if duration_s else None)},
            "slo": self.slo.to_dict(duration_s),
            "intervals": {"bucket_s": 1.0, "by": "completion time from the first query",
                          "end_to_end_histograms": [
                              self.intervals[i].to_dict() if i in self.intervals else None
                              for i in range(last + 1)]},
            "end_to_end_histogram": self.end_to_end.to_dict(),
            "time_to_quorum_histogram": self.time_to_quorum.to_dict(),
            "engine_histogram": self.engine.to_dict(),
            "consensus_compute_histogram": self.consensus_compute.to_dict(),
            "experts": {name: {"status": dict(self.expert_status[name]),
                               "ttft_histogram": self.ttft[name].to_dict(),
                               "itl_histogram": self.itl[name].to_dict(),
                               "itl_not_measurable_count": self.itl_not_measurable[name],
                               "tpot_histogram": self.tpot[name].to_dict(),
                               "output_tokens": self.output_tokens[name],
                               "tokens_source": dict(self.tokens_source[name]),
                               "latency_histogram": self.expert_latency[name].to_dict()}
                        for name in self.ttft},
            "critical_path_expert": dict(self.critical_path),
            "query_failures": dict(self.failures),
            "first_error": self.first_error,
            "backends": dict(self.backends),
        }
