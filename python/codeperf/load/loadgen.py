"""The load generator: closed and open models, arrival schedules, and its own self-checks.

- Closed model (`run_closed`): N workers, each sends, waits for the answer, sends
  again. It measures service time as the client sees it, but a stalled server
  also stalls the senders, so a stall shows in very few samples (coordinated
  omission). Use it for "how many at once", never for latency under a rate.
- Open model (`run_open`): requests leave on a schedule (`constant`, `poisson`,
  `ramp`, `burst`) whether or not earlier ones have answered, and latency is
  measured from the *intended* send time, so a stall shows in every request
  that should have been sent during it.

Both end: a duration or a request budget, then at most `drain_timeout_s` for
the requests still in flight, which are then cancelled and counted as errors
of kind "unfinished". Whatever the budget, a run never lasts longer than
`max_duration_s` (default `MAX_DURATION_S`), so a request budget against an
operation that hangs still ends.

The caller may pass the `LoadResult` to fill (`result=LoadResult()`): it is
filled as requests complete, and when the run is interrupted (Ctrl-C, SIGTERM,
cancellation) the caller still holds everything measured so far, with
`complete` False (scenarios record it as a partial entry). Latencies go into `LatencyHistogram` (HdrHistogram,
encoded in the JSON). Throughput counts successes only. Errors are counted by
kind: connect, timeout, http_<status>, protocol, engine, unfinished,
client_backlog (the open model's in-flight cap refused to send), other.

The generator checks itself (`LoadResult.self_checks`): achieved vs offered
send rate, schedule lag p99, and the CPU of the event-loop thread that drives
it; a run where the generator was the bottleneck is `valid: false`.

An open-model run pauses Python's cyclic garbage collector from its first
send to its end (`pause_gc`, on by default; recorded in the run's config). A
full collection of this process's heap stopped the event loop for 45-290 ms in
the middle of a 100 ms burst on 2 shared cores, so the sends after it left
late all at once: the generator's pause, measured as if it were the target's.
Reference counting still frees everything that is not a cycle; the few cycles
a run makes (about 1,400 objects over a burst run) wait for the next collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterator

import psutil

from codeperf.harness.envelope import Interrupted
from codeperf.harness.latency import LatencyHistogram
from codeperf.harness.request_errors import classify_error
from codeperf.harness.sched import thread_schedstat
from codeperf.load.schedules import Schedule

Op = Callable[[int], Awaitable[Any]]  # op(request_index); raises on failure
Progress = Callable[[str], None]
# stop_when(seconds since start, result so far, requests in flight) -> a reason to stop
# sending now (e.g. "oversaturated"), or None to go on. Asked before every send.
StopWhen = Callable[[float, "LoadResult", int], "str | None"]

# Self-check thresholds (overridable per run). The loop thread at >= 90% of a
# core means requests wait for the generator, not the server.
MAX_LOOP_CPU_PCT = 90.0
MIN_SEND_RATIO = 0.95
MAX_LAG_P99_MS = 10.0
# ... or this share of the run's latency p50, when larger. A late send is charged to the
# target (latency counts from the intended send), and what delays sends also delays the
# loop that reads replies: blocking the generator's loop at 70/s against a 500 ms model
# (2 shared cores) moved p95 by +0.3 % at lag p99 12 ms, +2.8 % at 25 ms, +7 % at 43 ms
# (docs/load.md, "Schedule lag"). 5 % of p50 keeps that error to a few percent; a fixed
# 10 ms failed a quiet machine's sweep (lag p99 10.5 ms against a ~550 ms p50) on a disk write.
MAX_LAG_SHARE_OF_P50 = 0.05
# The CPU share is judged only over a run at least this long: over a few
# milliseconds (three instant connection failures) the loop's own start-up is
# most of the time, and 100 % says nothing about the generator keeping up.
MIN_CPU_JUDGED_S = 0.5
# The hard bound on any run, drain included, when the caller gives none: a request
# budget alone must not run forever against a target that stops answering.
MAX_DURATION_S = 600.0
# A send later than this is counted in the timeline's `late` series, by the second of
# the schedule it was due in: whether a run's lag was its first second (start-up,
# warm-up) or spread over the run, which lag p99 alone cannot say.
LATE_SEND_MS = 5.0


# ---------------------------------------------------------------- results
@dataclass
class LoadResult:
    """What one run measured. `summary()` for tables; `to_dict()` keeps the raw data."""

    model: str = ""  # "closed" or "open"; set by the runner
    config: dict[str, Any] = field(default_factory=dict)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)  # successes, from intended send
    service: LatencyHistogram = field(default_factory=LatencyHistogram)  # successes, from actual send
    schedule_lag: LatencyHistogram = field(default_factory=LatencyHistogram)  # open model only
    errors: Counter = field(default_factory=Counter)
    sent: int = 0
    ok: int = 0
    offered: int | None = None  # sends the schedule asked for (open model)
    sent_on_schedule: int = 0  # sends dispatched before the schedule window closed
    elapsed_s: float = 0.0  # start to last completion (or cancellation)
    send_window_s: float = 0.0
    loop_cpu_s: float = 0.0
    process_cpu_s: float = 0.0
    # The loop thread's time ready to run but waiting for a CPU, and its times put on a CPU
    # (Linux schedstat; None elsewhere): a late send while the thread waited was the
    # machine's, not the generator's own work.
    loop_wait_s: float | None = None
    loop_wakeups: int | None = None
    max_in_flight: int = 0
    complete: bool = False  # the run reached its budget and drained; False if interrupted
    stopped_by: str | None = None  # "budget" | "max_duration" | "interrupted" | "stop_when"
    stop_reason: str | None = None  # what stop_when said when it ended sending early
    # Per second of the run: sent, ok, errors; `late` (open model): sends more than
    # LATE_SEND_MS behind schedule, by the second they were due in.
    timeline: dict[str, list[int]] = field(default_factory=lambda: {
        "sent": [], "ok": [], "errors": [], "late": []})
    thresholds: dict[str, float] = field(default_factory=lambda: {
        "max_loop_cpu_pct": MAX_LOOP_CPU_PCT, "min_send_ratio": MIN_SEND_RATIO,
        "max_lag_p99_ms": MAX_LAG_P99_MS, "max_lag_share_of_p50": MAX_LAG_SHARE_OF_P50})

    @property
    def errors_total(self) -> int:
        return sum(self.errors.values())

    def _tick(self, series: str, t_rel: float) -> None:
        bucket = self.timeline[series]
        i = max(0, int(t_rel))
        if i >= len(bucket):
            bucket.extend([0] * (i + 1 - len(bucket)))
        bucket[i] += 1

    def summary(self) -> dict[str, Any]:
        attempts = self.ok + self.errors_total
        lat = self.latency.summary()
        s: dict[str, Any] = {
            "requests_count": self.sent,
            "ok_count": self.ok,
            "errors_count": self.errors_total,
            "error_rate_pct": 100.0 * self.errors_total / attempts if attempts else None,
            "duration_s": self.elapsed_s,
            "throughput_rps": self.ok / self.elapsed_s if self.elapsed_s > 0 else None,
            "offered_rps": (self.offered / self.send_window_s
                            if self.offered is not None and self.send_window_s > 0 else None),
            "achieved_send_rps": (self.sent_on_schedule / self.send_window_s
                                  if self.send_window_s > 0 else None),
            "max_in_flight_count": self.max_in_flight,
            **{k: v for k, v in lat.items() if k != "count"},
            "service_p50_ms": self.service.percentile_ms(50),
            "service_p99_ms": self.service.percentile_ms(99),
            "schedule_lag_p50_ms": self.schedule_lag.percentile_ms(50),
            "schedule_lag_p99_ms": self.schedule_lag.percentile_ms(99),
            "schedule_lag_max_ms": (self.schedule_lag.summary()["max_ms"]
                                    if self.schedule_lag.count else None),
            "generator_cpu_pct": self.loop_cpu_pct,
            "generator_cpu_wait_ms": (1000.0 * self.loop_wait_s
                                      if self.loop_wait_s is not None else None),
            "generator_wakeups_count": self.loop_wakeups,
            "process_cpu_pct": (100.0 * self.process_cpu_s / self.elapsed_s
                                if self.elapsed_s > 0 else None),
        }
        return s

    @property
    def loop_cpu_pct(self) -> float | None:
        return 100.0 * self.loop_cpu_s / self.elapsed_s if self.elapsed_s > 0 else None

    def self_checks(self) -> list[dict[str, Any]]:
        """Was the generator, not the target, the bottleneck? One check per symptom."""
        checks = []
        cpu = self.loop_cpu_pct
        limit = self.thresholds["max_loop_cpu_pct"]
        if cpu is not None and self.elapsed_s < MIN_CPU_JUDGED_S:
            checks.append({"check": "generator_cpu", "ok": True, "judged": False,
                           "detail": f"not judged: the run lasted {self.elapsed_s * 1000:.0f} ms "
                                     f"(< {MIN_CPU_JUDGED_S:g} s), too short for a CPU share "
                                     f"({cpu:.0f}% of a core)"})
        else:
            checks.append({"check": "generator_cpu", "ok": cpu is not None and cpu < limit,
                           "detail": f"event-loop thread used {cpu:.0f}% of a core (limit "
                                     f"{limit:.0f}%)" if cpu is not None else "not measured"})
        if self.model == "open":
            ratio = self.sent_on_schedule / self.offered if self.offered else 0.0
            need = self.thresholds["min_send_ratio"]
            checks.append({"check": "send_rate", "ok": ratio >= need,
                           "detail": f"sent {self.sent_on_schedule} of {self.offered} offered within "
                                     f"the schedule window ({100 * ratio:.1f}%, need "
                                     f"{100 * need:.0f}%)"})
            lag = self.schedule_lag.percentile_ms(99)
            max_lag, why = self.max_lag_p99_ms()
            checks.append({"check": "schedule_lag", "ok": lag is not None and lag <= max_lag,
                           "detail": f"schedule lag p99 {lag:.2f} ms (limit {max_lag:.3g} ms{why})"
                           if lag is not None else "no sends"})
            backlog = self.errors.get("client_backlog", 0)
            checks.append({"check": "in_flight_cap", "ok": backlog == 0,
                           "detail": f"{backlog} sends refused by the in-flight cap "
                                     f"({self.config.get('max_in_flight')})"})
        return checks

    def max_lag_p99_ms(self) -> tuple[float, str]:
        """The schedule-lag limit: the fixed one, or a share of latency p50 when larger."""
        fixed = self.thresholds["max_lag_p99_ms"]
        share = self.thresholds.get("max_lag_share_of_p50", 0.0)
        p50 = self.latency.percentile_ms(50) if self.latency.count else None
        if p50 is not None and share * p50 > fixed:
            return share * p50, f": {100 * share:g} % of latency p50 {p50:.0f} ms"
        return fixed, ""

    @property
    def valid(self) -> bool:
        return all(c["ok"] for c in self.self_checks())

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "config": self.config,
            "complete": self.complete,
            "stopped_by": self.stopped_by,
            "stop_reason": self.stop_reason,
            "summary": self.summary(),
            "errors_by_kind": dict(sorted(self.errors.items())),
            "histogram": self.latency.to_dict(),
            "service_histogram": self.service.to_dict(),
            "schedule_lag_histogram": self.schedule_lag.to_dict() if self.model == "open" else None,
            "timeline": {"bucket_s": 1.0, **self.timeline},
            "self_checks": self.self_checks(),
            "valid": self.valid,
        }


# ---------------------------------------------------------------- runners
class _Meter:
    """CPU and run-queue wait of the loop thread, CPU of the process, taken on the loop thread."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self.t0 = time.perf_counter()
        self.thread0 = time.thread_time()
        self.sched0 = thread_schedstat()
        c = self._proc.cpu_times()
        self.proc0 = c.user + c.system

    def finish(self, result: LoadResult) -> None:
        c = self._proc.cpu_times()
        result.elapsed_s = time.perf_counter() - self.t0
        result.loop_cpu_s = time.thread_time() - self.thread0
        result.process_cpu_s = c.user + c.system - self.proc0
        sched = thread_schedstat()
        if sched is not None and self.sched0 is not None:
            result.loop_wait_s = sched.wait_s - self.sched0.wait_s
            result.loop_wakeups = sched.slices - self.sched0.slices


