"""The cost curve: one call per operation and backend at growing numbers of responses
(2 KB each, the reference family), with its time and the peak of both heaps.

Where pyperf's grid stops (300 responses), this shows what a caller pays at 1,000
to 10,000 responses and where the Python twin stops being usable. Each point is one
call, not a distribution: it gives orders of magnitude and growth, not a speedup
verdict (the grid gives those). The twin runs only up to PYTHON_MAX_RESPONSES,
where one call already takes seconds; beyond, its cells say so. At every size both
backends ran, their outputs are compared first, as in the correctness gate.

The points the twin runs (up to PYTHON_MAX_RESPONSES) are also taken on the family
where the engine saves the least memory, MEMORY_FAMILY, when the run chose it: issue
#14's memory goal holds at 1,000 x 2 KB too, on every family, and this is where it is
hardest to meet.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any, Callable

from codeperf import engine
from codeperf.bench_rust import cases, correctness, memory_pass, table
from codeperf.bench_rust.grid import REFERENCE, REFERENCE_FAMILY, Size

FULL_RESPONSES = (1000, 3000, 10000)
PYTHON_MAX_RESPONSES = 1000  # the twin's consensus takes seconds per call here, minutes at 3,000+
OPS = ("analyze", "consensus_cosine", "consensus_jaccard", "aggregate")
# The family with the least memory reduction at 100 x 2 KB for all four operations in every
# full run since the families came (2026-12-06 quiet run: code 62.2-71.8 %, the others
# 75.7-82.7 %): answers mostly fenced code, whose prose the twin holds little of, so the
# matrix and the Rust heap weigh most against it. Only its points up to
# PYTHON_MAX_RESPONSES run (the reduction needs the twin's peak): ~35 s at 1,000 responses
# for the four operations, pinned to one core at load ~1 (docs/bench_rust.md, "The cost
# curve"); every family would add ~110 s.
MEMORY_FAMILY = "code"


def parse_responses(text: str | None, quick: bool) -> tuple[int, ...]:
    """`--cost-curve`: None for the mode's default, 'none' to skip, else a comma list."""
    if text is None:
        return () if quick else FULL_RESPONSES
    if text.strip().lower() in ("none", "0", ""):
        return ()
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"{text!r} is not a comma list of response counts, e.g. 1000,10000") from None
    if not values or values[0] < 2:
        raise ValueError(f"{text!r}: response counts must be >= 2")
    return tuple(values)


def _timed(fn: Callable[[Any], Any], data: Any) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter_ns()
    result = fn(data)
    return (time.perf_counter_ns() - start) / 1e9, result


def _point(op: str, size: Size, data: Any,
           operation: Callable[[str, str], Callable[[Any], Any]]) -> dict[str, Any]:
    rust_module = engine.backend("rust").module  # type: ignore[attr-defined]
    rust_fn = operation(op, "rust")
    rust_s, rust_result = _timed(rust_fn, data)
    n = size.responses
    entry: dict[str, Any] = {
        "id": f"{op}/cost/{size.label}", "kind": "cost_curve", "op": op, "responses": n,
        "size_bytes": size.size_bytes, "family": size.family, "rust_s": rust_s,
    }
    python_result = None
    if n <= PYTHON_MAX_RESPONSES:
        entry["python_s"], python_result = _timed(operation(op, "python"), data)
        diff = correctness.first_difference(python_result, rust_result)
        entry["correct"] = diff is None
        if diff is not None:
            entry["difference"] = diff
    else:
        entry["python_s"] = None
        entry["python_skipped"] = (f"not run above {PYTHON_MAX_RESPONSES} responses: one call "
                                   "would take minutes")
    del rust_result, python_result
    # Memory in calls of their own: tracing slows Python, so it never overlaps a timed call.
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    try:
        rs_py_peak, rs_peak = memory_pass._traced_call(rust_fn, data, rust_module)
        entry["rust_heap_peak_bytes"] = int(rs_peak or 0)
        entry["rust_python_heap_peak_bytes"] = rs_py_peak
        if entry["python_s"] is not None:
            py_peak, _ = memory_pass._traced_call(operation(op, "python"), data, None)
            entry["python_peak_bytes"] = py_peak
            rust_total = entry["rust_heap_peak_bytes"] + rs_py_peak
            entry["memory_reduction_pct"] = 100.0 * (1.0 - rust_total / py_peak) if py_peak else None
        else:
            entry["python_peak_bytes"] = None
            entry["memory_reduction_pct"] = None
    finally:
        if started_here:
            tracemalloc.stop()
    return entry


SUMMARY_KEYS = ("python_s", "rust_s", "python_peak_bytes", "rust_heap_peak_bytes",
                "rust_python_heap_peak_bytes", "memory_reduction_pct")


def _with_summary(entry: dict[str, Any]) -> dict[str, Any]:
    """The measured numbers under `summary`, where the report reads a result's numbers."""
    out = {k: v for k, v in entry.items() if k not in SUMMARY_KEYS}
    out["summary"] = {k: entry[k] for k in SUMMARY_KEYS}
    return out


def sizes(responses: tuple[int, ...], families: tuple[str, ...]) -> tuple[Size, ...]:
    """The curve's inputs: every count on the reference family, and the counts the twin runs
    on MEMORY_FAMILY too when `families` (the run's --corpus) includes it."""
    out = []
    for n in responses:
        out.append(Size(n, REFERENCE.size_bytes, REFERENCE_FAMILY))
        if MEMORY_FAMILY in families and MEMORY_FAMILY != REFERENCE_FAMILY \
                and n <= PYTHON_MAX_RESPONSES:
            out.append(Size(n, REFERENCE.size_bytes, MEMORY_FAMILY))
    return tuple(out)


def run(ops: tuple[str, ...], responses: tuple[int, ...], seed: int, emit: Callable[[str], None],
        operation: Callable[[str, str], Callable[[Any], Any]] = cases.operation,
        families: tuple[str, ...] = (REFERENCE_FAMILY,)) -> list[dict[str, Any]]:
    """The cost curve's entries (kind `cost_curve`), one per (op, size of `sizes()`); a table
    to `emit`."""
    chosen = [op for op in OPS if op in ops]
    if not chosen or not responses:
        return []
    started = time.monotonic()
    emit("")
    emit(f"cost curve: one call per backend at {REFERENCE.size_bytes // 1024} KB per response "
         f"(python up to {PYTHON_MAX_RESPONSES} responses); time, peak memory (rust: both heaps)")
    emit(f"{'case':38} {'python':>9} {'rust':>9} {'python peak':>12} {'rust peak':>12} {'reduction':>9}")
    entries = []
    for size in sizes(responses, families):
        data = cases.make_input(chosen[0], size, seed)
        for op in chosen:
            e = _point(op, size, data, operation)
            entries.append(e)
            rust_peak = e["rust_heap_peak_bytes"] + e["rust_python_heap_peak_bytes"]
            reduction = "-" if e["memory_reduction_pct"] is None else f"{e['memory_reduction_pct']:.0f}%"
            gate = "" if e.get("correct", True) else "  FAIL: " + e.get("difference", "")
            emit(f"{e['id']:38} {table.fmt_seconds(e['python_s']):>9} {table.fmt_seconds(e['rust_s']):>9} "
                 f"{table.fmt_bytes(e['python_peak_bytes']):>12} {table.fmt_bytes(rust_peak):>12} "
                 f"{reduction:>9}{gate}")
            entries[-1] = _with_summary(e)
        del data
    emit(f"cost curve: {time.monotonic() - started:.0f} s")
    return entries
