"""The load generator: schedules, budgets that end, error kinds, open vs closed, self-checks,
interruptions that keep what was measured, and the generator's self-test judgement and CLI."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from codeperf.harness import exitcodes, loopback, request_errors, stoppable
from codeperf.load import loadgen, schedules
from codeperf.harness.envelope import Interrupted
from codeperf.harness.latency import LatencyHistogram
from codeperf.load.loadgen_selftest import FULL_CORE_PCT, judge_lag_goal, judge_rate_goal
from _experts_fixtures import run

ROOT = Path(__file__).resolve().parents[1]
SELFTEST = ROOT / "scripts" / "loadgen_selftest.py"


def test_schedules_offer_what_they_say():
    assert schedules.constant(100).count_before(2.0) == 200
    n = schedules.poisson(200, seed=1).count_before(10.0)
    assert 1800 < n < 2200
    assert list(schedules.poisson(50, seed=7).offsets().__next__() for _ in range(1)) == [0.0]
    ramp = schedules.ramp(10, 30, 2.0)
    assert ramp.count_before(2.0) == pytest.approx(40, abs=1)  # area under the ramp
    assert ramp.count_before(3.0) == pytest.approx(70, abs=1)  # then held at 30/s
    burst = schedules.burst(50, every_s=1.0, spread_s=0.1)
    offs = [o for _, o in zip(range(100), burst.offsets())]
    assert max(offs[:50]) < 0.1 and 1.0 <= min(offs[50:]) < 1.1
    mixed = schedules.burst(10, every_s=1.0, spread_s=0.1, baseline_rps=5)
    assert mixed.count_before(1.0) == 15
    offsets = [o for _, o in zip(range(30), mixed.offsets())]
    assert offsets == sorted(offsets)


def test_error_kinds():
    classify = request_errors.classify_error
    assert classify(request_errors.RequestError("engine")) == "engine"
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
        loopback.check_loopback(url)
    else:
        with pytest.raises(loopback.RemoteTargetRefused, match="--allow-remote"):
            loopback.check_loopback(url)
        loopback.check_loopback(url, allow_remote=True)


def test_closed_counts_successes_only_and_errors_by_kind():
    async def op(i):
        await asyncio.sleep(0.001)
        if i % 4 == 0:
            raise request_errors.RequestError("http_503")
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
    opened = run(loadgen.run_open(hang, schedules.constant(100), duration_s=0.2, drain_timeout_s=0.2))
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
            return await loadgen.run_open(op, schedules.constant(200), duration_s=1.2)
        return await loadgen.run_closed(op, concurrency=1, duration_s=1.2)

    opened, closed = run(scenario("open")), run(scenario("closed"))
    assert opened.latency.count_at_or_above_ms(250) >= 30  # ~50 sends fell in the first half
    assert closed.latency.count_at_or_above_ms(250) <= 1
    assert opened.latency.percentile_ms(95) >= 200
    assert opened.service.percentile_ms(50) < 100  # from actual send: service time


def test_self_checks_flag_a_generator_that_is_the_bottleneck():
    async def blocks_the_loop(i):
        # Blocks the loop without using CPU, so the verdict does not depend on how much
        # of a core this process gets: sends can only leave every 4 ms, not every 1 ms.
        time.sleep(0.004)

    result = run(loadgen.run_open(blocks_the_loop, schedules.constant(1000), duration_s=0.1))
    checks = {c["check"]: c["ok"] for c in result.self_checks()}
    assert result.offered == 100 and result.sent == 100  # all sent, but late
    # The dispatcher catches up in batches while the ops hold the loop 4 ms each, so the
    # sends of the last batch wait for about 60 ops (~250 ms): lateness only grows on a
    # slower machine, so the lag check fails on any box.
    assert result.schedule_lag.percentile_ms(99) > 10 and not checks["schedule_lag"]
    assert result.to_dict()["valid"] is False

    async def idle(i):
        await asyncio.sleep(0.001)

    # An easy run: nothing here depends on the machine being quiet (a limit of 500 ms of
    # lag is far above any scheduling hiccup; the send-rate check at the window's edge is).
    fine = run(loadgen.run_open(idle, schedules.constant(50), duration_s=0.5, max_lag_p99_ms=500))
    checks = {c["check"]: c for c in fine.self_checks()}
    assert fine.sent == fine.offered == 25 and fine.ok == 25
    assert checks["schedule_lag"]["ok"] and checks["in_flight_cap"]["ok"], checks
    assert checks["generator_cpu"]["ok"], checks  # sleeping ops use little CPU on any box


def test_in_flight_cap_refuses_and_is_flagged():
    async def slow(i):
        await asyncio.sleep(0.3)

    result = run(loadgen.run_open(slow, schedules.constant(200), duration_s=0.2, max_in_flight=5))
    assert result.errors["client_backlog"] > 0
    assert not {c["check"]: c["ok"] for c in result.self_checks()}["in_flight_cap"]


# ---------------------------------------------------------------- budgets that always end
def test_a_request_budget_alone_still_ends_against_a_hanging_op():
    async def hang(i):
        await asyncio.sleep(3600)

    closed = run(loadgen.run_closed(hang, concurrency=2, max_requests=5, max_duration_s=0.3))
    assert closed.ok == 0 and closed.errors["unfinished"] == 2 and closed.sent == 2
    assert closed.complete and closed.stopped_by == "max_duration"
    opened = run(loadgen.run_open(hang, schedules.constant(100), max_requests=5, max_duration_s=0.3))
    assert opened.sent == 5 and opened.errors["unfinished"] == 5
    assert opened.complete and opened.stopped_by == "max_duration"
    # The bound is always there: the default is finite, and an unbounded one is refused.
    assert 0 < loadgen.MAX_DURATION_S < float("inf")
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="max_duration_s"):
            run(loadgen.run_closed(hang, concurrency=1, max_requests=1, max_duration_s=bad))


def test_a_run_that_finishes_its_budget_is_complete():
    async def quick(i):
        await asyncio.sleep(0)

    result = run(loadgen.run_closed(quick, concurrency=2, max_requests=10))
    assert result.complete and result.stopped_by == "budget" and result.ok == 10
    assert result.to_dict()["complete"] is True


# ---------------------------------------------------------------- nothing measured is lost
async def _cancel_when(task, condition):
    while not condition():
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("model", ["closed", "open"])
def test_an_interrupted_run_keeps_what_it_measured_in_the_callers_result(model):
    async def five_then_hang(i):
        if i >= 5:
            await asyncio.sleep(3600)

    async def go():
        result = loadgen.LoadResult()
        if model == "closed":
            coro = loadgen.run_closed(five_then_hang, concurrency=2, max_requests=100,
                                      result=result)
            sent = 7  # five answered, then both workers stuck
        else:
            coro = loadgen.run_open(five_then_hang, schedules.constant(1000), max_requests=10,
                                    result=result)
            sent = 10
        await _cancel_when(asyncio.ensure_future(coro), lambda: result.sent == sent)
        return result, sent

    result, sent = run(go())
    assert result.model == model and result.ok == 5 and result.latency.count == 5
    assert result.errors["unfinished"] == sent - 5  # the stuck ones, cancelled and counted
    assert not result.complete and result.stopped_by == "interrupted"
    assert result.elapsed_s > 0
    data = result.to_dict()
    assert data["complete"] is False
    assert LatencyHistogram.from_dict(data["histogram"]).count == 5


def test_a_result_object_records_one_run():
    result = run(loadgen.run_closed(lambda i: asyncio.sleep(0), concurrency=1, max_requests=1))
    with pytest.raises(ValueError, match="fresh"):
        run(loadgen.run_closed(lambda i: asyncio.sleep(0), concurrency=1, max_requests=1,
                               result=result))


def test_sigterm_landing_inside_an_op_ends_the_run():
    async def op(i):
        if i == 3:
            raise Interrupted("SIGTERM")

    result = loadgen.LoadResult()
    with pytest.raises(Interrupted):
        run(loadgen.run_closed(op, concurrency=1, max_requests=100, result=result))
    assert result.ok == 3 and result.errors["unfinished"] == 1 and not result.complete


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signal handlers need the main thread")
def test_run_stoppable_turns_sigterm_into_a_clean_cancellation():
    before = signal.getsignal(signal.SIGTERM)
    unwound = []

    async def work():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(30)
        finally:
            unwound.append(True)  # finally blocks run: partial results get written

    with pytest.raises(Interrupted):
        stoppable.run_stoppable(work())
    assert unwound == [True]
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's handler is back
    assert stoppable.run_stoppable(asyncio.sleep(0, result=7)) == 7


# ---------------------------------------------------------------- the self-test's verdicts
def test_rate_goal_is_judged_on_wall_clock_not_per_cpu_second():
    fast = judge_rate_goal(ok=30_000, elapsed_s=2.0, loop_cpu_s=1.9)
    assert fast["status"] == "passed" and fast["ok"] and fast["measured_rps"] == 15_000
    # 5,000/s wall clock with the thread at 95% of a core: the generator is too slow,
    # even though nothing else can be blamed.
    slow = judge_rate_goal(ok=10_000, elapsed_s=2.0, loop_cpu_s=1.9)
    assert slow["status"] == "failed" and not slow["ok"]
    # 5,000/s at 20% of a core extrapolates to 25,000 per CPU-second: reported, never a pass.
    shared = judge_rate_goal(ok=10_000, elapsed_s=2.0, loop_cpu_s=0.4)
    assert shared["status"] == "not_demonstrated" and not shared["ok"]
    assert shared["requests_per_cpu_s"] == 25_000 and "not judged" in shared["detail"]
    assert judge_rate_goal(ok=10_000, elapsed_s=2.0,
                           loop_cpu_s=2.0 * FULL_CORE_PCT / 100 + 0.01)["status"] == "failed"
    assert judge_rate_goal(ok=0, elapsed_s=2.0, loop_cpu_s=0.1)["status"] == "not_measured"
    assert judge_lag_goal(1.5, 1000)["ok"] and not judge_lag_goal(2.5, 1000)["ok"]
    assert judge_lag_goal(None, 1000)["status"] == "not_measured"


def _selftest_cli():
    spec = importlib.util.spec_from_file_location("loadgen_selftest_script", SELFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.parametrize("args", [["--connections", "0"], ["--seconds", "0"], ["--seconds", "-1"],
                                  ["--lag-rate", "0"]])
def test_selftest_refuses_bad_sizes_with_usage_exit(tmp_path, args):
    result = CliRunner().invoke(_selftest_cli(), ["--out", str(tmp_path), *args])
    assert result.exit_code == exitcodes.USAGE, result.output
    assert not (tmp_path / "loadgen_selftest.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_selftest_interrupted_writes_what_it_measured(tmp_path, sig):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    proc = subprocess.Popen(
        [sys.executable, str(SELFTEST), "--out", str(tmp_path), "--seconds", "60", "--no-wrk"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        # A shell's background job inherits SIGINT ignored; Ctrl-C must reach this one.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stderr:  # wait until the closed-model run is under way
            if line.startswith("closed model"):
                break
        time.sleep(0.3)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == exitcodes.INTERRUPTED, stderr
    data = json.loads((tmp_path / "loadgen_selftest.json").read_text())
    assert data["complete"] is False
    closed = data["closed"]
    assert closed["complete"] is False and closed["stopped_by"] == "interrupted"
    assert closed["summary"]["ok_count"] > 0  # 0.3 s of a maximum-rate run, kept
    assert data["paced"]["summary"]["requests_count"] == 0  # never started
    # The goal is judged on what the cut-short run recorded, like any other run.
    s = closed["summary"]
    loop_cpu_s = s["generator_cpu_pct"] * s["duration_s"] / 100.0
    assert data["goals"][0]["status"] == judge_rate_goal(s["ok_count"], s["duration_s"],
                                                         loop_cpu_s)["status"]


def test_stop_when_ends_sending_early_and_says_why():
    """The sweep's over-saturation stop: sending ends, offered counts only what was due."""
    async def op(i):
        await asyncio.sleep(0.5)  # never answers within the check below: the backlog grows

    def stop_when(t, result, in_flight):
        return "backlog growing" if in_flight >= 10 else None

    result = asyncio.run(loadgen.run_open(op, schedules.constant(100), duration_s=5.0,
                                          stop_when=stop_when, drain_timeout_s=2.0))
    assert result.stopped_by == "stop_when" and result.stop_reason == "backlog growing"
    assert result.sent == 10 and result.offered == 10  # not the 500 of the full window
    assert result.ok == 10 and result.complete
    assert result.to_dict()["stop_reason"] == "backlog growing"
    assert all(c["ok"] for c in result.self_checks() if c["check"] == "send_rate")