async def _report_progress(result: LoadResult, progress: Progress | None, in_flight: Callable[[], int],
                           every_s: float) -> None:
    if progress is None:
        return
    start = time.perf_counter()
    last_ok = 0
    while True:
        await asyncio.sleep(every_s)
        rate = (result.ok - last_ok) / every_s
        last_ok = result.ok
        progress(f"t={time.perf_counter() - start:5.1f}s sent={result.sent} ok={result.ok} "
                 f"errors={result.errors_total} in_flight={in_flight()} ok_rate={rate:.0f}/s")


def _check_budget(duration_s: float | None, max_requests: int | None, max_duration_s: float
                  ) -> None:
    if duration_s is None and max_requests is None:
        raise ValueError("a run needs duration_s or max_requests (or both), so it always ends")
    if not max_duration_s > 0 or not math.isfinite(max_duration_s):
        raise ValueError("max_duration_s must be a positive number of seconds, so it always ends")



async def _attempt(op: Op, i: int, result: "LoadResult",
                   t0: float) -> float | None:
    """Run request `i`, count its outcome in `result`; the end time on success, else None.

    Both load models share this, so errors are classified and counted one way.
    """
    try:
        await op(i)
    except (asyncio.CancelledError, Interrupted):
        result.errors["unfinished"] += 1
        raise
    except Exception as exc:
        result.errors[classify_error(exc)] += 1
        result._tick("errors", time.perf_counter() - t0)
        return None
    end = time.perf_counter()
    result.ok += 1
    result._tick("ok", end - t0)
    return end

