"""The engine's operations on each backend: peak memory per call, Rust vs Python, leaks.

The input is built before each measurement, so only what the operation itself
allocates is counted: on the Python backend that is the Python heap; on the
Rust backend the Rust heap (the conversion of the input into Rust and the work)
plus the Python heap (the result objects the extension builds). The comparison
adds each backend's two heaps; RSS is reported beside it, as RSS.
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Callable

from codeperf.engine import Backend, BackendUnavailable, backend
from codeperf.engine.corpus import generate_responses
from codeperf.memory.context import MemoryContext
from codeperf.memory.heaps import PeakMeasurement, measure_peak
from codeperf.memory.leaks import LeakPlan, LeakReport, detect_leak

REFERENCE = (100, 2048)  # the benchmark reference size: 100 responses x 2 KB
# The large size, full mode: 300 x 2 KB (the Rust-vs-Python grid's largest). It was
# 1000 x 2 KB, measured exactly so (tracemalloc peak plus the counting allocator, per op
# and backend) by bench_rust's cost curve in the same make perf: the traced quadratic
# Python twin at 1000 responses cost ~50 s here and again there (issue #15's budget).
# The 1000 x 2 KB reductions are bench_rust's (`<op>/cost/1000x2KB`, docs/bench_rust.md).
LARGE = (300, 2048)
LARGE_QUICK = (150, 2048)

OPS: dict[str, Callable[[Backend, list[Any]], Any]] = {
    "analyze": lambda b, r: b.analyze_responses(r),
    "consensus_cosine": lambda b, r: b.compute_consensus(r, similarity="cosine"),
    "consensus_jaccard": lambda b, r: b.compute_consensus(r, similarity="jaccard"),
    "aggregate": lambda b, r: b.aggregate_responses(r),
}


def size_label(n: int, size_bytes: int) -> str:
    return f"{n}x{size_bytes // 1024}KB" if size_bytes % 1024 == 0 else f"{n}x{size_bytes}B"


def backends() -> tuple[list[Backend], str | None]:
    """The backends that can run, and why Rust cannot (None when it can)."""
    found: list[Backend] = [backend("python")]
    try:
        found.insert(0, backend("rust"))
    except BackendUnavailable as exc:
        return found, str(exc)
    return found, None


def _median_summary(samples: list[PeakMeasurement]) -> dict[str, Any]:
    keys = samples[0].summary().keys()
    out: dict[str, Any] = {}
    for key in keys:
        values = [s.summary()[key] for s in samples]
        out[key] = None if any(v is None for v in values) else int(statistics.median(values))
    return out


def outputs_match(a: Any, b: Any, rel: float = 1e-9, abs_tol: float = 1e-12) -> bool:
    """Equal JSON-like values, floats within a relative tolerance (the twins round differently)."""
    if isinstance(a, float) or isinstance(b, float):
        return (isinstance(a, (int, float)) and isinstance(b, (int, float))
                and math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(outputs_match(a[k], b[k], rel, abs_tol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(outputs_match(x, y, rel, abs_tol) for x, y in zip(a, b))
    return a == b


def reduction_pct(python_bytes: int | None, rust_bytes: int | None) -> float | None:
    if python_bytes is None or rust_bytes is None or python_bytes <= 0:
        return None
    return 100.0 * (1.0 - rust_bytes / python_bytes)


def run_peaks(ctx: MemoryContext) -> None:
    found, rust_reason = backends()
    if rust_reason:
        ctx.log(f"engine: Rust backend SKIPPED ({rust_reason}); measuring Python only")
        ctx.add_result({"id": "engine/rust", "kind": "skipped", "reason": rust_reason})
    elif not ctx.rust.available:
        ctx.log(f"engine: the Rust heap cannot be read ({ctx.rust.reason}); "
                f"no Rust vs Python comparison")
    sizes = [REFERENCE, LARGE_QUICK if ctx.quick else LARGE]
    # Heap peaks of a warm call repeat to the byte or nearly: quick mode measures one.
    repeats = 1 if ctx.quick else 3
    for n, size_bytes in sizes:
        label = size_label(n, size_bytes)
        responses = generate_responses(n, size_bytes, seed=0)
        reference = (n, size_bytes) == REFERENCE
        for op_name, op in OPS.items():
            peaks: dict[str, dict[str, Any]] = {}
            outputs: dict[str, Any] = {}
            for b in found:
                call = (lambda b=b, op=op: op(b, responses))
                with ctx.sampler.phase(f"engine/{op_name}/{b.name}/{label}"):
                    if reference:
                        # The warm call fills one-time caches (compiled patterns, interned
                        # strings), which are not the operation's per-call memory; its
                        # output is the one the backends' outputs are compared on.
                        outputs[b.name] = call()
                    samples = [measure_peak(call, ctx.rust, ctx.sampled_max_rss)
                               for _ in range(repeats if reference else 1)]
                summary = _median_summary(samples)
                peaks[b.name] = summary
                if reference and summary["rss_peak_bytes"] is not None:
                    ctx.normal_load_rss_peaks[f"engine/{op_name}/{b.name}"] = summary["rss_peak_bytes"]
                ctx.add_result({
                    "id": f"engine/{op_name}/{b.name}/{label}", "kind": "peak", "backend": b.name,
                    "summary": {**summary, "input_responses_count": n,
                                "input_content_bytes": sum(len(r.content.encode()) for r in responses)},
                    "rss_peak_method": samples[0].rss_peak_method,
                    "samples": [s.summary() for s in samples]})
                ctx.log(f"engine: {op_name} {b.name} {label}: python heap peak "
                        f"{_kib(summary['python_heap_peak_bytes'])}, rust heap peak "
                        f"{_kib(summary['rust_heap_peak_bytes'])}")
            ctx.add_result(_comparison(ctx, op_name, label, reference, peaks, outputs))


def _comparison(ctx: MemoryContext, op_name: str, label: str, reference: bool,
                peaks: dict[str, dict[str, Any]], outputs: dict[str, Any]) -> dict[str, Any]:
    py = peaks.get("python", {})
    rs = peaks.get("rust")
    # Outputs are compared at the reference size (the large size is measured once, cold).
    match = (outputs_match(outputs["python"], outputs["rust"])
             if "python" in outputs and "rust" in outputs else None)
    # Without the Rust heap counter, the Rust backend's memory is unknown, not small.
    rust_total = rs["heaps_peak_sum_bytes"] if rs and ctx.rust.available else None
    pct = reduction_pct(py.get("heaps_peak_sum_bytes"), rust_total) if match is not False else None
    if match is not None:
        ctx.add_validity(f"engine-outputs-match/{op_name}/{label}", match,
                         "Rust and Python outputs compared on the measured input")
    if reference:
        ctx.rust_reductions[op_name] = pct
    if pct is not None:
        ctx.log(f"engine: {op_name} {label}: Rust uses {pct:.1f}% less memory at peak "
                f"(both heaps) than Python")
    return {"id": f"engine/{op_name}/rust_vs_python/{label}", "kind": "comparison",
            "summary": {"python_backend_heaps_peak_bytes": py.get("heaps_peak_sum_bytes"),
                        "rust_backend_heaps_peak_bytes": rust_total,
                        "python_backend_rss_peak_delta_bytes": py.get("rss_peak_delta_bytes"),
                        "rust_backend_rss_peak_delta_bytes": rs.get("rss_peak_delta_bytes") if rs else None,
                        "memory_reduction_pct": pct},
            "outputs_match": match}


def run_leaks(ctx: MemoryContext) -> None:
    found, rust_reason = backends()
    if rust_reason:
        ctx.log(f"leaks: Rust backend SKIPPED ({rust_reason}); checking Python only")
        ctx.add_result({"id": "leaks/rust", "kind": "skipped", "reason": rust_reason})
    # Quick mode uses small inputs: the twin's consensus is quadratic, and a slope needs
    # many calls more than a large input (what an operation retains per call does not
    # grow with the input unless it keeps the input, which the full run would show).
    for b in found:
        fast = b.name == "rust"
        n, size_bytes = ((25 if fast else 10), 2048) if ctx.quick else REFERENCE
        label = size_label(n, size_bytes)
        responses = generate_responses(n, size_bytes, seed=0)
        # The warm-up must outlast one-time growth (caches that fill over the first tens
        # of calls, in the extension as in Python), or its tail reads as a slope.
        if ctx.quick:
            plan = LeakPlan(warmup_calls=40 if fast else 10, batches=5,
                            calls_per_batch=25 if fast else 5)
        else:
            # Full: Rust 10 x 100 calls (was 10 x 200), the Python twin 6 x 10 (was 10 x 10,
            # about a minute of traced quadratic consensus): the slopes' intervals were
            # within a few bytes per call of 0, against 10 KB per call for the target.
            plan = LeakPlan(warmup_calls=100 if fast else 20, batches=10 if fast else 6,
                            calls_per_batch=100 if fast else 10)
        for op_name, op in OPS.items():
            leak_id = f"leaks/{op_name}/{b.name}/{label}"
            with ctx.sampler.phase(leak_id):
                report = detect_leak(lambda b=b, op=op: op(b, responses), plan, label=leak_id,
                                     rust=ctx.rust, on_stop=partial_leak(ctx, leak_id, b.name))
            ctx.add_result(report.to_entry(leak_id, backend=b.name))
            rate = report.summary()["heaps_total_bytes_per_100_ops"]
            if rate is not None:
                ctx.leak_rates[leak_id] = rate
            ctx.log(f"leaks: {op_name} {b.name} {label}: {_rate(report.summary())}"
                    f"{'  LEAK' if report.leak else ''}")


def partial_leak(ctx: MemoryContext, leak_id: str,
                 backend_name: str | None = None) -> Callable[[LeakReport], None]:
    """What a leak run cut short hands over: its batches so far, as a partial entry."""
    def record(report: LeakReport) -> None:
        ctx.add_result(report.to_entry(leak_id, backend=backend_name))
    return record


def _kib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1024:,.1f} KiB"


def _rate(summary: dict[str, Any]) -> str:
    slope = summary.get("heaps_total_bytes_per_call")
    lo = summary.get("heaps_total_ci_low_bytes_per_call")
    hi = summary.get("heaps_total_ci_high_bytes_per_call")
    if slope is None:
        return "heaps not measured"
    return f"{slope:,.1f} B/call retained (95% CI {lo:,.1f} .. {hi:,.1f})"