def test_open_model_pauses_the_garbage_collector_only_during_the_run():
    import gc

    seen = []

    async def op(i):
        seen.append(gc.isenabled())

    assert gc.isenabled()
    result = run(loadgen.run_open(op, schedules.constant(1000), max_requests=5))
    assert seen == [False] * 5 and gc.isenabled()
    assert result.config["gc_paused"] is True
    seen.clear()
    result = run(loadgen.run_open(op, schedules.constant(1000), max_requests=5, pause_gc=False))
    assert seen == [True] * 5 and result.config["gc_paused"] is False
    gc.disable()  # a caller that had it off keeps it off
    try:
        run(loadgen.run_open(op, schedules.constant(1000), max_requests=2))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_cpu_check_does_not_judge_a_run_of_a_few_milliseconds():
    """Three instant connection failures used to mark the run "generator was the bottleneck"."""
    async def refused(i):
        raise ConnectionRefusedError

    result = run(loadgen.run_closed(refused, concurrency=1, max_requests=3))
    assert result.errors == {"connect": 3}
    cpu = {c["check"]: c for c in result.self_checks()}["generator_cpu"]
    assert cpu["ok"] and cpu["judged"] is False and "not judged" in cpu["detail"]
    assert result.valid

    # The same CPU share over a long enough run is judged (and fails).
    judged = loadgen.LoadResult(model="closed", elapsed_s=2 * loadgen.MIN_CPU_JUDGED_S,
                                loop_cpu_s=2 * loadgen.MIN_CPU_JUDGED_S)
    cpu = {c["check"]: c for c in judged.self_checks()}["generator_cpu"]
    assert not cpu["ok"] and "judged" not in cpu


