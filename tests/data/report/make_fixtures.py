"""Regenerate the report fixtures: `PYTHONPATH=python python tests/data/report/make_fixtures.py`.

Writes envelopes for all four suites in three runs, following docs/results.md
and the optional fields of docs/report.md (they double as examples for suite
authors). Every number is synthetic but internally consistent (summaries are
computed from the samples and histograms written beside them) and fixed by
seeds, so the files and the golden reports are reproducible:

- run_pass/: every suite complete, every target met;
- run_fail/: failed speedup targets, an invalid load run (generator check
  failed), an interrupted memory run, and a run.json whose mcp script is missing;
- baseline/: run_pass's twin from "an earlier commit": consensus_cosine/rust
  was faster then (its speedup regressed now), analyze/rust and the sustained
  p99 were slower (improvements now), aggregate ran on a busier machine (both
  backends 1.6x slower: its absolute times moved, its speedup did not),
  everything else drawn from the same distributions (unchanged), and a
  different rustc (drift).

bench_rust follows the suite's real shape (docs/bench_rust.md): `bench_case`
entries `<op>/<backend>/<size>` with `samples_by_process` (process i of each
backend ran back to back and shares that moment's machine factor), `speedup`
entries `<op>/<size>` whose CI is the suite's own paired bootstrap.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path
from statistics import mean, median, stdev

from codeperf.harness import stats
from codeperf.harness.contract import judge
from codeperf.harness.envelope import Envelope, write_json_atomic
from codeperf.harness.latency import LatencyHistogram
from codeperf.harness.targets import evaluate

HERE = Path(__file__).resolve().parent
TARGETS = HERE / "targets.toml"
OPS = ("analyze", "consensus_cosine", "consensus_jaccard", "aggregate")
# Median seconds per call at 100 x 2 KB.
PYTHON_S = {"analyze": 0.0062, "consensus_cosine": 0.0118, "consensus_jaccard": 0.0097,
            "aggregate": 0.0081}
RUST_S = {"analyze": 0.00041, "consensus_cosine": 0.00038, "consensus_jaccard": 0.00031,
          "aggregate": 0.00029}


def environment(variant: str, backend: str | None) -> dict:
    return {
        "cpu_model": "Fixture CPU @ 2.10GHz",
        "cpu_cores_logical": 2, "cpu_cores_physical": 1, "cpu_affinity": 2,
        "memory_total_bytes": 8 * 2**30,
        "os": "Linux-6.8.0-x86_64-with-glibc2.39",
        "python": "3.11.3", "python_implementation": "CPython",
        "rustc": "rustc 1.83.0 (90b35a623 2024-11-26)" if variant == "baseline"
        else "rustc 1.84.1 (e71f9a9a9 2025-01-27)",
        "maturin": "1.16.0", "codeperf": "0.1.0",
        "git": {"commit": ("1111111111111111111111111111111111111111" if variant == "baseline"
                           else "2222222222222222222222222222222222222222"), "dirty": False},
        "rust_extension": {"available": True, "version": "0.1.0", "build_profile": "release",
                           "rayon_threads": 2},
        "build_profile": "release",
        "backend": backend,
        "load_average": [0.5, 0.4, 0.3],
    }


def envelope(suite: str, variant: str, backend: str | None, config: dict, minute: int) -> Envelope:
    day = "2026-11-28" if variant == "baseline" else "2026-11-29"
    run_id = f"{day.replace('-', '')}T120000Z-{variant[:4]}"
    return Envelope(suite=suite, run_id=run_id, started_at=f"{day}T12:{minute:02d}:00.000+00:00",
                    finished_at=f"{day}T12:{minute + 2:02d}:30.000+00:00", complete=True,
                    environment=environment(variant, backend), config=config)


def timings(rng: random.Random, center_s: float, n: int = 20) -> list[float]:
    # Skewed like real timings: a floor plus a small positive tail.
    return [float(f"{center_s * (0.98 + abs(rng.gauss(0, 0.03))):.6g}") for _ in range(n)]


PROCESSES = 4  # pyperf worker processes per backend; 20 values = 4 x 5


def machine_factors(rng: random.Random) -> list[float]:
    # How busy the machine was while pair i (one Python and one Rust process) ran.
    return [1.0 + abs(rng.gauss(0, 0.04)) for _ in range(PROCESSES)]


def by_process(values: list[float], factors: list[float]) -> list[list[float]]:
    size = len(values) // len(factors)
    return [[float(f"{v * f:.6g}") for v in values[i * size:(i + 1) * size]]
            for i, f in enumerate(factors)]


def bench_case(op: str, backend: str, runs: list[list[float]], responses: int) -> dict:
    values = [v for run in runs for v in run]
    return {"id": f"{op}/{backend}/{responses}x2KB", "kind": "bench_case", "backend": backend,
            "op": op, "correct": True, "scale": responses, "scale_unit": "responses",
            "summary": {"median_s": median(values), "mean_s": mean(values),
                        "stdev_s": stdev(values), "values_count": len(values),
                        "processes_count": len(runs)},
            "samples": values, "samples_by_process": runs}


def bench_rust(variant: str) -> Envelope:
    rng = random.Random(f"bench-{variant}")
    env = envelope("bench_rust", variant, "rust", {"quick": False, "responses": [10, 100, 1000],
                                                   "size_bytes": 2048}, 0)
    slow = {"fail": 2.2}.get(variant, 1.0)  # the failing run's Rust is 2.2x slower
    measured = {}
    for op in OPS:
        rust_center = RUST_S[op] * slow
        if variant == "baseline" and op == "consensus_cosine":
            rust_center /= 1.3  # faster in the baseline: the current run regressed
        if variant == "baseline" and op == "analyze":
            rust_center *= 1.25  # slower in the baseline: the current run improved
        # A busier machine in the baseline slows both backends alike: times move, speedup not.
        busy = 1.6 if variant == "baseline" and op == "aggregate" else 1.0
        factors = machine_factors(rng)
        py = by_process(timings(rng, PYTHON_S[op] * busy), factors)
        rs = by_process(timings(rng, rust_center * busy), factors)
        env.results += [bench_case(op, "python", py, 100), bench_case(op, "rust", rs, 100)]
        if op == "consensus_cosine":
            for responses in (10, 1000):
                factor = responses / 100
                scaled = machine_factors(rng)
                env.results += [
                    bench_case(op, "python", by_process(
                        timings(rng, PYTHON_S[op] * factor * 1.05), scaled), responses),
                    bench_case(op, "rust", by_process(
                        timings(rng, rust_center * factor ** 0.9), scaled), responses)]
        ci = stats.ratio_of_medians(py, rs, paired=True)
        ratio = ci.ratio
        reduction = {"fail": 35.0}.get(variant, 71.5 - OPS.index(op))
        env.results.append({
            "id": f"{op}/100x2KB", "kind": "speedup", "op": op, "correct": True,
            "summary": {"speedup_x": ratio, "speedup_ci_low_x": ci.low,
                        "speedup_ci_high_x": ci.high, "memory_reduction_pct": reduction,
                        "python_peak_bytes": 1_900_000 + 1000 * OPS.index(op),
                        "rust_peak_bytes": int(1_900_000 * (1 - reduction / 100))}})
        measured[f"speedup.{op}"] = ratio
        measured[f"memory_reduction_pct.{op}"] = reduction
        env.validity.append({"check": f"correctness/{op}", "ok": True,
                             "detail": "rust and python outputs equal on the timed input"})
    env.targets = evaluate("bench_rust", measured, TARGETS)
    return env


def latencies(rng: random.Random, n: int, median_ms: float, tail: float = 0.35) -> LatencyHistogram:
    return LatencyHistogram.from_values_ms(
        median_ms * math.exp(rng.gauss(0, tail)) for _ in range(n))


def scenario(entry_id: str, hist: LatencyHistogram, duration_s: float, errors: int = 0,
             offered_rps: float | None = None, **extra: float) -> dict:
    ok = hist.count
    latency = {k: v for k, v in hist.summary().items() if k != "count"}
    return {"id": entry_id, "kind": "scenario",
            "summary": {"requests_count": ok + errors, "ok_count": ok, "errors_count": errors,
                        "error_rate_pct": 100.0 * errors / (ok + errors),
                        "duration_s": duration_s, "throughput_rps": ok / duration_s,
                        "offered_rps": offered_rps, **latency, **extra},
            "histogram": hist.to_dict()}


def over_time(rng: random.Random, seconds: int, rate: float, median_ms: float,
              stall_at: int) -> dict:
    """An open-model run's per-second counts and end-to-end histograms, a stall at `stall_at`."""
    ok = [int(rate) - (40 if s == stall_at else 0) for s in range(seconds)]
    errors = [6 if s == stall_at else 0 for s in range(seconds)]
    hists = [latencies(rng, 30, median_ms * (8 if s == stall_at else 1), 0.2).to_dict()
             for s in range(seconds)]
    return {"load": {"model": "open", "timeline": {"bucket_s": 1.0, "sent": [int(rate)] * seconds,
                                                   "ok": ok, "errors": errors}},
            "queries": {"intervals": {"bucket_s": 1.0, "end_to_end_histograms": hists}}}


