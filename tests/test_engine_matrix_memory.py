"""The consensus matrix exists once: the Rust backend computes it straight into the
array('d') it returns (Python heap), never as a Rust vector plus a copy. Byte counts
of allocations, not timings: deterministic."""

from __future__ import annotations

import gc
import tracemalloc

from codeperf import _rust
from codeperf.engine import backend
from codeperf.engine.validation import matrix_bytes


def _peaks(fn):
    """(Rust-heap peak, Python-heap peak) of one call, in bytes above the start."""
    gc.collect()
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        rust_start = _rust.allocation_stats()["current_bytes"]
        _rust.reset_peak()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
        rust_peak = _rust.allocation_stats()["peak_bytes"] - rust_start
    finally:
        tracemalloc.stop()
    return rust_peak, peak - start, result


def test_rust_matrix_is_computed_into_the_returned_array():
    n = 400  # 79,800 pairs: a 638,400-byte matrix, far more than the tiny analyses need
    responses = [dict(expert=f"e{i}", model="m", content=f"pool cache w{i % 7}", confidence=0.5,
                      latency_ms=1.0, prompt_tokens=1, completion_tokens=1, cost_usd=0.0)
                 for i in range(n)]
    rust = backend("rust")
    rust.compute_consensus(responses)  # one-time costs (thread pool, caches) paid first
    rust_peak, python_peak, out = _peaks(lambda: rust.compute_consensus(responses))
    assert len(out["matrix"]) == n * (n - 1) // 2
    assert python_peak >= matrix_bytes(n)  # the array lives in the Python heap ...
    assert rust_peak < matrix_bytes(n) // 2  # ... and Rust never held a second copy
