"""QueryStats under load: send and completion times per query, merged across workers,
and one interval histogram per second (not one built per query)."""

from __future__ import annotations

from codeperf.experts.orchestrator import QueryResult
from codeperf.load import querystats
from codeperf.load.querystats import QueryStats
from _experts_fixtures import circle, run, simulator


def _ok(total_ms: float) -> QueryResult:
    return QueryResult(query="q", quorum=1, calls=[], ok=True, total_ms=total_ms,
                       engine_ms=1.0, consensus_compute_ms=0.1, backend="python")


def test_interval_histograms_are_built_once_per_second(monkeypatch):
    built = []

    class Counting(querystats.LatencyHistogram):
        def __init__(self):
            built.append(1)
            super().__init__()

    experts = circle("http://127.0.0.1:9/v1", "t-fast")
    stats = QueryStats(experts)
    monkeypatch.setattr(querystats, "LatencyHistogram", Counting)
    stats.t0 = 100.0
    for end in (100.1, 100.2, 100.9, 101.5):
        stats.record(_ok(5.0), end)
    assert len(built) == 2  # seconds 0 and 1, not one per query
    assert [stats.intervals[s].count for s in (0, 1)] == [3, 1]


def test_send_times_are_recorded_per_query_and_merged():
    async def go():
        import aiohttp

        async with simulator() as sim:
            experts = circle(sim.base_url, "t-fast", "t-fast", "t-fast")
            a, b = QueryStats(experts), QueryStats(experts)
            async with aiohttp.ClientSession() as session:
                await a.op(session)(0)
                await b.op(session)(1)
            return a, b

    a, b = run(go())
    assert set(a.send_times) == {0} and set(b.send_times) == {1}
    assert a.send_times[0] <= a.end_times[0]
    merged = a.merge(b)
    assert set(merged.send_times) == {0, 1} and set(merged.end_times) == {0, 1}