def sweep_summary() -> dict:
    """A rate sweep whose circle saturates near 80 queries/s (the same in every variant)."""
    rows = []
    for offered, achieved, p50, stopped in ((20.0, 20.0, 540.0, False), (40.0, 39.8, 560.0, False),
                                            (60.0, 59.5, 600.0, False), (70.0, 69.0, 680.0, False),
                                            (80.0, 76.5, 900.0, False), (96.0, 79.0, 1900.0, True)):
        rows.append({"offered_rps": offered, "achieved_rps": achieved, "p50_ms": p50,
                     "p95_ms": p50 * 1.3, "p99_ms": p50 * 1.5, "ttft_p95_ms": p50 / 3,
                     "itl_p95_ms": 110.0, "tpot_p95_ms": 8.0, "error_rate_pct": 0.0,
                     "slo_met_pct": 100.0 if p50 < 1500 else 40.0,
                     "goodput_qps": achieved * (0.9 if p50 < 1500 else 0.4),
                     "output_tokens_per_s": achieved * 120, "oversaturated": stopped,
                     "valid": True})
    summary = {"synchronous_rps": 2.0, "throughput_rps": 80.0, "knee_rps": 80.0,
               "theoretical_knee_rps": 79.5, "knee_vs_theory_pct": 0.63, "knee_p95_ms": 1170.0,
               "max_goodput_qps": 68.85, "max_goodput_rate_rps": 80.0, "rates_count": 6,
               "oversaturated_count": 1}
    return {"id": "sweep/summary", "kind": "scenario", "summary": summary,
            "sweep": {"slo": {"e2e_ms": 2000.0}, "rows": rows, "knee_rps": 80.0,
                      "theoretical_knee_rps": 79.5, "max_goodput_rate_rps": 80.0}}


