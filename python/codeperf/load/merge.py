"""Merging the results of N load workers into one, exactly.

Histograms are HdrHistograms added bucket by bucket (the same counts as one
histogram fed every sample), counts and errors by kind are summed, per-second
timelines added bucket by bucket (workers start together, so their seconds
line up). Each worker's self-checks are kept, named `worker<k>/<check>`: one
worker that lagged or ran out of CPU makes the merged run invalid. Each
worker's own summary stays in the result (`workers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codeperf.load.loadgen import LoadResult


@dataclass
class MergedLoadResult(LoadResult):
    """A LoadResult summed over workers, which keeps each worker's result and checks."""

    workers: list[LoadResult] = field(default_factory=list)
    placements: list[dict[str, Any]] = field(default_factory=list)  # node, host, pid per worker

    @property
    def loop_cpu_pct(self) -> float | None:
        """The busiest worker's event-loop thread: each worker has its own core to saturate."""
        shares = [w.loop_cpu_pct for w in self.workers if w.loop_cpu_pct is not None]
        return max(shares) if shares else None

    def self_checks(self) -> list[dict[str, Any]]:
        return [{**check, "check": f"worker{k}/{check['check']}"}
                for k, worker in enumerate(self.workers) for check in worker.self_checks()]

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["workers"] = [
            {"worker": k, **(self.placements[k] if k < len(self.placements) else {}),
             "complete": w.complete, "stopped_by": w.stopped_by, "summary": w.summary(),
             "errors_by_kind": dict(sorted(w.errors.items())), "self_checks": w.self_checks(),
             "valid": w.valid}
            for k, w in enumerate(self.workers)]
        return data


def merge_results(results: list[LoadResult], placements: list[dict[str, Any]] | None = None
                  ) -> MergedLoadResult:
    """One result for the whole run from the workers' results (in worker order)."""
    if not results:
        raise ValueError("nothing to merge")
    merged = MergedLoadResult(workers=list(results), placements=list(placements or []))
    first = results[0]
    merged.model = first.model
    merged.config = {**first.config, "workers": len(results)}
    merged.thresholds = dict(first.thresholds)
    for r in results:
        merged.latency.merge(r.latency)
        merged.service.merge(r.service)
        merged.schedule_lag.merge(r.schedule_lag)
        merged.errors.update(r.errors)
        merged.sent += r.sent
        merged.ok += r.ok
        merged.sent_on_schedule += r.sent_on_schedule
        merged.loop_cpu_s += r.loop_cpu_s
        merged.process_cpu_s += r.process_cpu_s
        if r.loop_wait_s is not None:  # summed over the workers' loop threads
            merged.loop_wait_s = (merged.loop_wait_s or 0.0) + r.loop_wait_s
            merged.loop_wakeups = (merged.loop_wakeups or 0) + (r.loop_wakeups or 0)
        merged.max_in_flight += r.max_in_flight  # an upper bound: the peaks need not coincide
        for series, buckets in r.timeline.items():
            total = merged.timeline.setdefault(series, [])
            if len(buckets) > len(total):
                total.extend([0] * (len(buckets) - len(total)))
            for i, n in enumerate(buckets):
                total[i] += n
    offered = [r.offered for r in results]
    merged.offered = None if any(o is None for o in offered) else sum(offered)  # type: ignore[arg-type]
    merged.elapsed_s = max(r.elapsed_s for r in results)
    merged.send_window_s = max(r.send_window_s for r in results)
    merged.complete = all(r.complete for r in results)
    stops = [r.stopped_by for r in results]
    merged.stopped_by = ("interrupted" if "interrupted" in stops
                         else next((s for s in stops if s != "budget"), stops[0]))
    merged.stop_reason = next((r.stop_reason for r in results if r.stop_reason), None)
    return merged
