"""The generator's scaling benchmark (`make load-scale`): 1 worker vs N Ray workers.

In one run, on this machine:

1. Ray's own cost: the time to start a local Ray session with N worker actors
   (ready to run), and the memory (RSS) of every process it started.
2. The generator's maximum rate against the trivial endpoint
   (`codeperf.load.loadgen_selftest`), closed model, for 1 worker (in this
   process, no Ray) and N workers: through the minimal keep-alive client and
   through aiohttp (the client the scenarios use), beside `wrk -t<N>` on the
   same endpoint.
3. The open model at 10,000 requests/s on 1 and N workers: schedule lag p99.
4. The burst scenario with a spike of `burst_size` queries (3 expert requests
   each) within 100 ms, on 1 and N workers: valid or not (schedule lag p99 of
   every worker <= 100 ms, every send within the window).

Nothing is pinned: N workers need every core, and on a machine with few cores
the endpoint and the generator share them (the report says so). Every figure
is measured in the run that reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import psutil

from codeperf.harness.sched import SchedStat, machine_cpu_s, process_schedstat
from codeperf.load import event_loops, loadgen, ops, schedules
from codeperf.load.loadgen_selftest import Endpoint, raw_http_op, run_wrk
from codeperf.load.workers import OpFactory, Plan, WorkerPool

OPEN_RATE_RPS = 10_000.0
BURST_LAG_LIMIT_MS = 100.0


def _children_rss(exclude: set[int]) -> int:
    total = 0
    for child in psutil.Process().children(recursive=True):
        if child.pid in exclude:
            continue
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total


async def _in_process(factory: OpFactory, model: str, seconds: float, connections: int
                      ) -> loadgen.LoadResult:
    result = loadgen.LoadResult()
    async with factory(0, 1) as (op, _):
        if model == "closed":
            await loadgen.run_closed(op, concurrency=connections, duration_s=seconds, result=result)
        else:
            await loadgen.run_open(op, schedules.constant(OPEN_RATE_RPS), duration_s=seconds,
                                   result=result)
    return result


def _endpoint_use(before: SchedStat | None, after: SchedStat | None) -> dict[str, Any]:
    """The trivial endpoint's CPU, run-queue wait and wake-ups over one measurement."""
    if before is None or after is None:
        return {"endpoint_cpu_ms": None, "endpoint_cpu_wait_ms": None, "endpoint_wakeups": None}
    return {"endpoint_cpu_ms": 1000.0 * (after.cpu_s - before.cpu_s),
            "endpoint_cpu_wait_ms": 1000.0 * (after.wait_s - before.wait_s),
            "endpoint_wakeups": after.slices - before.slices}


def _machine_use(before: dict[str, float] | None, after: dict[str, float] | None
                 ) -> dict[str, float] | None:
    """The whole machine's CPU time per state over one measurement (all CPUs summed), in
    ms: how busy the machine was, and `steal`, the time a virtual machine's CPUs were
    taken by its host (a "quiet" guest can still lose its CPUs)."""
    if before is None or after is None:
        return None
    return {state: 1000.0 * (after[state] - before[state]) for state in after}


def _row(label: str, workers: int, result: loadgen.LoadResult) -> dict[str, Any]:
    s = result.summary()
    parts = getattr(result, "workers", None) or [result]
    loop_cpu_s = sum(w.loop_cpu_s for w in parts)
    return {"measurement": label, "workers": workers, "throughput_rps": s["throughput_rps"],
            # Successes per CPU-second of the generators' loop threads: what a worker costs,
            # for information (a shared machine lowers the wall-clock rate, not this much).
            "requests_per_loop_cpu_s": result.ok / loop_cpu_s if loop_cpu_s > 0 else None,
            "achieved_send_rps": s["achieved_send_rps"],
            "schedule_lag_p99_ms": s["schedule_lag_p99_ms"], "errors": result.errors_total,
            "generator_cpu_pct": result.loop_cpu_pct, "valid": result.valid,
            # Each generator loop thread's wait for a CPU (its own row in per_worker too).
            "generator_cpu_wait_ms": [w.summary()["generator_cpu_wait_ms"] for w in parts],
            "max_in_flight_count": [w.max_in_flight for w in parts],
            # Sends more than loadgen.LATE_SEND_MS behind, per second of the schedule: a
            # first-second (start-up) lag and a lag spread over the run read differently.
            "late_sends_by_second": list(result.timeline.get("late", [])),
            "per_worker": [w.summary() for w in getattr(result, "workers", [])]}