def test_schedule_lag_limit_scales_with_the_latency_it_would_corrupt():
    """Lag p99 is judged against max(10 ms, 5 % of latency p50): 20 ms of lag is fine beside
    a 500 ms answer (a few percent of p95) but not beside a 50 ms one."""
    def result_with(latency_ms: float, lag_ms: float) -> loadgen.LoadResult:
        r = loadgen.LoadResult(model="open")
        r.offered = r.sent_on_schedule = 100
        for _ in range(100):
            r.latency.record_us(latency_ms * 1000)
            r.schedule_lag.record_us(lag_ms * 1000)
        return r

    def lag_check(r: loadgen.LoadResult) -> dict:
        return {c["check"]: c for c in r.self_checks()}["schedule_lag"]

    slow_target = lag_check(result_with(500.0, 20.0))
    assert slow_target["ok"] and "5 % of latency p50 500 ms" in slow_target["detail"]
    assert not lag_check(result_with(500.0, 30.0))["ok"]  # over 25 ms
    fast_target = lag_check(result_with(50.0, 20.0))
    assert not fast_target["ok"] and "(limit 10 ms)" in fast_target["detail"]
    assert lag_check(result_with(50.0, 9.0))["ok"]


def test_lag_effect_script_options():
    """scripts/lag_effect.py (the measurement behind the lag limit): help and a bad option."""
    import importlib.util
    from pathlib import Path

    from click.testing import CliRunner

    path = Path(__file__).resolve().parents[1] / "scripts" / "lag_effect.py"
    spec = importlib.util.spec_from_file_location("lag_effect", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert CliRunner().invoke(module.main, ["--help"]).exit_code == 0
    assert CliRunner().invoke(module.main, ["--block", "100"]).exit_code == 2


@pytest.mark.parametrize("workers", ["0", "1,x"])
def test_selftest_refuses_bad_worker_counts(tmp_path, workers):
    result = CliRunner().invoke(_selftest_cli(), ["--out", str(tmp_path), "--workers", workers])
    assert result.exit_code == exitcodes.USAGE, result.output


def test_selftest_measures_the_aiohttp_path_beside_the_minimal_client(tmp_path):
    """Both clients are measured in one run, and the 1-worker comparison runs without Ray."""
    result = CliRunner().invoke(_selftest_cli(), ["--out", str(tmp_path), "--seconds", "0.3",
                                                  "--no-wrk", "--workers", "1"])
    assert result.exit_code in (exitcodes.OK, exitcodes.FAILED), result.output
    data = json.loads((tmp_path / "loadgen_selftest.json").read_text())
    s = data["summary"]
    assert s["closed_throughput_rps"] > 0 and s["closed_aiohttp_throughput_rps"] > 0
    assert data["closed_aiohttp"]["summary"]["errors_count"] == 0
    rows = data["scaling"]["rows"]
    assert [(r["workers"], r["measurement"]) for r in rows] == [
        (1, "closed, minimal client"), (1, "closed, aiohttp client"),
        (1, "open 10000/s, minimal client")]
    assert all(r["throughput_rps"] and r["errors"] == 0 for r in rows)
    assert data["scaling"]["ray"] == []  # one worker: no Ray session was started


def test_schedule_lag_counts_from_when_the_request_starts_not_when_it_was_queued():
    # 20 sends due at once; each blocks the loop 3 ms when it starts. The dispatcher,
    # behind schedule, queues all 20 without yielding: lag taken at queueing would be
    # ~0 for all. Taken when each request starts, the last one waited for 19 others.
    def op_factory():
        async def op(i: int) -> None:
            time.sleep(0.003)  # noqa: the point is to block the loop

        return op

    result = run(loadgen.run_open(op_factory(), schedules.burst(20, every_s=10, spread_s=0.0),
                                  max_requests=20, duration_s=1))
    assert result.sent == result.ok == 20
    assert result.schedule_lag.count == 20
    # time.sleep sleeps at least its time: 19 blocked starts before the last one's.
    assert result.schedule_lag.summary()["max_ms"] >= 19 * 3 * 0.99


def test_late_sends_are_counted_by_the_second_they_were_due_in():
    # 10 sends due at once at t=0 and 10 more at t=1.2 s; each blocks the loop 3 ms when
    # it starts, so in each group the later ones start over LATE_SEND_MS behind, and are
    # counted in the second they were due in (a busy machine can only add late sends).
    async def op(i: int) -> None:
        time.sleep(0.003)  # noqa: the point is to block the loop

    def offsets():
        yield from [0.0] * 10
        yield from [1.2] * 10

    schedule = schedules.Schedule("test", {}, offsets)
    result = run(loadgen.run_open(op, schedule, max_requests=20, duration_s=2))
    late = result.timeline["late"]
    behind = 10 - 1 - int(loadgen.LATE_SEND_MS / 3)  # those behind > 5 ms of blocking
    assert len(late) == 2 and late[0] >= behind and late[1] >= behind
    assert sum(late) <= 20
    assert result.to_dict()["timeline"]["late"] == late  # kept in the JSON


def test_a_shared_start_in_the_past_is_lag_and_one_in_the_future_is_waited_for():
    started: list[float] = []

    async def op(i: int) -> None:
        started.append(time.perf_counter())

    late = run(loadgen.run_open(op, schedules.constant(1000), max_requests=3,
                                start_at=time.perf_counter() - 0.05))
    assert late.config["shared_start"] is True
    assert late.schedule_lag.percentile_ms(50) >= 50 * 0.99  # started 50 ms after the zero

    async def future_start() -> float:
        at = time.perf_counter() + 0.05
        await loadgen.run_open(op, schedules.constant(1000), max_requests=3, start_at=at)
        return at

    started.clear()
    at = run(future_start())
    assert len(started) == 3 and min(started) >= at  # nothing left before the shared zero


def test_a_burst_can_be_judged_by_its_window_alone_however_slow_the_answers():
    async def slow(i: int) -> None:
        await asyncio.sleep(0.4)

    def lag_check(share):
        r = run(loadgen.run_open(slow, schedules.constant(100), max_requests=3,
                                 max_lag_p99_ms=10, max_lag_share_of_p50=share))
        r.schedule_lag = LatencyHistogram()
        r.schedule_lag.record_us(15_000)  # 15 ms: over 10 ms, under 5 % of a ~400 ms p50
        return {c["check"]: c for c in r.self_checks()}["schedule_lag"]

    assert lag_check(loadgen.MAX_LAG_SHARE_OF_P50)["ok"]  # 5 % of p50 (~20 ms) allows it
    assert not lag_check(0.0)["ok"]  # the fixed 10 ms alone does not


def test_send_cost_script_measures_a_few_queries_and_refuses_bad_options(tmp_path):
    """scripts/send_cost.py (the loop CPU per query sent): a tiny run, and usage errors."""
    import importlib.util
    from pathlib import Path

    from click.testing import CliRunner

    path = Path(__file__).resolve().parents[1] / "scripts" / "send_cost.py"
    spec = importlib.util.spec_from_file_location("send_cost", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for bad in (["--queries", "0"], ["--rounds", "0"], ["--loop", "trio"]):
        assert CliRunner().invoke(module.main, bad).exit_code == exitcodes.USAGE
    result = CliRunner().invoke(module.main, ["--queries", "4", "--rounds", "1",
                                              "--out", str(tmp_path)])
    assert result.exit_code == exitcodes.OK, result.output
    data = json.loads((tmp_path / "send_cost.json").read_text())
    assert len(data["loop_cpu_ms_per_query"]) == 1 and data["loop_cpu_ms_per_query"][0] > 0
    assert "warm connections: 12" in result.output  # one per expert request
    assert "(0 failed)" in result.output and "loop CPU per query sent, median" in result.output
    assert "Python function calls per query" in result.output


@pytest.mark.parametrize("model", ["open", "closed"])
def test_runs_record_how_long_the_loop_thread_waited_for_a_cpu(model):
    async def op(i: int) -> None:
        await asyncio.sleep(0.001)

    if model == "open":
        result = run(loadgen.run_open(op, schedules.constant(200), duration_s=0.2))
    else:
        result = run(loadgen.run_closed(op, concurrency=2, duration_s=0.2))
    summary = result.summary()
    if Path("/proc/thread-self/schedstat").exists():  # Linux: measured
        assert summary["generator_cpu_wait_ms"] >= 0
        assert summary["generator_wakeups_count"] >= 1  # it slept and woke up at least once
    else:
        assert summary["generator_cpu_wait_ms"] is None
        assert summary["generator_wakeups_count"] is None


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_precise_sends_never_leave_before_their_intended_time(loop_name):
    # A millisecond timer can wake a send early (uvloop runs a delay under 0.5 ms at
    # once); with precise_s the last stretch is waited for by yielding, so none is early.
    from codeperf.load import event_loops

    if loop_name == "uvloop" and not event_loops.uvloop_installed():
        pytest.skip("uvloop not installed")
    sent: list[tuple[int, float]] = []

    async def op(i: int) -> None:
        sent.append((i, time.perf_counter()))

    async def main() -> tuple[float, loadgen.LoadResult]:
        start = time.perf_counter() + 0.02
        result = await loadgen.run_open(op, schedules.constant(1400), duration_s=0.1,
                                        start_at=start, precise_s=0.002)
        return start, result

    with asyncio.Runner(loop_factory=event_loops.factory(loop_name)) as runner:
        start, result = runner.run(main())
    offsets = list(itertools.islice(schedules.constant(1400).offsets(), 200))
    assert len(sent) == result.sent == 140
    assert all(t >= start + offsets[i] for i, t in sent)  # never before it was due
    assert result.config["precise_s"] == 0.002


@pytest.mark.parametrize("precise_s", [-0.001, 1.0])
def test_precise_s_out_of_range_is_refused(precise_s):
    async def op(i: int) -> None:
        pass

    with pytest.raises(ValueError, match="precise_s"):
        run(loadgen.run_open(op, schedules.constant(10), duration_s=0.1, precise_s=precise_s))
