"""Does the load generator measure what happens? Two checks against the bundled simulator.

1. Fixed latency: the p50 of a 50 ms model is within 10% of 50 ms plus the
   client overhead (the p50 of a 0 ms model, measured in the same run).
2. Token timing: ITL and TPOT of a model with a fixed token rate (one token
   per SSE event, 50 tokens/s) are within 10% of 20 ms, measured through the
   orchestrator; its TTFT is quoted beside 100 ms plus the client overhead.
3. Stall: a 1 s stall during an open-model run shows in its p99 and in about
   one slow sample per intended send during the stall; the same stall seen by a
   closed loop (one worker, running alongside) yields a single slow sample and a
   normal p99, the omission the open model exists to avoid.
Both land in the envelope's validity section and in a `calibration` entry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from codeperf.load import loadgen, schedules
from codeperf.load.registry import ScenarioContext

FIXED_MS = 50.0
FIXED_TOLERANCE = 0.10


async def _post(session: aiohttp.ClientSession, url: str, model: str) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "calibrate"}]}
    async with session.post(url, json=body) as resp:
        resp.raise_for_status()
        await resp.read()


# The open run's length (seconds) must cover the stall with normal service on both
# sides. Quick mode keeps the same 1 s stall and 100/s rate (~50 intended sends fall
# in its first half; p99 over ~200 samples is still a stalled one), only less service
# around it, and fewer overhead / fixed-latency samples.
FULL_RUN = {"run_s": 4.0, "stall_at_s": 1.5, "requests": 100}
QUICK_RUN = {"run_s": 2.0, "stall_at_s": 0.5, "requests": 40}
# The closed loop's request budget: with one stalled sample among 60, p99 (rank
# round(0.99 x 60) = 59) is a normal sample, so a p99 that hides the stall is the
# closed loop's doing, not a too-small sample (below 51 samples p99 is the maximum).
CLOSED_REQUESTS = 60


# ITL/TPOT/TTFT against a profile with a fixed token rate (simulator.CALIBRATION_MODELS).
TOKENS_MODEL = "cal-tokens-50ps"
TOKEN_INTERVAL_MS = 20.0
TOKEN_TTFT_MS = 100.0
TOKEN_TOLERANCE = 0.10
TOKEN_REQUESTS = 12
TOKEN_IN_FLIGHT = 4  # a fixed-rate model has no capacity: parallel answers do not interfere


async def _token_timing(session: aiohttp.ClientSession, base_url: str) -> list[Any]:
    """Streamed answers of the fixed-rate model through the orchestrator's own token path."""
    from codeperf.experts.config import Expert
    from codeperf.experts.orchestrator import ExpertCall, call_expert

    expert = Expert("calibration", base_url, TOKENS_MODEL, stream=True, timeout_s=30.0,
                    max_retries=0)
    calls = []
    for i in range(TOKEN_REQUESTS // TOKEN_IN_FLIGHT):
        group = [ExpertCall(expert.name, expert.model) for _ in range(TOKEN_IN_FLIGHT)]
        await asyncio.gather(*(call_expert(session, expert, f"tokens {i}", c) for c in group))
        calls += group
    return calls


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _judge_tokens(calls: list[Any], overhead_ms: float | None) -> tuple[bool, dict[str, Any]]:
    from codeperf.harness.latency import LatencyHistogram

    itl = LatencyHistogram.from_values_ms(g for c in calls for g in (c.itl_ms or []))
    tpot = LatencyHistogram.from_values_ms(c.tpot_ms for c in calls if c.tpot_ms is not None)
    ttft = LatencyHistogram.from_values_ms(c.ttft_ms for c in calls if c.ttft_ms is not None)
    itl_ms, tpot_ms, ttft_ms = (itl.percentile_ms(50), tpot.summary()["mean_ms"],
                                ttft.percentile_ms(50))
    ttft_expected = TOKEN_TTFT_MS + (overhead_ms or 0.0)

    def within(value: float | None, expected: float) -> bool:
        return value is not None and abs(value - expected) <= TOKEN_TOLERANCE * expected

    # TTFT is quoted, not judged: it is one wake-up of each side's event loop, which
    # a shared machine delays by milliseconds; ITL and TPOT average over many tokens.
    ok = within(itl_ms, TOKEN_INTERVAL_MS) and within(tpot_ms, TOKEN_INTERVAL_MS)
    detail = (f"{TOKENS_MODEL} ({1000 / TOKEN_INTERVAL_MS:g} tokens/s, one per chunk): ITL p50 "
              f"{_ms(itl_ms)} ms, TPOT mean {_ms(tpot_ms)} ms vs {TOKEN_INTERVAL_MS:g} ms (tolerance "
              f"{TOKEN_TOLERANCE:.0%}, {len(calls)} answers); TTFT p50 {_ms(ttft_ms)} ms vs "
              f"{TOKEN_TTFT_MS:g} ms + overhead = {ttft_expected:.2f} ms (quoted, not judged)")
    return ok, {"token_itl_p50_ms": itl_ms, "token_tpot_mean_ms": tpot_ms,
                "token_ttft_p50_ms": ttft_ms, "token_expected_interval_ms": TOKEN_INTERVAL_MS,
                "token_expected_ttft_ms": ttft_expected, "detail": detail}


async def run_calibration(ctx: ScenarioContext, *, stall_s: float = 1.0, rate_rps: float = 100.0,
                          run_s: float | None = None, stall_at_s: float | None = None
                          ) -> dict[str, Any]:
    sizes = QUICK_RUN if ctx.quick else FULL_RUN
    run_s = sizes["run_s"] if run_s is None else run_s
    stall_at_s = sizes["stall_at_s"] if stall_at_s is None else stall_at_s
    if stall_at_s + stall_s >= run_s:
        raise ValueError(f"the stall ({stall_s:g} s at t={stall_at_s:g} s) must end before the "
                         f"run does ({run_s:g} s)")
    base = ctx.simulator_url.rstrip("/")
    url = base + "/chat/completions"
    admin = base.rsplit("/v1", 1)[0] + "/admin/stall"
    n_overhead = int(ctx.options.get("calibration_requests", sizes["requests"]))
    overhead, fixed = loadgen.LoadResult(), loadgen.LoadResult()
    open_run, closed_run = loadgen.LoadResult(), loadgen.LoadResult()
    ctx.watch(lambda: {"id": "calibration/simulator", "kind": "calibration",
                       "overhead": overhead.to_dict(), "fixed": fixed.to_dict(),
                       "stall_open": open_run.to_dict(), "stall_closed": closed_run.to_dict()})
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        ctx.progress("client overhead: 0 ms model, one at a time")
        await loadgen.run_closed(lambda i: _post(session, url, "cal-instant"), result=overhead,
                                 concurrency=1, max_requests=n_overhead)
        ctx.progress(f"fixed latency: {FIXED_MS:g} ms model, one at a time")
        await loadgen.run_closed(lambda i: _post(session, url, "cal-fixed-50ms"), result=fixed,
                                 concurrency=1, max_requests=max(20, n_overhead // 2))

        # One stall, both loops at once: the open model at a constant rate and the
        # closed loop (one worker) see the same stall on the same simulator.
        ctx.progress(f"{stall_s:g} s stall at t={stall_at_s:g} s: open model at {rate_rps:g}/s "
                     f"for {run_s:g} s and closed loop (1 worker, {CLOSED_REQUESTS} requests) "
                     f"side by side")

        async def trigger() -> None:
            await asyncio.sleep(stall_at_s)
            async with session.post(admin, params={"seconds": str(stall_s)}) as resp:
                resp.raise_for_status()

        op = lambda i: _post(session, url, "cal-fixed-50ms")  # noqa: E731
        runs = asyncio.gather(
            trigger(),
            loadgen.run_open(op, schedules.constant(rate_rps), duration_s=run_s, result=open_run),
            loadgen.run_closed(op, concurrency=1, max_requests=CLOSED_REQUESTS, result=closed_run,
                               max_duration_s=run_s + stall_s + 30.0))
        try:
            await runs
        except BaseException:  # failed or interrupted: stop the other runs too
            runs.cancel()
            await asyncio.gather(runs, return_exceptions=True)
            raise

        ctx.progress(f"token timing: {TOKENS_MODEL}, {TOKEN_REQUESTS} streamed answers")
        tokens = await _token_timing(session, base)

    overhead_ms = overhead.latency.percentile_ms(50)
    fixed_ms = fixed.latency.percentile_ms(50)
    expected = FIXED_MS + (overhead_ms or 0.0)
    fixed_ok = (overhead_ms is not None and fixed_ms is not None
                and abs(fixed_ms - expected) <= FIXED_TOLERANCE * expected)
    ctx.add_validity("fixed_latency_p50", fixed_ok,
                     f"p50 {fixed_ms} ms vs {FIXED_MS:g} ms + overhead {overhead_ms} ms "
                     f"= {expected:.3f} ms (tolerance {FIXED_TOLERANCE:.0%})")

    slow_ms = stall_s * 500.0  # half the stall: clearly not normal service
    open_slow = open_run.latency.count_at_or_above_ms(slow_ms)
    closed_slow = closed_run.latency.count_at_or_above_ms(slow_ms)
    open_p99 = open_run.latency.percentile_ms(99)
    closed_p99 = closed_run.latency.percentile_ms(99)
    expected_slow = rate_rps * stall_s / 2  # intended sends in the first half of the stall
    stall_ok = (open_p99 is not None and open_p99 >= 0.9 * stall_s * 1000
                and open_slow >= 0.8 * expected_slow and closed_slow <= 2)
    ctx.add_validity("stall_visible_open_model", stall_ok,
                     f"{stall_s:g} s stall: open-model p99 {open_p99} ms with {open_slow} samples "
                     f">= {slow_ms:g} ms (expect ~{expected_slow:.0f}); closed loop p99 "
                     f"{closed_p99} ms with {closed_slow} such samples")
    token_ok, token_summary = _judge_tokens(tokens, overhead_ms)
    ctx.add_validity("token_timing", token_ok, token_summary["detail"])
    summary = {
        **{k: v for k, v in token_summary.items() if k != "detail"},
        "overhead_p50_ms": overhead_ms,
        "fixed_expected_ms": FIXED_MS,
        "fixed_p50_ms": fixed_ms,
        "fixed_error_pct": (100.0 * (fixed_ms - expected) / expected
                            if fixed_ms is not None else None),
        "stall_s": stall_s,
        "stall_at_s": stall_at_s,
        "stall_run_s": run_s,
        "stall_rate_rps": rate_rps,
        "closed_requests_count": CLOSED_REQUESTS,
        "open_p99_ms": open_p99,
        "open_slow_count": open_slow,
        "closed_p99_ms": closed_p99,
        "closed_slow_count": closed_slow,
    }
    return {"id": "calibration/simulator", "kind": "calibration", "summary": summary,
            "fixed_ok": fixed_ok, "stall_ok": stall_ok, "token_ok": token_ok,
            "overhead": overhead.to_dict(), "fixed": fixed.to_dict(),
            "stall_open": open_run.to_dict(), "stall_closed": closed_run.to_dict()}