def load(variant: str) -> Envelope:
    rng = random.Random(f"load-{variant}")
    # config.systems: what the header's "Systems under test" lists (codeperf.harness.systems)
    env = envelope("load", variant, "rust", {"quick": False, "model": "open",
                                             "experts": "simulator",
                                             "systems": [{"kind": "expert", "name": n, "model": f"sim-{n}",
                                                          "endpoint": "bundled simulator"}
                                                         for n in ("fast", "balanced", "deep")]}, 3)
    single = latencies(rng, 50, 310.0, 0.2)
    batch = latencies(rng, 400, 220.0, 0.25)
    concurrent = latencies(rng, 150, 480.0, 0.3)
    pool = latencies(rng, 250, 35.0, 0.4)
    sustained_tail = 0.55 if variant == "baseline" else 0.35
    sustained = latencies(rng, 1800, 42.0, sustained_tail)
    errors = 160 if variant == "fail" else 3
    env.results += [
        scenario("single-query/sequential", single, 16.0),
        scenario("batch/closed-20", batch, 8.5, queries_per_s=400 / 8.5),
        scenario("concurrent-queries/closed-150", concurrent, 3.1, max_in_flight_ok=150),
        scenario("connection-pool/open-250", pool, 2.0, max_ok_connections=250),
        {**scenario("sustained/open-60rps", sustained, 30.0, errors=errors, offered_rps=60.0),
         **over_time(random.Random("timeline"), 8, 60.0, 42.0, stall_at=5)},
        sweep_summary(),
    ]
    by_name = {e["id"].split("/")[0]: e["summary"] for e in env.results}
    measured = {f"{name}.{key}": value for name, s in by_name.items() for key, value in s.items()}
    env.targets = evaluate("load", measured, TARGETS)
    lag_ok = variant != "fail"
    env.validity += [
        {"check": "sustained/generator_cpu", "ok": True,
         "detail": "event-loop thread used 31% of a core (limit 80%)"},
        {"check": "sustained/schedule_lag", "ok": lag_ok,
         "detail": "p99 schedule lag 3.1 ms (limit 10 ms)" if lag_ok
         else "p99 schedule lag 48.0 ms (limit 10 ms): the generator fell behind"},
    ]
    return env


