"""Peak memory of one operation call per backend, in a pass of its own (never inside
timed loops: tracing slows Python several times over).

Python backend: the Python-heap peak of the call (tracemalloc, relative to the
traced memory just before the call). Rust backend: the Rust-heap peak from the
extension's counting allocator (relative to its current bytes before the call)
plus the Python-heap peak of the same call (arguments read, result objects
built). Adding the two peaks is conservative: they need not coincide in time,
so Rust's total can only be overstated, never flattered.

The correctness gate has just run both backends on the same input in this
process, so one-time costs (imports, thread pools) are already paid.
"""

from __future__ import annotations

import gc
import tracemalloc
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Callable

from codeperf import engine
from codeperf.bench_rust import cases

REPETITIONS = 3
# The Python twin's traced call is measured once: tracemalloc slows it 3-7x (one traced
# consensus at 300 x 2 KB takes seconds), and its peak repeats: in the quiet full run of
# 2026-12-03 (reports/20261203T174044Z-502a1f, 100 memory entries x 3 repetitions) the
# three Python peaks differed by at most 64 bytes (<= 0.08 %). The Rust side (cheap)
# keeps its repetitions: its peaks moved by up to 3.6 % (rayon's buffers).
PYTHON_REPETITIONS = 1


@dataclass
class MemoryResult:
    op: str
    size_label: str
    python_peaks_bytes: list[int] = field(default_factory=list)
    rust_heap_peaks_bytes: list[int] = field(default_factory=list)
    rust_python_heap_peaks_bytes: list[int] = field(default_factory=list)

    @property
    def python_peak_bytes(self) -> int:
        return int(median(self.python_peaks_bytes))

    @property
    def rust_heap_peak_bytes(self) -> int:
        return int(median(self.rust_heap_peaks_bytes))

    @property
    def rust_python_heap_peak_bytes(self) -> int:
        return int(median(self.rust_python_heap_peaks_bytes))

    @property
    def rust_total_peak_bytes(self) -> int:
        return self.rust_heap_peak_bytes + self.rust_python_heap_peak_bytes

    @property
    def reduction_pct(self) -> float | None:
        """How much less peak memory the Rust call needed, in percent of Python's."""
        if self.python_peak_bytes <= 0:
            return None
        return 100.0 * (1.0 - self.rust_total_peak_bytes / self.python_peak_bytes)


def _traced_call(fn: Callable[[Any], Any], data: Any,
                 rust_module: Any | None) -> tuple[int, int | None]:
    """(Python-heap peak, Rust-heap peak or None) of one call, in bytes above the start."""
    gc.collect()
    tracemalloc.reset_peak()
    start, _ = tracemalloc.get_traced_memory()
    if rust_module is not None:
        rust_start = rust_module.allocation_stats()["current_bytes"]
        rust_module.reset_peak()
    result = fn(data)
    _, peak = tracemalloc.get_traced_memory()
    rust_peak = None
    if rust_module is not None:
        rust_peak = max(0, rust_module.allocation_stats()["peak_bytes"] - rust_start)
    del result
    return max(0, peak - start), rust_peak


def measure(op: str, size_label: str, data: Any, repetitions: int = REPETITIONS,
            operation: Callable[[str, str], Callable[[Any], Any]] = cases.operation,
            python_repetitions: int = PYTHON_REPETITIONS) -> MemoryResult:
    """Median of `repetitions` traced Rust calls and `python_repetitions` Python ones."""
    rust_module = engine.backend("rust").module  # type: ignore[attr-defined]
    python_fn = operation(op, "python")
    rust_fn = operation(op, "rust")
    result = MemoryResult(op, size_label)
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    try:
        for i in range(max(repetitions, python_repetitions)):
            if i < python_repetitions:
                py_peak, _ = _traced_call(python_fn, data, None)
                result.python_peaks_bytes.append(py_peak)
            if i >= repetitions:
                continue
            rs_py_peak, rs_peak = _traced_call(rust_fn, data, rust_module)
            result.rust_python_heap_peaks_bytes.append(rs_py_peak)
            result.rust_heap_peaks_bytes.append(int(rs_peak or 0))
    finally:
        if started_here:
            tracemalloc.stop()
    return result