async def run_closed(op: Op, *, concurrency: int, duration_s: float | None = None,
                     max_requests: int | None = None, drain_timeout_s: float = 30.0,
                     max_duration_s: float = MAX_DURATION_S, result: LoadResult | None = None,
                     progress: Progress | None = None, progress_every_s: float = 2.0
                     ) -> LoadResult:
    """`concurrency` workers, each sending its next request when the previous one answered.

    Sending stops at `duration_s` or after `max_requests`; requests still in flight
    get `drain_timeout_s`; the whole run never exceeds `max_duration_s`.
    """
    _check_budget(duration_s, max_requests, max_duration_s)
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    result = _start(result, "closed", {
        "concurrency": concurrency, "duration_s": duration_s, "max_requests": max_requests,
        "drain_timeout_s": drain_timeout_s, "max_duration_s": max_duration_s})
    meter = _Meter()
    t0 = meter.t0
    send_for = min(duration_s, max_duration_s) if duration_s is not None else max_duration_s
    deadline = t0 + send_for
    # The hard end: the duration's drain, or max_duration_s, whichever comes first.
    natural_end_s = duration_s + drain_timeout_s if duration_s is not None else math.inf
    hard_end = t0 + min(max_duration_s, natural_end_s)
    counter = iter(range(max_requests) if max_requests is not None else _count())
    in_flight = 0
    perf = time.perf_counter
    latency, service = result.latency, result.service

    async def worker() -> None:
        nonlocal in_flight
        for i in counter:
            start = perf()
            if start >= deadline:
                return
            result.sent += 1
            result._tick("sent", start - t0)
            in_flight += 1
            result.max_in_flight = max(result.max_in_flight, in_flight)
            try:
                end = await _attempt(op, i, result, t0)
            finally:
                in_flight -= 1
            if end is not None:
                micros = (end - start) * 1e6
                latency.record_us(micros)
                service.record_us(micros)

    reporter = asyncio.ensure_future(_report_progress(result, progress, lambda: in_flight,
                                                      progress_every_s))
    workers = {asyncio.ensure_future(worker()) for _ in range(concurrency)}
    try:
        # A worker only raises when SIGTERM's Interrupted landed inside it: end the run then.
        _, pending = await asyncio.wait(workers, timeout=max(0.0, hard_end - perf()),
                                        return_when=asyncio.FIRST_EXCEPTION)
        _reraise_interrupted(workers)
        if pending and perf() < hard_end:  # an exception that was not Interrupted: keep waiting
            _, pending = await asyncio.wait(pending, timeout=max(0.0, hard_end - perf()))
        result.stopped_by = ("max_duration" if pending and max_duration_s <= natural_end_s
                             else "budget")
        for task in pending:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        result.complete = True
    finally:
        reporter.cancel()
        await _cancel_and_wait(workers)
        if not result.complete:
            result.stopped_by = "interrupted"
        result.send_window_s = min(perf(), deadline) - t0
        result.sent_on_schedule = result.sent
        meter.finish(result)
    return result