def memory(variant: str) -> Envelope:
    rng = random.Random(f"memory-{variant}")
    env = envelope("memory", variant, "rust", {"quick": False, "batches": 40,
                                               "ops_per_batch": 100}, 6)
    for op in ("analyze", "consensus_cosine"):
        for backend, peak in (("python", 2_400_000), ("rust", 690_000)):
            env.results.append({"id": f"engine/{op}/{backend}/100x2KB", "kind": "component",
                                "backend": backend,
                                "summary": {"peak_traced_bytes": peak if backend == "python" else 48_000,
                                            "peak_rust_heap_bytes": 0 if backend == "python" else peak,
                                            "peak_bytes": peak}})
    for op, slope in (("consensus_cosine", 1.8), ("aggregate", -0.6)):
        env.results.append({"id": f"leak/{op}/rust", "kind": "leak", "backend": "rust",
                            "summary": {"slope_bytes_per_op": slope,
                                        "slope_ci_low_bytes_per_op": slope - 4.0,
                                        "slope_ci_high_bytes_per_op": slope + 4.0,
                                        "batches_count": 40}})
    env.results.append({"id": "leak/positive-control", "kind": "leak",
                        "summary": {"slope_bytes_per_op": 1024.3,
                                    "slope_ci_low_bytes_per_op": 1019.8,
                                    "slope_ci_high_bytes_per_op": 1028.9, "batches_count": 40}})
    times = [round(0.5 * i, 1) for i in range(41)]
    rss = [int(88_000_000 + 9_000_000 * (1 - math.exp(-t / 4)) + rng.randint(0, 300_000)) for t in times]
    traced = [int(6_000_000 + 2_500_000 * (1 - math.exp(-t / 3)) + rng.randint(0, 50_000)) for t in times]
    env.results.append({
        "id": "timeline/mixed-workload", "kind": "timeline",
        "summary": {"peak_rss_bytes": max(rss), "final_rss_bytes": rss[-1],
                    "peak_traced_bytes": max(traced)},
        "timeline": {"t_s": times, "rss_bytes": rss, "traced_bytes": traced},
        "top_growth": [
            {"site": "python/codeperf/engine/text.py:88", "size_diff_bytes": 1_204_224, "count_diff": 9_410},
            {"site": "python/codeperf/engine/consensus.py:141", "size_diff_bytes": 402_112, "count_diff": 2_001},
            {"site": "<frozen importlib._bootstrap>:241", "size_diff_bytes": 81_920, "count_diff": 640},
        ]})
    measured = {"peak_rss_mb": max(rss) / 2**20, "leak.max_bytes_per_100_ops": 180.0,
                "rust_reduction_pct.min": 71.25}
    env.targets = evaluate("memory", measured, TARGETS)
    env.validity.append({"check": "leak/positive-control", "ok": True,
                         "detail": "detected 1024 B/op injected leak (CI 1020-1029)"})
    if variant == "fail":
        env.results = env.results[:5]  # interrupted before the leak batches finished
        env.complete = False
        env.finished_at = "2026-11-29T12:07:10.000+00:00"
        env.errors.append({"kind": "interrupted", "message": "KeyboardInterrupt"})
        env.targets = evaluate("memory", {"peak_rss_mb": 91.0}, TARGETS)
    return env