RATES, OPEN, BURST = "rates", "open", "burst"
PARTS = (RATES, OPEN, BURST)


def generator_rates(workers_list: Sequence[int], seconds: float, connections: int,
                    log: Callable[[str], None], loop: str = event_loops.ASYNCIO,
                    rounds: int = 3, parts: Sequence[str] = (RATES, OPEN),
                    endpoint_nice: int = 0) -> dict[str, Any]:
    """Parts 1-3: Ray overhead, closed-model rates (minimal, aiohttp; part `rates`), open
    model at 10k/s (part `open`), every generator on event loop `loop` (1 worker in this
    process, N on Ray).

    The minimal client and `wrk -t<N>` run alternately, `rounds` times each, on the
    same endpoint with the same connections and duration: one wall-clock pair on a
    shared machine is not evidence (wrk alone moved 1.5-3x between two runs a minute
    apart), so `comparison` gives both medians, their ratio and each side's spread.
    The trivial endpoint runs at niceness `endpoint_nice`.
    """
    rows: list[dict[str, Any]] = []
    wrk: list[dict[str, Any]] = []
    ray: list[dict[str, Any]] = []
    comparison: list[dict[str, Any]] = []
    with Endpoint(None, nice=endpoint_nice) as endpoint:
        url = f"http://127.0.0.1:{endpoint.port}/"
        endpoint_pid = endpoint.proc.pid if endpoint.proc else None
        for n in workers_list:
            minimal = functools.partial(raw_http_op, port=endpoint.port,
                                        connections=max(1, connections // n))
            through_aiohttp = functools.partial(ops.aiohttp_get_op, url=url,
                                                connections=max(1, connections // n))
            runs = [("closed, minimal client", minimal, "closed"),
                    ("closed, aiohttp client", through_aiohttp, "closed"),
                    (f"open {OPEN_RATE_RPS:.0f}/s, minimal client", minimal, "open")]
            with contextlib.ExitStack() as stack:
                if n == 1:
                    def run_once(label: str, factory: OpFactory, model: str) -> dict[str, Any]:
                        log(f"  1 worker (no Ray): {label}, {seconds:g} s")
                        with asyncio.Runner(loop_factory=event_loops.factory(loop)) as runner:
                            return _row(label, 1, runner.run(
                                _in_process(factory, model, seconds, connections)))
                else:
                    t0 = time.perf_counter()
                    pool = stack.enter_context(WorkerPool(n, loop=loop))
                    startup = time.perf_counter() - t0
                    rss = _children_rss({endpoint_pid} if endpoint_pid else set())
                    ray.append({"workers": n, "startup_s": startup, "rss_bytes": rss})
                    log(f"  Ray: {n} workers ready in {startup:.2f} s, its processes' RSS "
                        f"{rss / 2**20:.0f} MiB")

                    def run_once(label: str, factory: OpFactory, model: str,
                                 pool: WorkerPool = pool, n: int = n) -> dict[str, Any]:
                        log(f"  {n} workers: {label}, {seconds:g} s")
                        plan = (Plan("closed", factory, [url], concurrency=connections,
                                     duration_s=seconds) if model == "closed" else
                                Plan("open", factory, [url], schedule=schedules.constant(
                                    OPEN_RATE_RPS), duration_s=seconds))
                        merged, _, _ = asyncio.run(pool.run(plan))
                        row = _row(label, n, merged)
                        row["event_loops"] = [p.get("event_loop") for p in merged.placements]
                        return row

                def measure(label: str, factory: OpFactory, model: str) -> dict[str, Any]:
                    before = process_schedstat(endpoint_pid) if endpoint_pid else None
                    machine0 = machine_cpu_s()
                    row = run_once(label, factory, model)
                    after = process_schedstat(endpoint_pid) if endpoint_pid else None
                    return {**row, **_endpoint_use(before, after),
                            "machine_cpu_ms": _machine_use(machine0, machine_cpu_s())}

                if RATES in parts:
                    ours, theirs = [], []
                    for r in range(rounds):  # ours and wrk alternately, same endpoint
                        row = measure(*runs[0])
                        row["round"] = r + 1
                        rows.append(row)
                        ours.append(row)
                        log(f"  wrk -t{n} -c{connections}, {seconds:g} s (round {r + 1}/{rounds})")
                        run = {"threads": n, "round": r + 1,
                               **run_wrk(endpoint.port, seconds, connections, None, n)}
                        wrk.append(run)
                        theirs.append(run)
                    comparison.append(compare(n, ours, theirs))
                    rows.append(measure(*runs[1]))
                if OPEN in parts:
                    rows.append(measure(*runs[2]))
    for w in wrk:
        w.pop("stdout", None)
    return {"rows": rows, "wrk": wrk, "ray": ray, "comparison": comparison,
            "endpoint": {"processes": 1, "nice": endpoint_nice, "kind": "one asyncio process "
                         "(codeperf.load.loadgen_selftest serve), not pinned"}}


def compare(workers: int, ours: Sequence[dict[str, Any]], theirs: Sequence[dict[str, Any]]
            ) -> dict[str, Any]:
    """The minimal client's rounds beside wrk's: medians, their ratio, each side's spread."""
    mine = [r["throughput_rps"] for r in ours if r.get("throughput_rps")]
    wrks = [w["requests_per_s"] for w in theirs if w.get("requests_per_s")]
    mine_median = statistics.median(mine) if mine else None
    wrk_median = statistics.median(wrks) if wrks else None
    return {"workers": workers, "minimal_rps": mine, "wrk_rps": wrks,
            "minimal_median_rps": mine_median, "wrk_median_rps": wrk_median,
            "ratio_of_medians": (mine_median / wrk_median if mine_median and wrk_median
                                 else None),
            # Round by round, each ratio taken from two runs a few seconds apart.
            "ratio_per_round": [m["throughput_rps"] / w["requests_per_s"]
                                for m, w in zip(ours, theirs)
                                if m.get("throughput_rps") and w.get("requests_per_s")],
            "minimal_spread_x": max(mine) / min(mine) if mine else None,
            "wrk_spread_x": max(wrks) / min(wrks) if wrks else None}


def burst_spikes(workers_list: Sequence[int], burst_size: int, out_dir: Path,
                 log: Callable[[str], None], loop: str = event_loops.ASYNCIO,
                 simulator_processes: int | None = None, simulator_nice: int | None = None
                 ) -> list[dict[str, Any]]:
    """Part 4: the burst scenario (`burst_size` queries within 100 ms, twice) per worker count.

    Judged as the scenario judges it: valid when every worker's schedule lag p99 is
    within the limit (100 ms for a 100 ms spread), lag counted from the start all
    workers share. Beside it, when each spike's last query left, from the spike's
    start, on one clock for every worker: the spike left within its window when that
    is <= 100 ms (`within_spread`).
    """
    from codeperf.load.suite import run_suite

    rows = []
    for n in workers_list:
        run_dir = out_dir / f"burst-{n}-workers"
        log(f"  burst of {burst_size} queries in 100 ms on {n} worker(s) -> {run_dir}")
        run_suite(run_dir, ["burst"], quick=True, calibrate=False, workers=n,
                  options={"burst_size": burst_size, "bursts": 2}, log=lambda line: None,
                  loop=loop, simulator_processes=simulator_processes,
                  simulator_nice=simulator_nice)
        data = json.loads((run_dir / "load.json").read_text())
        entry = next((r for r in data["results"] if r.get("id", "").startswith("burst/")), None)
        if entry is None:
            rows.append({"workers": n, "valid": False, "error": data.get("errors")})
            continue
        load = entry["load"]
        lags = ([w["summary"]["schedule_lag_p99_ms"] for w in load["workers"]]
                if "workers" in load else [load["summary"]["schedule_lag_p99_ms"]])
        last_send = entry["summary"].get("spike_last_send_max_ms")
        spread_ms = 1000.0 * float(load.get("config", {}).get("schedule", {}).get("spread_s", 0.1))
        rows.append({"workers": n, "queries": burst_size, "expert_requests": burst_size * 3,
                     "valid": entry["valid"], "schedule_lag_p99_ms": lags,
                     "spike_last_send_ms": entry.get("spike_last_send_ms"),
                     "within_spread": last_send is not None and last_send <= spread_ms,
                     "event_loop": data["config"].get("event_loop"),
                     "simulator_processes": data["config"].get("simulator_processes"),
                     "simulator_nice": data["config"].get("simulator_nice"),
                     "drain_max_ms": entry["summary"].get("drain_max_ms"),
                     "errors": entry["summary"].get("errors_count")})
    return rows
