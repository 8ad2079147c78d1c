"""The Circle of Experts load scenarios (the seed's list), registered for scripts/load_scenarios.py.

Each sends real HTTP requests to the experts in `ctx.experts` (by default the
bundled simulator) and runs the real engine on the answers. Sizes come from
`_param`: the quick value, the full value, or `ctx.options[key]` when given;
each scenario declares the option keys it reads (checked before anything runs).
Before each run a scenario hands the generator a `LoadResult` it owns and
registers with `ctx.watch` how to build its entry, so a failure or Ctrl-C
mid-run still records what was measured (as a partial entry).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

import aiohttp

from codeperf.load.calibration import run_calibration
from codeperf.experts.config import Expert
from codeperf.load.pooltrace import PoolTrace
from codeperf.load import wiretrace
from codeperf.load.querystats import QueryStats
from codeperf.load.wiretrace import WireTrace
from codeperf.harness.request_errors import classify_error
from codeperf.load import expert_workers, loadgen, schedules
from codeperf.harness.latency import LatencyHistogram
from codeperf.load.loadgen import LoadResult
from codeperf.load.registry import (Float, Int, IntList, ScenarioContext, ScenarioOutcome,
                                        Text, scenario)


def _param(ctx: ScenarioContext, key: str, quick: Any, full: Any) -> Any:
    return ctx.options.get(key, quick if ctx.quick else full)


# Re-open a burst's connections this long before each spike after the first. A spike's
# slowest expert request per query is cancelled at quorum, which closes its connection,
# so without this every later spike made ~1 TCP handshake per query on the generator's
# loop inside its 100 ms window (docs/load.md, "The burst's last sends").
REWARM_LEAD_S = 1.0
# A spike's sends are waited for by yielding for their last 2 ms, not by the loop's
# millisecond timers: with timers the last send of a 100 ms spike (due at 99.7 ms)
# left at 101-108 ms on an otherwise idle loop (loadgen.run_open's `precise_s`).
BURST_PRECISE_S = 0.002


def _session(limit: int, trace: PoolTrace | aiohttp.TraceConfig | None = None
             ) -> aiohttp.ClientSession:
    # No session-wide timeout: each expert call has its own budget (orchestrator).
    config = trace.config if isinstance(trace, PoolTrace) else trace
    # No cookie jar: experts are APIs, and the jar's lookup ran for every request sent.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit),
                                 timeout=aiohttp.ClientTimeout(total=None),
                                 cookie_jar=aiohttp.DummyCookieJar(),
                                 trace_configs=[config] if config else None)


def _pool_for(ctx: ScenarioContext, concurrent_queries: int) -> int:
    """Enough connections for every expert of every query in flight: the pool is not the test here."""
    return max(100, concurrent_queries * len(ctx.experts.experts))


def _stats(ctx: ScenarioContext) -> QueryStats:
    """Per-query statistics judged against the run's SLO (--slo and the experts file's [slo])."""
    return QueryStats(ctx.experts, ctx.slo)


def _entry(ctx: ScenarioContext, entry_id: str, load: LoadResult, stats: QueryStats,
           summary: dict[str, Any], **extra: Any) -> dict[str, Any]:
    ctx.add_validity(f"generator/{entry_id}", load.valid, load.self_checks())
    return _raw_entry(entry_id, load, stats, summary, **extra)


def _raw_entry(entry_id: str, load: LoadResult, stats: QueryStats, summary: dict[str, Any],
               **extra: Any) -> dict[str, Any]:
    return {"id": entry_id, "kind": "scenario", "backend": stats.backend,
            "summary": {**summary, **stats.summary(), **stats.token_summary(load.elapsed_s)},
            "histogram": load.latency.to_dict(), "valid": load.valid, "load": load.to_dict(),
            "queries": stats.to_dict(load.elapsed_s), **extra}


def _watch_load(ctx: ScenarioContext, entry_id: str, load: LoadResult, stats: QueryStats,
                **extra: Any) -> None:
    """If the scenario stops during (or after) this run, record the run as it stands."""
    ctx.watch(lambda: _raw_entry(entry_id, load, stats, _latency_summary(load), **extra))


def _latency_summary(load: LoadResult) -> dict[str, Any]:
    s = load.summary()
    keys = ("requests_count", "ok_count", "errors_count", "error_rate_pct", "duration_s",
            "throughput_rps", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms")
    return {k: s[k] for k in keys}


@scenario("calibration", "fixed-latency accuracy and the stall test (results go to validity)",
          needs_experts=False,
          options={"calibration_requests": Int(min=2, help="0 ms model requests (quick 40, full 100); the 50 ms model gets half, at least 20")})
async def calibration(ctx: ScenarioContext) -> dict[str, Any]:
    if ctx.simulator_url is None:
        raise RuntimeError("calibration needs the bundled simulator")
    return await run_calibration(ctx)


@scenario("single-query", "sequential queries: average and p95 end to end",
          options={"queries": Int(help="queries, one after another (quick 5, full 20)")})
async def single_query(ctx: ScenarioContext) -> dict[str, Any]:
    n = int(_param(ctx, "queries", 5, 20))
    stats, load = _stats(ctx), LoadResult()
    entry_id = f"single-query/sequential-{n}"
    _watch_load(ctx, entry_id, load, stats)
    async with _session(_pool_for(ctx, 1)) as session:
        await loadgen.run_closed(stats.op(session), concurrency=1, max_requests=n, result=load,
                                 progress=ctx.progress)
    return _entry(ctx, entry_id, load, stats, _latency_summary(load))


@scenario("batch", "queries in concurrent batches, back to back: queries per second",
          options={"batch_size": Int(help="queries per batch (20)"),
                   "batches": Int(help="batches (quick 3, full 10)")})
async def batch(ctx: ScenarioContext) -> dict[str, Any]:
    size = int(_param(ctx, "batch_size", 20, 20))
    batches = int(_param(ctx, "batches", 3, 10))
    stats = _stats(ctx)
    latency = LatencyHistogram()
    errors: dict[str, int] = {}
    t0 = time.perf_counter()
    done = {"batches": 0, "elapsed_s": 0.0}

    def entry() -> dict[str, Any]:
        # Also the partial entry: counts only what finished (a batch cut short counts its answers).
        elapsed = done["elapsed_s"] or time.perf_counter() - t0
        ok = latency.count
        total = ok + sum(errors.values())
        summary = {"queries_count": total, "ok_count": ok, "errors_count": total - ok,
                   "error_rate_pct": 100.0 * (total - ok) / total if total else None,
                   "duration_s": elapsed, "throughput_rps": ok / elapsed if elapsed > 0 else None,
                   "batches_done_count": done["batches"],
                   **{k: v for k, v in latency.summary().items() if k != "count"},
                   **stats.summary()}
        return {"id": f"batch/{batches}x{size}", "kind": "scenario", "backend": stats.backend,
                "summary": {**summary, **stats.token_summary(elapsed)},
                "histogram": latency.to_dict(), "errors_by_kind": errors,
                "queries": stats.to_dict(elapsed)}

    ctx.watch(entry)
    async with _session(_pool_for(ctx, size)) as session:
        op = stats.op(session)

        async def timed(i: int) -> None:
            start = time.perf_counter()
            try:
                await op(i)
            except Exception as exc:
                kind = classify_error(exc)
                errors[kind] = errors.get(kind, 0) + 1
            else:
                latency.record_seconds(time.perf_counter() - start)

        for b in range(batches):
            await asyncio.gather(*(timed(b * size + j) for j in range(size)))
            done["batches"] = b + 1
            ctx.progress(f"batch {b + 1}/{batches}: {latency.count} ok")
        done["elapsed_s"] = time.perf_counter() - t0
    return entry()


@scenario("concurrent-queries", "N Circle of Experts queries in flight at once, each to every expert",
          options={"levels": IntList(help="queries in flight, one run per level (quick [100], "
                                          "full [50,100,200])"),
                   "rounds": Int(help="queries per worker (quick 1, full 2)")})
async def concurrent_queries(ctx: ScenarioContext) -> ScenarioOutcome:
    # The generator's own in-flight count is N as soon as N workers start, sent or
    # not: "N at once" is judged on what was measured on the wire instead, from
    # both ends (wiretrace): queries with all their requests on the wire at once
    # (client), and the requests the endpoint itself served at once.
    levels = [int(x) for x in _param(ctx, "levels", [100], [50, 100, 200])]
    rounds = int(_param(ctx, "rounds", 1, 2))
    base_urls = [e.base_url for e in ctx.experts.experts]
    per_endpoint = {url: base_urls.count(url) for url in base_urls}
    entries, best = [], None
    for level in levels:
        stats, load = _stats(ctx), LoadResult()
        wire = WireTrace(len(base_urls))
        _watch_load(ctx, f"concurrent-queries/{level}", load, stats, concurrency_count=level)
        async with _session(_pool_for(ctx, level)) as admin:
            await wiretrace.reset_endpoint_peaks(admin, base_urls)
        async with _session(_pool_for(ctx, level), wire.config) as session:
            await loadgen.run_closed(wire.wrap(stats.op(session)), concurrency=level,
                                     result=load, max_requests=level * rounds,
                                     progress=ctx.progress)
        async with _session(_pool_for(ctx, level)) as admin:
            peaks = await wiretrace.endpoint_peaks(admin, base_urls)
        at_endpoint = wiretrace.endpoint_queries(peaks, per_endpoint)
        # Both ends must show it, and only a level without errors counts.
        confirmed = (min(wire.max_queries_on_wire, at_endpoint)
                     if at_endpoint is not None and load.errors_total == 0 and load.ok > 0
                     else None)
        summary = {**_latency_summary(load), "concurrency_count": level,
                   "max_in_flight_count": load.max_in_flight,
                   "queries_on_wire_max_count": wire.max_queries_on_wire,
                   "endpoint_requests_max_count": (sum(p for p in peaks.values() if p is not None)
                                                   if at_endpoint is not None else None),
                   "endpoint_queries_min_count": at_endpoint,
                   "confirmed_concurrent_queries_count": confirmed}
        entries.append(_entry(ctx, f"concurrent-queries/{level}", load, stats, summary,
                              endpoint_peaks=peaks))
        ctx.progress(f"{level} concurrent: {load.ok}/{load.sent} ok, p95 "
                     f"{summary['p95_ms'] or float('nan'):.0f} ms; all requests on the wire at "
                     f"once: {wire.max_queries_on_wire} queries; endpoint served "
                     f"{summary['endpoint_requests_max_count'] if at_endpoint is not None else 'not measured'}"
                     f" requests at once")
        if confirmed is not None:
            best = max(best or 0, confirmed)
    # None (not measured) when no level had an endpoint that reports its peak.
    summary = {"confirmed_concurrent_queries_count": best, "levels_count": len(levels)}
    entries.insert(0, {"id": "concurrent-queries/summary", "kind": "scenario",
                       "summary": summary, "levels": levels, "rounds": rounds})
    return ScenarioOutcome(entries, summary)


@scenario("connection-pool", "many concurrent connections through aiohttp's pool at several limits",
          options={"pool_limits": IntList(help="connector limits, one run each (quick "
                                               "[100,200,400], full [50,100,200,400])"),
                   "pool_callers": Int(help="concurrent callers (400)"),
                   "pool_duration_s": Float(min=0.01, help="seconds of sending per limit "
                                                           "(quick 1, full 5)"),
                   "pool_model": Text(help="simulator model that holds each request "
                                           "(pool-hold-500ms)")})
async def connection_pool(ctx: ScenarioContext) -> ScenarioOutcome:
    if ctx.simulator_url is None:
        raise RuntimeError("connection-pool runs against the bundled simulator")
    # Quick mode drops the 50 limit: its 400 callers queue 4 s for the pool after the
    # first wave (400 x 0.5 s / 50) whatever the duration, and 100 and 200 already show
    # queueing below the caller count while 400 shows 400 connections held at once.
    limits = [int(x) for x in _param(ctx, "pool_limits", [100, 200, 400], [50, 100, 200, 400])]
    callers = int(_param(ctx, "pool_callers", 400, 400))
    # Full: 5 s per limit (was 10): a 500 ms hold turns the 400 callers over ten times,
    # enough for the held-connections peak and the pool-wait tail (make perf's budget).
    duration = float(_param(ctx, "pool_duration_s", 1.0, 5.0))
    hold_model = str(_param(ctx, "pool_model", "pool-hold-500ms", "pool-hold-500ms"))
    expert = Expert("pool", ctx.simulator_url, hold_model, timeout_s=30.0, max_retries=0)
    entries, rows = [], []
    for limit in limits:
        trace, load = PoolTrace(), LoadResult()
        ctx.watch(_pool_entry_builder(limit, callers, trace, load))
        async with _session(limit, trace) as session:

            async def op(i: int) -> None:
                token = trace.token()
                try:
                    await _plain_request(session, expert, token)
                finally:
                    trace.release(token)

            await loadgen.run_closed(op, concurrency=callers, duration_s=duration, result=load,
                                     progress=ctx.progress)
        summary = {**_latency_summary(load), "pool_limit_count": limit,
                   "callers_count": callers, **trace.summary()}
        ctx.add_validity(f"generator/connection-pool/{limit}", load.valid, load.self_checks())
        entries.append({"id": f"connection-pool/limit-{limit}", "kind": "sweep",
                        "summary": summary, "histogram": load.latency.to_dict(),
                        "load": load.to_dict(), "pool": trace.to_dict(), "valid": load.valid})
        rows.append(summary)
        ctx.progress(f"limit {limit}: {trace.max_held} connections held at once, "
                     f"{load.ok}/{load.sent} ok, pool wait p99 "
                     f"{summary['pool_wait_p99_ms'] or 0:.0f} ms, p99 {summary['p99_ms'] or 0:.0f} ms")
    # Where it breaks: below some limit callers queue for the pool (latency breaks);
    # above some limit the server or the OS refuse (errors break).
    ok_rows = [r for r in rows if (r["error_rate_pct"] or 0) < 1.0 and r["ok_count"]]
    best_p99 = min((r["p99_ms"] for r in ok_rows if r["p99_ms"] is not None), default=None)
    healthy = [r["pool_limit_count"] for r in ok_rows
               if best_p99 is not None and r["p99_ms"] is not None and r["p99_ms"] <= 2 * best_p99]
    erroring = [r["pool_limit_count"] for r in rows if r not in ok_rows]
    summary = {"max_ok_connections_count": max((r["max_held_connections_count"] for r in ok_rows),
                                               default=0),
               "latency_ok_from_limit_count": min(healthy, default=None),
               "errors_from_limit_count": min(erroring, default=None),
               "hold_ms": _hold_ms(hold_model)}
    entries.insert(0, {"id": "connection-pool/summary", "kind": "scenario", "summary": summary,
                       "limits": limits, "callers": callers, "model": hold_model})
    return ScenarioOutcome(entries, summary)


def _pool_entry_builder(limit: int, callers: int, trace: PoolTrace, load: LoadResult
                        ) -> Callable[[], dict[str, Any]]:
    """The entry of one pool limit as measured so far (recorded if the scenario stops)."""
    def build() -> dict[str, Any]:
        return {"id": f"connection-pool/limit-{limit}", "kind": "sweep",
                "summary": {**_latency_summary(load), "pool_limit_count": limit,
                            "callers_count": callers, **trace.summary()},
                "histogram": load.latency.to_dict(), "load": load.to_dict(),
                "pool": trace.to_dict(), "valid": load.valid}

    return build


def _hold_ms(model: str) -> float | None:
    from codeperf.experts.simulator import CALIBRATION_MODELS

    return next((m.ttft_median_ms for m in CALIBRATION_MODELS if m.name == model), None)


async def _plain_request(session: aiohttp.ClientSession, expert: Expert, token: Any) -> None:
    """One non-streaming chat completion, body read, connection back to the pool."""
    body = {"model": expert.model, "messages": [{"role": "user", "content": "ping"}]}
    # Redirects are not followed (they could leave loopback) and count as errors.
    async with session.post(expert.completions_url, json=body, trace_request_ctx=token,
                            allow_redirects=False) as resp:
        resp.raise_for_status()
        if resp.status >= 300:
            raise aiohttp.ClientResponseError(resp.request_info, resp.history, status=resp.status,
                                              message="redirect not followed")
        await resp.read()


@scenario("burst", "idle, then hundreds of queries within 100 ms, repeated: drain time and spike latency",
          options={"burst_size": Int(help="queries per burst (150)"),
                   "bursts": Int(help="bursts (quick 2, full 3)"),
                   "burst_every_s": Float(min=0.01, help="seconds between burst starts "
                                                         "(quick 4, full 5)"),
                   "burst_spread_s": Float(help="seconds one burst is spread over (0.1)"),
                   "idle_s": Float(help="idle seconds between baseline and bursts "
                                        "(quick 0.5, full 2)"),
                   "baseline_queries": Int(help="sequential queries for the baseline latency "
                                                "(quick 3, full 10)"),
                   "burst_precise_s": Float(max=0.5, help="wait for each send's last stretch by "
                                                 "yielding, not a millisecond timer "
                                                 f"({BURST_PRECISE_S:g}; 0: timers only)"),
                   "burst_rewarm_s": Float(help="re-open the spike's connections this long "
                                                f"before each later spike ({REWARM_LEAD_S:g}; "
                                                "0: do not)")},
          workers=True)
async def burst(ctx: ScenarioContext) -> dict[str, Any]:
    # The sends of a burst must leave within its 100 ms (the schedule-lag check). Two
    # things made them late in 2 of 3 quick runs on a quiet machine (lag p99 145-208 ms),
    # both the generator's, not the target's: a full garbage collection of this
    # process (45-290 ms; run_open now pauses the collector) and a TCP handshake per
    # expert request on a cold pool. The pool is opened before the idle period
    # (`_open_connections`), so a 150-query burst now costs the event loop 20-50 ms
    # of CPU time in its 100 ms window (measured with time.thread_time; docs/load.md).
    # The lag limit is the spread alone, never 5 % of latency p50: a 300-query spike
    # (p50 > 2 s) would otherwise pass at lag p99 up to 125 ms in a 100 ms window.
    # At 500 (and at 3 x 200 with a cold pool) the sends ran past the window and
    # the run was rightly marked invalid. Larger spikes: -o burst_size=N on a bigger
    # machine; the lag check says whether it kept up.
    size = int(_param(ctx, "burst_size", 150, 150))
    count = int(_param(ctx, "bursts", 2, 3))
    # Quick: 4 s apart (was 2.5): the first spike's answers were still streaming in
    # when the second was due (drain_max 2.66-2.75 s in quiet quick runs on
    # 2026-12-03), so the second spike's sends waited behind their processing and
    # its schedule lag p99 reached 109 ms (limit 100) in 1 of 3 runs; 4 s leaves
    # the loop idle for over a second before the next spike.
    # Full: 5 s apart (was 10): a burst drains in 1.5-3 s here, so the system is
    # still idle for 2 s or more before the next spike.
    every = float(_param(ctx, "burst_every_s", 4.0, 5.0))
    spread = float(_param(ctx, "burst_spread_s", 0.1, 0.1))
    idle = float(_param(ctx, "idle_s", 0.5, 2.0))
    baseline_n = int(_param(ctx, "baseline_queries", 3, 10))
    rewarm_s = float(_param(ctx, "burst_rewarm_s", REWARM_LEAD_S, REWARM_LEAD_S))
    precise_s = float(_param(ctx, "burst_precise_s", BURST_PRECISE_S, BURST_PRECISE_S))
    entry_id = f"burst/{count}x{size}-in-{int(spread * 1000)}ms"
    baseline, base = _stats(ctx), LoadResult()
    stats, load = _stats(ctx), LoadResult()
    held: list[Any] = []  # the workers' results, when the spikes run on workers

    def partial() -> dict[str, Any]:
        spike, spike_stats = expert_workers.merged(held) if held else (load, stats)
        return _raw_entry(entry_id, spike, spike_stats, _latency_summary(spike),
                          baseline_histogram=base.latency.to_dict(), baseline_load=base.to_dict())

    ctx.watch(partial)
    async with _session(_pool_for(ctx, 1)) as session:
        await loadgen.run_closed(baseline.op(session), concurrency=1, max_requests=baseline_n,
                                 result=base)
    schedule = schedules.burst(size, every, spread_s=spread)
    if ctx.workers is not None:  # each worker warms the connections of its share of a spike
        n = ctx.workers.workers
        load, stats, t0 = await expert_workers.run_open(
            ctx, schedule, pool=_pool_for(ctx, size), warm_queries=-(-size // n),
            rewarm=Rewarm(size, count, every, rewarm_s), start_in_s=idle,
            max_requests=size * count, duration_s=every * count,
            max_lag_p99_ms=max(10.0, spread * 1000), max_lag_share_of_p50=0.0, held=held,
            precise_s=precise_s)
        warm = stats.warm_connections
    else:
        async with _session(_pool_for(ctx, size)) as session:
            warm = await _open_connections(session, ctx.experts, size)
            await asyncio.sleep(idle)
            t0 = time.perf_counter()
            async with Rewarm(size, count, every, rewarm_s).around(
                    stats.op(session), session, ctx.experts, size) as (op, rewarmed):
                await loadgen.run_open(op, schedule, max_requests=size * count,
                                       duration_s=every * count, progress=ctx.progress,
                                       result=load, max_lag_p99_ms=max(10.0, spread * 1000),
                                       max_lag_share_of_p50=0.0, precise_s=precise_s)
            stats.rewarmed_connections = rewarmed
    drains, last_sends = [], []
    for k in range(count):
        spike = range(k * size, (k + 1) * size)
        ends = [stats.end_times[i] for i in spike if i in stats.end_times]
        drains.append((max(ends) - (t0 + k * every)) * 1000.0 if ends else None)
        # When the spike's last query left, from the spike's start, whichever worker sent
        # it (one clock): "the whole spike left within its window" is this <= the spread.
        sends = [stats.send_times[i] for i in spike if i in stats.send_times]
        last_sends.append((max(sends) - (t0 + k * every)) * 1000.0 if sends else None)
    spike_p50, base_p50 = load.latency.percentile_ms(50), base.latency.percentile_ms(50)
    summary = {**_latency_summary(load), "burst_size_count": size, "bursts_count": count,
               "drain_max_ms": max((d for d in drains if d is not None), default=None),
               "spike_last_send_max_ms": max((t for t in last_sends if t is not None),
                                             default=None),
               "baseline_p50_ms": base_p50,
               "baseline_errors_count": base.errors_total,
               "spike_p50_ms": spike_p50,
               "spike_vs_baseline_p50_x": (spike_p50 / base_p50
                                           if spike_p50 is not None and base_p50 else None),
               "warm_connections_count": warm,
               "rewarmed_connections": list(getattr(stats, "rewarmed_connections", [])),
               "rewarm_lead_s": rewarm_s}
    return _entry(ctx, entry_id, load, stats, summary,
                  drain_ms=drains, spike_last_send_ms=last_sends,
                  baseline_histogram=base.latency.to_dict())


@dataclass(frozen=True)
class Rewarm:
    """When to re-open a process's share of a spike's connections: `lead_s` before every
    spike after the first of `spikes` spikes of `size` queries, `every_s` apart."""

    size: int
    spikes: int
    every_s: float
    lead_s: float

    @contextlib.asynccontextmanager
    async def around(self, op: Any, session: aiohttp.ClientSession, experts: Any, queries: int
                     ) -> AsyncIterator[tuple[Any, list[int]]]:
        """`op` that, at its first send of a spike, plans the re-warm for the next one;
        yields it and the list of connections each re-warm found open (filled as they
        run). Pending re-warms are cancelled when the block ends."""
        opened: list[int] = []
        seen: set[int] = set()
        tasks: set[asyncio.Task] = set()
        delay = self.every_s - self.lead_s

        async def rewarm_after(seconds: float) -> None:
            await asyncio.sleep(seconds)
            # Held at most half the lead, so they are back in the pool before the spike.
            opened.append(await _open_connections(session, experts, queries,
                                                  timeout_s=self.lead_s / 2))

        async def wrapped(i: int) -> Any:
            spike = i // self.size
            if spike not in seen:
                seen.add(spike)
                if self.lead_s > 0 and delay > 0 and spike + 1 < self.spikes:
                    task = asyncio.ensure_future(rewarm_after(delay))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            return await op(i)

        try:
            yield wrapped, opened
        finally:
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)


async def _open_connections(session: aiohttp.ClientSession, experts: Any, queries: int,
                            timeout_s: float = 10.0) -> int:
    """Open one keep-alive connection per expert request of `queries` concurrent queries.

    Every request holds its connection until all have answered, so each needs its
    own; they then go back to the pool, and a burst's sends reuse them instead of
    making TCP handshakes on the generator's event loop. Any answer will do (a 401
    or 404 still leaves an open connection). Returns how many were opened.
    """
    urls = [e.base_url.rstrip("/") + "/models" for e in experts.experts] * queries
    opened = 0
    all_open, release = asyncio.Event(), asyncio.Event()
    answered: set[asyncio.Task] = set()

    async def hold(url: str) -> None:
        nonlocal opened
        async with session.get(url) as resp:
            opened += 1
            answered.add(asyncio.current_task())  # type: ignore[arg-type]
            if opened == len(urls):
                all_open.set()
            await release.wait()
            await resp.read()

    tasks = [asyncio.ensure_future(hold(u)) for u in urls]
    try:
        await asyncio.wait_for(all_open.wait(), timeout_s)
    except asyncio.TimeoutError:
        # Fewer connections: the burst opens the rest itself, as before. Those still
        # connecting are cancelled, so none opens later, inside a spike.
        for task in tasks:
            if task not in answered:
                task.cancel()
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return opened


@scenario("sustained", "open-model constant rate: throughput, tail latency, error rate",
          options={"rate_rps": Float(min=0.001, help="offered queries per second (60)"),
                   "duration_s": Float(min=0.01, help="seconds (quick 8, full 30)"),
                   "arrivals": Text("constant", "poisson", help="arrival process")},
          workers=True)
async def sustained(ctx: ScenarioContext) -> dict[str, Any]:
    # 60/s, not 50: the seed's target is "> 50/s", which an offered 50/s can never show.
    rate = float(_param(ctx, "rate_rps", 60.0, 60.0))
    # Quick: 8 s (480 queries at 60/s) keeps the seed's p95 and error-rate targets
    # meaningful while the whole quick suite stays within its budget.
    # Full: 30 s (was 60): 1,800 queries put 18 samples above p99, and the quick run's
    # 480 already judge the seed's p95 and error-rate targets (make perf's budget).
    duration = float(_param(ctx, "duration_s", 8.0, 30.0))
    arrivals = str(_param(ctx, "arrivals", "constant", "constant"))
    schedule = schedules.poisson(rate) if arrivals == "poisson" else schedules.constant(rate)
    stats, load = _stats(ctx), LoadResult()
    entry_id = f"sustained/open-{rate:g}rps-{arrivals}"
    if ctx.workers is not None:
        held: list[Any] = []
        ctx.watch(lambda: _raw_entry(entry_id, *expert_workers.merged(held),
                                     _latency_summary(expert_workers.merged(held)[0]))
                  if held else None)
        load, stats, _ = await expert_workers.run_open(
            ctx, schedule, pool=_pool_for(ctx, int(rate * 4)), duration_s=duration, held=held)
    else:
        _watch_load(ctx, entry_id, load, stats)
        # In-flight queries ~ rate x latency; size the pool for a stall's worth of backlog.
        async with _session(_pool_for(ctx, int(rate * 4))) as session:
            await loadgen.run_open(stats.op(session), schedule, duration_s=duration, result=load,
                                   progress=ctx.progress)
    summary = {**_latency_summary(load), "offered_rps": load.summary()["offered_rps"],
               "schedule_lag_p99_ms": load.schedule_lag.percentile_ms(99)}
    return _entry(ctx, entry_id, load, stats, summary)