def mcp(variant: str) -> Envelope:
    rng = random.Random(f"mcp-{variant}")
    env = envelope("mcp", variant, None, {"quick": False, "transport": "stdio",
                                          "servers": ["utility", "files"],
                                          "systems": [{"kind": "mcp_server", "name": n, "transport": "stdio",
                                                       "endpoint": None, "origin": "bundled"}
                                                      for n in ("utility", "files")]}, 9)
    total_calls, weighted = 0, 0.0
    for tool, center in (("utility/echo/1024B", 0.9), ("files/read/64KB", 2.6),
                         ("utility/hash/1MB", 7.4)):
        hist = latencies(rng, 500, center, 0.3)
        summary = {"calls_count": hist.count, "errors_count": 0,
                   **{k: v for k, v in hist.summary().items() if k != "count"}}
        env.results.append({"id": tool, "kind": "tool", "summary": summary,
                            "histogram": hist.to_dict()})
        total_calls += hist.count
        weighted += summary["mean_ms"] * hist.count
    for clients, rps, p95 in ((1, 610.0, 2.1), (4, 1480.0, 4.4), (16, 1720.0, 14.8)):
        env.results.append({"id": f"sweep/utility.echo/c{clients}", "kind": "sweep",
                            "scale": clients, "scale_unit": "concurrent clients",
                            "summary": {"concurrency_count": clients, "throughput_rps": rps,
                                        "p95_ms": p95}})
    env.results.append({"id": "server/utility", "kind": "server",
                        "summary": {"cpu_pct": 63.0, "peak_rss_bytes": 61_865_984}})
    env.results.append({"id": "bottleneck/utility.hash", "kind": "bottleneck",
                        "summary": {"share_of_time_pct": 71.0},
                        "note": "hashing dominates; server CPU-bound at 16 clients"})
    # Every call succeeded: the latency target is judged with this error rate beside it.
    measured = {"tool_calls.mean_ms": weighted / total_calls, "tool_calls.completed": total_calls,
                "tool_calls.error_rate_pct": 0.0}
    env.targets = evaluate("mcp", measured, TARGETS)
    env.validity.append({"check": "tool_calls/all_succeeded", "ok": True,
                         "detail": f"{total_calls} calls, 0 errors"})
    return env


SUITES = {"bench_rust": bench_rust, "load": load, "memory": memory, "mcp": mcp}


def main() -> None:
    for variant, directory in (("pass", "run_pass"), ("fail", "run_fail"), ("baseline", "baseline")):
        out = HERE / directory
        shutil.rmtree(out, ignore_errors=True)
        for suite, build in SUITES.items():
            if variant == "fail" and suite == "mcp":
                continue  # its script was missing: see run.json
            env = build(variant)
            env.outcome = judge(env.to_dict()).to_dict()  # as the suite's Recorder stores it
            write_json_atomic(out / f"{suite}.json", env.to_dict())
    record = {"run_id": "20261129T120000Z-fail", "quick": False,
              "started_at": "2026-11-29T12:00:00.000+00:00",
              "finished_at": "2026-11-29T12:12:00.000+00:00",
              "suites": [
                  {"suite": "bench_rust", "status": "failed", "exit_code": 1, "duration_s": 151.0,
                   "command": ["python", "scripts/bench_rust.py"], "log": "logs/bench_rust.log"},
                  {"suite": "load", "status": "failed", "exit_code": 1, "duration_s": 142.5,
                   "command": ["python", "scripts/load_scenarios.py"], "log": "logs/load.log"},
                  {"suite": "memory", "status": "interrupted", "exit_code": 130, "duration_s": 70.2,
                   "command": ["python", "scripts/memory_profile.py"], "log": "logs/memory.log"},
                  {"suite": "mcp", "status": "missing script", "exit_code": None, "duration_s": 0.0,
                   "command": [], "log": "logs/mcp.log"},
              ]}
    (HERE / "run_fail" / "run.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