def _reraise_interrupted(tasks: Any) -> None:
    for task in tasks:
        if task.done() and not task.cancelled() and isinstance(task.exception(), Interrupted):
            raise task.exception()


def _start(result: LoadResult | None, model: str, config: dict[str, Any]) -> LoadResult:
    """The caller's result object (or a new one), set up for a run of `model`."""
    if result is None:
        result = LoadResult()
    if result.model or result.sent:
        raise ValueError("a LoadResult records one run; pass a fresh one")
    result.model = model
    result.config.update(config)
    return result


async def _cancel_and_wait(tasks: set[asyncio.Task] | list[asyncio.Task], grace_s: float = 5.0
                           ) -> None:
    """Cancel what is still running and let it unwind (so `unfinished` is counted), bounded."""
    live = [t for t in tasks if not t.done()]
    for task in live:
        task.cancel()
    if live:
        try:
            await asyncio.wait(live, timeout=grace_s)
        except asyncio.CancelledError:  # cancelled again while unwinding: stop waiting
            pass


def _count() -> Iterator[int]:
    i = 0
    while True:
        yield i
        i += 1


async def run_open(op: Op, schedule: Schedule, *, duration_s: float | None = None,
                   max_requests: int | None = None, max_in_flight: int = 10_000,
                   drain_timeout_s: float = 30.0, max_duration_s: float = MAX_DURATION_S,
                   result: LoadResult | None = None, progress: Progress | None = None,
                   progress_every_s: float = 2.0, max_lag_p99_ms: float = MAX_LAG_P99_MS,
                   stop_when: StopWhen | None = None, pause_gc: bool = True,
                   start_at: float | None = None,
                   max_lag_share_of_p50: float = MAX_LAG_SHARE_OF_P50,
                   precise_s: float = 0.0) -> LoadResult:
    """Send on `schedule` regardless of answers; latency counts from the intended send time.

    Sending covers `duration_s` of the schedule (or `max_requests` sends); requests
    still in flight get `drain_timeout_s`; the whole run never exceeds `max_duration_s`.
    `stop_when` may end sending early (e.g. over-saturation): the run then counts as
    offered only what the schedule asked for until then, and says why (`stop_reason`).
    With `pause_gc` the cyclic garbage collector does not run during the run
    (see the module docstring). `start_at` (a `time.perf_counter()` value) is the
    schedule's zero when several generators share one schedule: the run waits for
    it, and a run that starts after it counts the difference as schedule lag.
    `max_lag_share_of_p50` 0 judges the lag by `max_lag_p99_ms` alone (a burst:
    its window is the point, however slow the answers).
    `precise_s` > 0: a send due within that many seconds is waited for by yielding to
    the loop until it is due instead of by a timer. The loops' timers are whole
    milliseconds (uvloop runs a delay under 0.5 ms at once, early; a 0.7 ms sleep took
    1.1 ms), so a send a timer waits for leaves up to ~1.5 ms late, or early. Yielding
    costs the loop's CPU for that long before every send: for a burst's spike
    (its sends are under a millisecond apart anyway), not for a steady rate.
    """
    with _gc_paused(pause_gc):
        return await _run_open(op, schedule, duration_s=duration_s, max_requests=max_requests,
                               max_in_flight=max_in_flight, drain_timeout_s=drain_timeout_s,
                               max_duration_s=max_duration_s, result=result, progress=progress,
                               progress_every_s=progress_every_s, max_lag_p99_ms=max_lag_p99_ms,
                               stop_when=stop_when, pause_gc=pause_gc, start_at=start_at,
                               max_lag_share_of_p50=max_lag_share_of_p50, precise_s=precise_s)


