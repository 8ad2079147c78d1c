"""The `sweep` load scenario: where does the circle saturate, and what does it serve there?

Modelled on GuideLLM's sweep profile (and vLLM's goodput), in four steps:

1. synchronous: one query at a time (the rate with no queueing at all);
2. throughput: a closed loop with many queries in flight (the most it completes);
3. K constant-rate open-model runs evenly spaced from the synchronous rate to a
   little past the throughput rate, each stopped early when over-saturated; while
   the highest still passes, up to 3 more, each 1.5 times higher;
4. a few refining rates, each halfway between the knee so far and the next rate
   above it that failed (the knee's resolution halves with each).

Per rate: offered and achieved rate, latency percentiles, TTFT/ITL/TPOT, error
rate, SLO share and goodput, per-second histograms. The knee is the highest
offered rate still achieved (>= 95%) with p95 within every SLO bound; against
the simulator its theoretical saturation rate is known (codeperf.load.sweep)
and the knee must land within 15% of it (validity `sweep.knee_vs_theory`).
The arithmetic lives in `codeperf.load.sweep`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from codeperf.load import sweep
from codeperf.load.querystats import QueryStats
from codeperf.load.expert_scenarios import _latency_summary, _param, _raw_entry, _session, _stats
from codeperf.load import loadgen, schedules
from codeperf.load.loadgen import LoadResult
from codeperf.load.registry import Float, Int, ScenarioContext, ScenarioOutcome, scenario

KNEE_TOLERANCE = 0.15
MAX_EXTENSIONS = 3  # rates added above the plan while the highest one still passes ...
EXTEND_FACTOR = 1.5  # ... each this much higher (the refining rates then close the gap)


class _Timed:
    """An op that remembers when each success completed (the steady-state achieved rate)."""

    def __init__(self, stats: QueryStats, session: Any) -> None:
        self.ok_ends: list[float] = []
        self._op = stats.op(session)

    async def __call__(self, i: int) -> None:
        await self._op(i)
        self.ok_ends.append(time.perf_counter())


@scenario("sweep", "rate sweep: synchronous, throughput, K constant rates, the knee and goodput",
          in_quick=False,  # ~35 s of quick mode's budget, and no gated figure: full mode only
          options={"sweep_rates": Int(help="constant-rate runs (quick 4, full 6)"),
                   "sweep_duration_s": Float(min=0.5, help="seconds per rate (quick 3, full 5)"),
                   "sweep_refine": Int(min=0, help="refining rates around the knee "
                                                   "(quick 2, full 3)"),
                   "sweep_overshoot": Float(min=1.0, help="highest rate as a multiple of the "
                                                          "throughput rate (1.2)"),
                   "sweep_concurrency": Int(help="queries in flight in the throughput run "
                                                 "(128)"),
                   "sweep_cooldown_s": Float(help="idle seconds between rates, so one rate's "
                                                  "backlog does not meet the next (quick 0.5, "
                                                  "full 1)")})
async def sweep_scenario(ctx: ScenarioContext) -> ScenarioOutcome:
    # Quick keeps 4 rates + 2 refining ones: with 3 (tried for issue #15's time budget) the
    # knee lands on 72.6/s when the quiet machine's true knee (~75/s, -6 % vs theory) is a
    # little lower, and the next rate down, 64.8/s, is -18 %: outside the 15 % check.
    # Full: 6 rates of 5 s, 3 refining, 1 s apart (were 8 of 15 s, 2 s apart: 207 s of the
    # quiet full run's 351 s, issue #15's budget). What locating the knee needs: its
    # resolution, the gap between rates halved by each refining rate ((1.2 x throughput -
    # synchronous) / 6 / 2^3 ~ 1.8 queries/s, 2.3 % of the theoretical 79.5, against the 15 %
    # check), and a steady window per rate (5 s minus the ~0.9 s warm-up: ~300 queries near
    # the knee for its p95; a rate > 1/0.95 of capacity fails the achieved test at any
    # length). The quick sweep's 3 s found the same knee as 15 s on a quiet machine
    # (-6.0 % and -5.0 % vs -5.8 %); 2 s did not (-13.1 %), so 5 s keeps a margin.
    k = int(_param(ctx, "sweep_rates", 4, 6))
    duration = float(_param(ctx, "sweep_duration_s", 3.0, 5.0))
    refine = int(_param(ctx, "sweep_refine", 2, 3))
    overshoot = float(_param(ctx, "sweep_overshoot", 1.2, 1.2))
    concurrency = int(_param(ctx, "sweep_concurrency", 128, 128))
    # Quick: 0.5 s between rates (was 1 s; 7 pauses, issue #15's time budget): each rate's
    # run already drains or cancels its requests before it returns. Not cut: 3 s per rate.
    # With 2 s (and 0.5 s pauses) the sweep took 38.9 and 37.8 s instead of 48.4 s (load
    # average ~4) but its knee read -7.8 and -13.1 % against theory: too near the 15 % check.
    cooldown = float(_param(ctx, "sweep_cooldown_s", 0.5, 1.0))
    bounds = dict(ctx.slo.bounds) if ctx.slo else {}
    entries: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []

    async with _session(_pool_for_sweep(ctx, concurrency)) as session:
        # 1. synchronous
        stats, load = _stats(ctx), LoadResult()
        timed = _Timed(stats, session)
        # Defaults bind this run's objects: the names are reused by the next run.
        ctx.watch(lambda load=load, stats=stats: _raw_entry("sweep/synchronous", load, stats,
                                                            _latency_summary(load)))
        await loadgen.run_closed(timed, concurrency=1, duration_s=duration, result=load)
        sync_rps = load.ok / load.elapsed_s if load.elapsed_s > 0 else 0.0
        sync_p50_ms = load.latency.percentile_ms(50) or 0.0
        entries.append(_rate_entry(ctx, "sweep/synchronous", load, stats, {"mode": "synchronous",
                                   "offered_rps": None, "achieved_rps": sync_rps}))
        ctx.progress(f"synchronous: {sync_rps:.1f} queries/s, p50 {sync_p50_ms:.0f} ms")
        # Completions before this are the ramp-up of a run, not its steady state.
        warmup_s = min(max(0.5, 2 * sync_p50_ms / 1000), duration / 2)

        # 2. throughput
        await asyncio.sleep(cooldown)
        stats, load = _stats(ctx), LoadResult()
        timed = _Timed(stats, session)
        ctx.watch(lambda load=load, stats=stats: _raw_entry("sweep/throughput", load, stats,
                                                            _latency_summary(load)))
        await loadgen.run_closed(timed, concurrency=concurrency, duration_s=duration, result=load)
        # Between its first and last success: with many in flight the first answers can
        # take longer than the warm-up (or the whole run), so a fixed window would miss them.
        throughput_rps = sweep.completion_rate(timed.ok_ends) or 0.0
        entries.append(_rate_entry(ctx, "sweep/throughput", load, stats, {
            "mode": "throughput", "concurrency_count": concurrency, "offered_rps": None,
            "achieved_rps": throughput_rps}))
        ctx.progress(f"throughput ({concurrency} in flight): {throughput_rps:.1f} queries/s")
        if throughput_rps <= 0:
            raise RuntimeError("the throughput run completed fewer than two queries; "
                               "no rate to sweep up to")

        # 3. constant rates (extended upwards while the highest still passes: a closed
        # loop that did not reach its steady state underestimates the throughput rate),
        # 4. refining rates
        async def run_rate(rate: float, refining: bool) -> None:
            await asyncio.sleep(cooldown)
            row, entry = await _one_rate(ctx, session, rate, duration, warmup_s, refining)
            rows.append(row)
            entries.append(entry)

        for rate in sweep.sweep_rates(sync_rps, throughput_rps, k, overshoot):
            await run_rate(rate, False)
        for _ in range(MAX_EXTENSIONS):
            top = max(rows, key=lambda r: r["offered_rps"])
            if sweep.knee(rows, bounds) is not top:
                break
            await run_rate(top["offered_rps"] * EXTEND_FACTOR, False)
        for _ in range(refine):
            rate = sweep.refine_rate(rows, bounds)
            if rate is None or any(abs(rate - r["offered_rps"]) < 0.01 * rate for r in rows):
                break
            await run_rate(rate, True)

    rows.sort(key=lambda r: r["offered_rps"])
    best = sweep.knee(rows, bounds)
    peak = sweep.best_goodput(rows)
    theory = _theory(ctx)
    knee_rps = best["offered_rps"] if best else None
    summary = {
        "synchronous_rps": sync_rps, "throughput_rps": throughput_rps,
        "knee_rps": knee_rps, "theoretical_knee_rps": theory,
        "knee_vs_theory_pct": (100.0 * (knee_rps - theory) / theory
                               if knee_rps is not None and theory else None),
        "knee_p95_ms": best["p95_ms"] if best else None,
        "max_goodput_qps": peak["goodput_qps"] if peak else None,
        "max_goodput_rate_rps": peak["offered_rps"] if peak else None,
        "rates_count": len(rows),
        "oversaturated_count": sum(1 for r in rows if r["oversaturated"]),
    }
    if theory is not None:
        ok = knee_rps is not None and abs(knee_rps - theory) <= KNEE_TOLERANCE * theory
        held = await _slot_times(ctx)
        ctx.add_validity("knee_vs_theory", ok,
                         f"knee {_f(knee_rps)} queries/s vs theoretical {theory:.1f} (the "
                         f"quorum-th highest simulator saturation rate; tolerance "
                         f"{KNEE_TOLERANCE:.0%}); rates {', '.join(_f(r['offered_rps']) for r in rows)}"
                         + (f"; slot time per request over the whole sweep, measured vs the "
                            f"formula at full load: {held}" if held else ""))
    ctx.progress(f"knee {_f(knee_rps)} queries/s (theory {_f(theory)}), best goodput "
                 f"{_f(summary['max_goodput_qps'])} queries/s at {_f(summary['max_goodput_rate_rps'])}")
    head = {"id": "sweep/summary", "kind": "scenario", "summary": summary,
            "sweep": {"slo": bounds, "rows": rows, "knee_rps": knee_rps,
                      "theoretical_knee_rps": theory,
                      "max_goodput_rate_rps": summary["max_goodput_rate_rps"],
                      "achieved_min": sweep.ACHIEVED_MIN,
                      "oversaturated_below": sweep.OVERSATURATED_BELOW,
                      "duration_s": duration, "warmup_s": warmup_s}}
    return ScenarioOutcome([head, *entries], summary)


async def _one_rate(ctx: ScenarioContext, session: Any, rate: float, duration: float,
                    warmup_s: float, refining: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    entry_id = f"sweep/rate-{rate:.1f}rps"
    stats, load = _stats(ctx), LoadResult()
    timed = _Timed(stats, session)
    ctx.watch(lambda: _raw_entry(entry_id, load, stats, _latency_summary(load)))
    detector = sweep.Oversaturation(rate, warmup_s)
    t0 = time.perf_counter()

    def stop_when(t: float, result: LoadResult, in_flight: int) -> str | None:
        return detector.observe(t, in_flight, result.ok)

    # A short drain: an over-saturated rate's backlog would take long to clear and says
    # nothing more (what is cut is counted as "unfinished").
    await loadgen.run_open(timed, schedules.constant(rate), duration_s=duration, result=load,
                           stop_when=stop_when, drain_timeout_s=max(2.0, duration))
    send_end = t0 + load.send_window_s
    got = sweep.achieved_rps(timed.ok_ends, t0 + warmup_s, send_end)
    extra = {"mode": "constant", "offered_rps": rate, "achieved_rps": got,
             "oversaturated": load.stop_reason is not None, "refining": refining}
    entry = _rate_entry(ctx, entry_id, load, stats, extra)
    s = entry["summary"]
    row = {k: s.get(k) for k in ("offered_rps", "achieved_rps", "p50_ms", "p95_ms", "p99_ms",
                                 "ttft_p50_ms", "ttft_p95_ms", "itl_p50_ms", "itl_p95_ms",
                                 "tpot_p50_ms", "tpot_p95_ms", "e2e_p95_ms", "error_rate_pct",
                                 "goodput_qps", "slo_met_pct", "output_tokens_per_s")}
    row.update(oversaturated=extra["oversaturated"], stop_reason=load.stop_reason,
               valid=load.valid, refining=refining)
    ctx.progress(f"{rate:6.1f}/s offered: achieved {_f(got)}/s, p95 {_f(s.get('p95_ms'))} ms, "
                 f"goodput {_f(s.get('goodput_qps'))}/s"
                 + (f"  STOPPED: {load.stop_reason}" if load.stop_reason else ""))
    return row, entry


def _rate_entry(ctx: ScenarioContext, entry_id: str, load: LoadResult, stats: QueryStats,
                extra: dict[str, Any]) -> dict[str, Any]:
    ctx.add_validity(f"generator/{entry_id}", load.valid, load.self_checks())
    entry = _raw_entry(entry_id, load, stats, {**_latency_summary(load), **extra})
    entry["kind"] = "sweep-rate"
    # The end-to-end p95 of the query (consult start -> engine done), what e2e_ms bounds.
    entry["summary"]["e2e_p95_ms"] = stats.end_to_end.percentile_ms(95)
    return entry


def _pool_for_sweep(ctx: ScenarioContext, concurrency: int) -> int:
    # Over-saturated rates pile up queries in flight: never let the pool be the limit.
    return max(1000, concurrency * len(ctx.experts.experts))


def _theory(ctx: ScenarioContext) -> float | None:
    """The circle's theoretical saturation when every expert is a simulator model (else None)."""
    from codeperf.experts.orchestrator import default_quorum
    from codeperf.experts.simulator import CALIBRATION_MODELS, SimulatorConfig

    if ctx.simulator_url is None or not ctx.experts:
        return None
    base = ctx.simulator_url.rstrip("/")
    sim = SimulatorConfig.from_dict(ctx.experts.simulator).with_models(CALIBRATION_MODELS)
    by_name = {m.name: m for m in sim.models}
    experts = ctx.experts.experts
    if any(e.base_url.rstrip("/") != base for e in experts):
        return None  # a real server: its capacity is what the sweep is for
    return sweep.theoretical_rps([by_name.get(e.model) for e in experts],
                                 default_quorum(len(experts)), [e.max_tokens for e in experts])


async def _slot_times(ctx: ScenarioContext) -> str:
    """Per model, the slot time the simulator actually held per request vs the formula's.

    The theory assumes the simulator keeps its own timing; on a loaded machine its
    event loop wakes late and every slot is held longer, which this shows.
    """
    import aiohttp

    from codeperf.experts.simulator import SimulatorConfig, busy_s

    url = ctx.simulator_url.rstrip("/").rsplit("/v1", 1)[0] + "/admin/stats"
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            stats = await resp.json()
    except (aiohttp.ClientError, ValueError):
        return ""
    profiles = {m.name: m for m in SimulatorConfig.from_dict(ctx.experts.simulator).models}
    parts = []
    for expert in ctx.experts.experts:
        profile, served = profiles.get(expert.model), stats.get("served_" + expert.model)
        if profile is None or not served or profile.max_concurrent <= 0:
            continue
        measured = stats.get("busy_ms_" + expert.model, 0) / served
        formula = busy_s(profile, profile.max_concurrent, expert.max_tokens) * 1000
        parts.append(f"{expert.model} {measured:.0f} ms vs <= {formula:.0f} ms")
    return ", ".join(parts)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
