"""The load generator: schedules, budgets that end, error kinds, open vs closed, self-checks."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from codeperf.harness import loadgen
from codeperf.harness.latency import LatencyHistogram
from _experts_fixtures import run


def test_schedules_offer_what_they_say():
    assert loadgen.constant(100).count_before(2.0) == 200
    n = loadgen.poisson(200, seed=1).count_before(10.0)
    assert 1800 < n < 2200
    assert list(loadgen.poisson(50, seed=7).offsets().__next__() for _ in range(1)) == [0.0]
    ramp = loadgen.ramp(10, 30, 2.0)
    assert ramp.count_before(2.0) == pytest.approx(40, abs=1)  # area under the ramp
    assert ramp.count_before(3.0) == pytest.approx(70, abs=1)  # then held at 30/s
    burst = loadgen.burst(50, every_s=1.0, spread_s=0.1)
    offs = [o for _, o in zip(range(100), burst.offsets())]
    assert max(offs[:50]) < 0.1 and 1.0 <= min(offs[50:]) < 1.1
    mixed = loadgen.burst(10, every_s=1.0, spread_s=0.1, baseline_rps=5)
    assert mixed.count_before(1.0) == 15
    offsets = [o for _, o in zip(range(30), mixed.offsets())]
    assert offsets == sorted(offsets)


def test_error_kinds():
    classify = loadgen.classify_error
    assert classify(loadgen.RequestError("engine")) == "engine"
    assert classify(asyncio.TimeoutError()) == "timeout"
    assert classify(ConnectionRefusedError()) == "connect"
    assert classify(aiohttp.ServerDisconnectedError()) == "protocol"
    assert classify(RuntimeError("?")) == "other"


@pytest.mark.parametrize("url,ok", [
    ("http://127.0.0.1:8000/v1", True), ("http://127.3.4.5/v1", True), ("http://[::1]:80/", True),
    ("http://localhost:1/", True), ("https://api.openai.com/v1", False),
    ("http://10.0.0.5/v1", False), ("http://127.0.0.1.example.com/", False),
])
def test_loopback_only_unless_allowed(url, ok):
    if ok:
        loadgen.check_loopback(url)
    else:
        with pytest.raises(loadgen.RemoteTargetRefused, match="--allow-remote"):
            loadgen.check_loopback(url)
        loadgen.check_loopback(url, allow_remote=True)


def test_closed_counts_successes_only_and_errors_by_kind():
    async def op(i):
        await asyncio.sleep(0.001)
        if i % 4 == 0:
            raise loadgen.RequestError("http_503")
        if i % 4 == 1:
            raise asyncio.TimeoutError()

    result = run(loadgen.run_closed(op, concurrency=4, max_requests=40))
    assert result.sent == 40 and result.ok == 20
    assert dict(result.errors) == {"http_503": 10, "timeout": 10}
    s = result.summary()
    assert s["error_rate_pct"] == 50.0
    assert s["throughput_rps"] == pytest.approx(20 / result.elapsed_s)
    assert result.latency.count == 20
    data = result.to_dict()
    assert LatencyHistogram.from_dict(data["histogram"]).count == 20  # mergeable, encoded


def test_a_hanging_target_still_ends():
    async def hang(i):
        await asyncio.sleep(3600)

    closed = run(loadgen.run_closed(hang, concurrency=3, duration_s=0.1, drain_timeout_s=0.2))
    assert closed.errors["unfinished"] == 3 and closed.ok == 0
    opened = run(loadgen.run_open(hang, loadgen.constant(100), duration_s=0.2, drain_timeout_s=0.2))
    assert opened.errors["unfinished"] == opened.sent > 0
    with pytest.raises(ValueError, match="always ends"):
        run(loadgen.run_closed(hang, concurrency=1))


def test_open_model_measures_from_the_intended_time():
    # A target that stops answering for 0.5 s: the open model shows it in every request
    # it should have sent meanwhile; the closed loop (one worker) in a single sample.
    async def scenario(model):
        stalled_until = time.perf_counter() + 0.3 + 0.5
        stall_from = stalled_until - 0.5

        async def op(i):
            now = time.perf_counter()
            if stall_from <= now < stalled_until:
                await asyncio.sleep(stalled_until - now)
            await asyncio.sleep(0.005)

        if model == "open":
            return await loadgen.run_open(op, loadgen.constant(200), duration_s=1.2)
        return await loadgen.run_closed(op, concurrency=1, duration_s=1.2)

    opened, closed = run(scenario("open")), run(scenario("closed"))
    assert opened.latency.count_at_or_above_ms(250) >= 30  # ~50 sends fell in the first half
    assert closed.latency.count_at_or_above_ms(250) <= 1
    assert opened.latency.percentile_ms(95) >= 200
    assert opened.service.percentile_ms(50) < 100  # from actual send: service time


def test_self_checks_flag_a_generator_that_is_the_bottleneck():
    def burn(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    async def busy(i):
        burn(0.004)  # holds the loop: the generator cannot keep a 1000/s schedule

    result = run(loadgen.run_open(busy, loadgen.constant(1000), duration_s=0.25))
    checks = {c["check"]: c["ok"] for c in result.self_checks()}
    assert not checks["send_rate"] and not checks["schedule_lag"]
    # Loop CPU is a check too, but on a shared core the thread may get < 90% even when saturated.
    assert result.loop_cpu_pct > 20
    assert result.to_dict()["valid"] is False

    async def idle(i):
        await asyncio.sleep(0.001)

    fine = run(loadgen.run_open(idle, loadgen.constant(50), duration_s=0.5, max_lag_p99_ms=50))
    assert fine.valid, fine.self_checks()


def test_in_flight_cap_refuses_and_is_flagged():
    async def slow(i):
        await asyncio.sleep(0.3)

    result = run(loadgen.run_open(slow, loadgen.constant(200), duration_s=0.2, max_in_flight=5))
    assert result.errors["client_backlog"] > 0
    assert not {c["check"]: c["ok"] for c in result.self_checks()}["in_flight_cap"]