@contextlib.contextmanager
def _gc_paused(pause: bool) -> Iterator[None]:
    was_enabled = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if pause and was_enabled:
            gc.enable()


async def _run_open(op: Op, schedule: Schedule, *, duration_s: float | None,
                    max_requests: int | None, max_in_flight: int, drain_timeout_s: float,
                    max_duration_s: float, result: LoadResult | None, progress: Progress | None,
                    progress_every_s: float, max_lag_p99_ms: float,
                    stop_when: StopWhen | None, pause_gc: bool,
                    start_at: float | None, max_lag_share_of_p50: float,
                    precise_s: float) -> LoadResult:
    _check_budget(duration_s, max_requests, max_duration_s)
    if not 0.0 <= precise_s < 1.0:
        raise ValueError("precise_s must be in [0, 1) seconds")
    window = min(duration_s, max_duration_s) if duration_s is not None else max_duration_s
    result = _start(result, "open", {
        "schedule": schedule.describe(), "duration_s": duration_s, "max_requests": max_requests,
        "max_in_flight": max_in_flight, "drain_timeout_s": drain_timeout_s,
        "max_duration_s": max_duration_s, "gc_paused": pause_gc,
        "shared_start": start_at is not None, "precise_s": precise_s})
    result.thresholds["max_lag_p99_ms"] = max_lag_p99_ms
    result.thresholds["max_lag_share_of_p50"] = max_lag_share_of_p50
    result.offered = schedule.count_before(window, max_requests)
    loop = asyncio.get_running_loop()
    perf = time.perf_counter
    tasks: set[asyncio.Task] = set()
    latency, service, lag = result.latency, result.service, result.schedule_lag
    late_s = LATE_SEND_MS / 1000.0

    async def one(i: int, intended: float) -> None:
        # The send is when this task starts, not when the dispatcher created it: behind
        # schedule, the dispatcher creates tasks without yielding, and they all start
        # later, when it does. Lag taken at creation said a 300-query burst left on time
        # (lag p99 68 ms) while its last query started 246 ms after the spike began.
        sent = perf()
        lag.record_us((sent - intended) * 1e6)
        if sent - intended > late_s:
            result._tick("late", intended - t0)
        end = await _attempt(op, i, result, t0)
        if end is not None:
            latency.record_us((end - intended) * 1e6)
            service.record_us((end - sent) * 1e6)

    interrupted: list[asyncio.Task] = []  # requests that SIGTERM's Interrupted landed in

    def on_done(task: asyncio.Task) -> None:
        tasks.discard(task)
        if not task.cancelled() and isinstance(task.exception(), Interrupted):
            interrupted.append(task)

    if start_at is not None and start_at > perf():
        await asyncio.sleep(start_at - perf())
    reporter = asyncio.ensure_future(_report_progress(result, progress, lambda: len(tasks),
                                                      progress_every_s))
    meter = _Meter()
    t0 = meter.t0 if start_at is None else start_at
    window_end = t0 + window
    hard_end = t0 + max_duration_s
    try:
        for i, offset in enumerate(schedule.offsets()):
            if offset >= window or (max_requests is not None and i >= max_requests):
                break
            intended = t0 + offset
            delay = intended - perf()
            if delay > precise_s:
                await asyncio.sleep(delay - precise_s)
            if precise_s:  # the last stretch: yield (other tasks run) until it is due
                while perf() < intended:
                    await asyncio.sleep(0)
            if interrupted:
                _reraise_interrupted(interrupted)
            now = perf()
            if now >= hard_end:  # the generator fell this far behind: stop sending
                break
            if stop_when is not None and (reason := stop_when(now - t0, result, len(tasks))):
                result.stopped_by, result.stop_reason = "stop_when", reason
                result.offered = i  # what the schedule asked for before the stop
                window_end = now
                break
            result._tick("sent", offset)
            if now <= window_end + 0.001:  # sends the schedule window still counts as on time
                result.sent_on_schedule += 1
            if len(tasks) >= max_in_flight:
                lag.record_us((now - intended) * 1e6)  # refused: its lag is the dispatcher's
                result.errors["client_backlog"] += 1
                continue
            result.sent += 1
            task = loop.create_task(one(i, intended))
            tasks.add(task)
            task.add_done_callback(on_done)
            if len(tasks) > result.max_in_flight:
                result.max_in_flight = len(tasks)
        result.send_window_s = min(perf(), window_end) - t0
        drain = min(drain_timeout_s, max(0.0, hard_end - perf()))
        if tasks:
            await asyncio.wait(set(tasks), timeout=drain)
        _reraise_interrupted(interrupted)
        if result.stopped_by is None:
            result.stopped_by = "max_duration" if perf() >= hard_end else "budget"
        result.complete = True
    finally:
        reporter.cancel()
        await _cancel_and_wait(list(tasks))
        if not result.complete:
            result.stopped_by = "interrupted"
        if result.send_window_s == 0.0:
            result.send_window_s = min(perf(), window_end) - t0
        meter.finish(result)
    return result
