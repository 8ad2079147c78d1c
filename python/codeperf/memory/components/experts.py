"""Circle of Experts queries end to end: one query's memory, leaks over many, and concurrency.

The experts are the bundled OpenAI-compatible simulator in a child process (so
its memory is not ours; its RSS is read by pid), unless `--experts FILE` names
others. The built-in circle answers in tens of milliseconds with 300-token answers:
latency does not change what a query retains, and a short one lets a leak run
make many queries. Queries run on one event loop in this thread, through one
aiohttp session (the connection pool), exactly as `consult` runs under load.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from codeperf.harness.regression import linear_fit
from codeperf.memory.context import ComponentSkipped, MemoryContext
from codeperf.memory.heaps import measure_peak, process_rss_bytes
from codeperf.memory.components.engine import partial_leak
from codeperf.memory.leaks import LeakPlan, detect_leak

QUERY = "What is the safest way to roll out a schema migration to a busy database?"
CONCURRENCY_LEVELS = (1, 10, 25, 50, 100)
CONCURRENCY_LEVELS_QUICK = (1, 25, 100)


def _imports() -> Any:
    try:
        from codeperf.experts import config, orchestrator, simulator, simulator_process
    except ImportError as exc:
        raise ComponentSkipped(f"the experts orchestrator/simulator is not importable ({exc})") from None
    return config, orchestrator, simulator, simulator_process


def builtin_circle() -> Any:
    """Three experts on the simulator, with memory-suite latency profiles."""
    config, _, simulator, _ = _imports()
    models = (simulator.ModelProfile("mem-fast", ttft_median_ms=10, tokens_per_s=20000,
                                     answer_tokens=300, overlap=0.75),
              simulator.ModelProfile("mem-balanced", ttft_median_ms=15, tokens_per_s=20000,
                                     answer_tokens=300, overlap=0.7),
              simulator.ModelProfile("mem-deep", ttft_median_ms=20, tokens_per_s=20000,
                                     answer_tokens=300, overlap=0.65))
    experts = tuple(config.Expert(name=m.name.removeprefix("mem-"), base_url=config.SIMULATOR,
                                  model=m.name, timeout_s=15, stream=True) for m in models)
    return config.ExpertsConfig(experts=experts, source="memory suite built-in circle",
                                simulator={"seed": 0, "model": [asdict(m) for m in models]})


class ExpertsHarness:
    """A running circle: the simulator process (when used), an event loop and a session."""

    def __init__(self, ctx: MemoryContext, experts_file: Path | None = None) -> None:
        config, orchestrator, simulator, simulator_process = _imports()
        import aiohttp

        self._consult = orchestrator.consult
        experts = config.load(experts_file) if experts_file else builtin_circle()
        from codeperf.harness.loopback import check_loopback

        # Leak and concurrency runs send hundreds of queries: never to a remote by accident.
        for expert in experts.experts:
            if not expert.uses_simulator:
                check_loopback(expert.base_url, bool(ctx.options.get("allow_remote")))
        self.simulator = None
        if experts.needs_simulator:
            sim_config = simulator.SimulatorConfig.from_dict(experts.simulator)
            self.simulator = simulator_process.SimulatorProcess(
                sim_config, log_path=ctx.out_dir / "memory-simulator.log")
            url = self.simulator.start()
            experts = experts.with_simulator_url(url)
            ctx.log(f"experts: simulator at {url} (pid {self.simulator.pid})")
        self.experts = experts
        self.loop = asyncio.new_event_loop()

        async def make_session() -> Any:
            # One pool big enough for every expert of 100 concurrent queries: the pool is
            # not what is measured here.
            return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                         timeout=aiohttp.ClientTimeout(total=None))

        self.session = self.loop.run_until_complete(make_session())
        self.failed = 0
        self.backend: str | None = None

    @property
    def simulator_pid(self) -> int | None:
        return self.simulator.pid if self.simulator is not None else None

    def _note(self, result: Any) -> Any:
        if not result.ok:
            self.failed += 1
        self.backend = result.backend or self.backend
        return result

    def query(self) -> Any:
        return self._note(self.loop.run_until_complete(
            self._consult(QUERY, self.experts, session=self.session)))

    def concurrent(self, n: int) -> tuple[list[Any], int]:
        """`n` queries at once; returns them and how many were in flight at the same time."""
        in_flight = 0
        most = 0

        async def one() -> Any:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            try:
                return await self._consult(QUERY, self.experts, session=self.session)
            finally:
                in_flight -= 1

        async def all_of() -> list[Any]:
            return await asyncio.gather(*(one() for _ in range(n)))

        results = self.loop.run_until_complete(all_of())
        for r in results:
            self._note(r)
        return results, most

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.session.close())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()
            if self.simulator is not None:
                self.simulator.stop()


def harness(ctx: MemoryContext) -> ExpertsHarness:
    """The shared circle for this run, started on first use and closed by the suite."""
    existing = ctx.shared.get("experts")
    if existing is None:
        existing = ExpertsHarness(ctx, ctx.options.get("experts_file"))
        ctx.shared["experts"] = existing
        ctx.cleanup.callback(existing.close)
    return existing


def run_query(ctx: MemoryContext) -> None:
    h = harness(ctx)
    with ctx.sampler.phase("experts/query"):
        for _ in range(2):  # warm: connections, the engine's worker thread, caches
            h.query()
        failed_before = h.failed
        samples = [measure_peak(h.query, ctx.rust, ctx.sampled_max_rss)
                   for _ in range(2 if ctx.quick else 5)]
    summary = {k: _median([s.summary()[k] for s in samples]) for k in samples[0].summary()}
    if summary["rss_peak_bytes"] is not None:
        ctx.normal_load_rss_peaks["experts/query"] = summary["rss_peak_bytes"]
    ctx.add_result({"id": "experts/query/end_to_end", "kind": "peak", "backend": h.backend,
                    "summary": summary, "rss_peak_method": samples[0].rss_peak_method,
                    "samples": [s.summary() for s in samples],
                    "experts": h.experts.to_dict()})
    ctx.log(f"experts: one query: python heap peak {_kib(summary['python_heap_peak_bytes'])}, "
            f"rust heap peak {_kib(summary['rust_heap_peak_bytes'])} (backend {h.backend})")

    # Each query leaves one cancelled timeout timer per expert in the event loop, which
    # asyncio purges only once they are over half of >100 scheduled timers: retained
    # memory is a sawtooth with a period of ~35 queries. The warm-up reaches it and the
    # batches span several periods, so the slope is the trend, not one rising edge.
    plan = (LeakPlan(warmup_calls=40, batches=5, calls_per_batch=12) if ctx.quick
            else LeakPlan(warmup_calls=50, batches=10, calls_per_batch=20))
    extra = {}
    if h.simulator_pid is not None:
        pid = h.simulator_pid
        extra["simulator_rss"] = lambda: process_rss_bytes(pid)
    with ctx.sampler.phase("experts/leak"):
        report = detect_leak(h.query, plan, label="experts/query", rust=ctx.rust,
                             extra_series=extra, progress=ctx.log,
                             on_stop=partial_leak(ctx, "leaks/experts_query", h.backend))
    ctx.add_result(report.to_entry("leaks/experts_query", backend=h.backend))
    rate = report.summary()["heaps_total_bytes_per_100_ops"]
    if rate is not None:
        ctx.leak_rates["experts/query"] = rate
    ctx.log(f"experts: leak run: {report.summary()['heaps_total_bytes_per_call']:,.1f} B/query "
            f"retained{'  LEAK' if report.leak else ''}")
    ctx.add_validity("experts/queries-ok", h.failed == failed_before == 0,
                     {"failed_queries": h.failed})


def run_concurrency(ctx: MemoryContext) -> None:
    h = harness(ctx)
    levels = CONCURRENCY_LEVELS_QUICK if ctx.quick else CONCURRENCY_LEVELS
    h.concurrent(min(levels[-1], 10))  # warm the pool and the engine's worker threads
    points: list[tuple[int, dict[str, Any], int]] = []
    for level in levels:
        holder: dict[str, Any] = {}

        def call(level: int = level, holder: dict[str, Any] = holder) -> Any:
            results, most = h.concurrent(level)
            holder["most"] = most
            holder["failed"] = sum(1 for r in results if not r.ok)
            return results

        with ctx.sampler.phase(f"concurrency/{level}"):
            m = measure_peak(call, ctx.rust, ctx.sampled_max_rss)
        summary = {**m.summary(), "queries_count": level,
                   "max_in_flight_count": holder["most"], "failed_count": holder["failed"]}
        points.append((level, summary, holder["most"]))
        ctx.add_result({"id": f"concurrency/queries/{level}", "kind": "peak", "backend": h.backend,
                        "summary": summary, "rss_peak_method": m.rss_peak_method})
        if level == 100 and m.rss_peak_bytes is not None:
            ctx.normal_load_rss_peaks["concurrency/100"] = m.rss_peak_bytes
        ctx.log(f"concurrency: {level} queries (max {holder['most']} in flight): heaps peak "
                f"{_kib(m.heaps_peak_sum_bytes)}, RSS peak +{_kib(m.rss_peak_delta_bytes)}")
    ctx.add_result(_per_in_flight(ctx, points))
    ctx.add_validity("concurrency/all-in-flight",
                     all(most == level for level, _, most in points),
                     {str(level): most for level, _, most in points})


def _per_in_flight(ctx: MemoryContext, points: list[tuple[int, dict[str, Any], int]]) -> dict[str, Any]:
    """Memory per in-flight query: the slope of peak memory against queries in flight."""
    x = [float(most) for _, _, most in points]
    summary: dict[str, Any] = {}
    fits: dict[str, Any] = {}
    for key in ("heaps_peak_sum_bytes", "python_heap_peak_bytes", "rust_heap_peak_bytes",
                "rss_peak_delta_bytes"):
        y = [s[key] for _, s, _ in points]
        name = key.removesuffix("_bytes")
        if any(v is None for v in y) or len(set(x)) < 2 or len(x) < 3:
            summary[f"{name}_per_query_bytes"] = None
            continue
        fit = linear_fit(x, [float(v) for v in y])
        fits[key] = fit.to_dict()
        summary[f"{name}_per_query_bytes"] = fit.slope
        summary[f"{name}_per_query_ci_low_bytes"] = fit.slope_ci_low
        summary[f"{name}_per_query_ci_high_bytes"] = fit.slope_ci_high
    top = points[-1]
    summary["peak_in_flight_count"] = top[2]
    summary["heaps_peak_at_max_bytes"] = top[1]["heaps_peak_sum_bytes"]
    summary["rss_peak_at_max_bytes"] = top[1]["rss_peak_bytes"]
    slope = summary.get("heaps_peak_sum_per_query_bytes")
    if slope is not None:
        ctx.log(f"concurrency: {slope / 1024:,.1f} KiB per in-flight query (both heaps, OLS slope)")
    return {"id": "concurrency/per_in_flight_query", "kind": "sweep", "summary": summary,
            "x_in_flight": x, "fits": fits}


def _median(values: list[Any]) -> Any:
    return None if any(v is None for v in values) else int(statistics.median(values))


def _kib(value: int | float | None) -> str:
    return "n/a" if value is None else f"{value / 1024:,.1f} KiB"
