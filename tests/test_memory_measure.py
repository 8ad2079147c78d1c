"""The memory suite's instruments: regression, heaps, leak controls, GC, timeline, line profile.

Leak controls read the Python heap through tracemalloc, an exact byte count, so
they are deterministic on a noisy machine; tolerances are still wide.
"""

from __future__ import annotations

import gc
import math
import tracemalloc

import pytest

from codeperf.engine import BackendUnavailable, backend
from codeperf.engine.corpus import generate_responses
from codeperf.harness.regression import linear_fit, t_quantile
from codeperf.memory.controls import RetainingControl, RustRetainingControl, transient_control
from codeperf.memory.gcstats import GcMonitor, monitoring
from codeperf.memory.heaps import collect_fully, measure_peak, rust_heap
from codeperf.memory.leaks import LeakPlan, detect_leak
from codeperf.memory.lineprof import profile_lines
from codeperf.memory.timeline import TimelineSampler
from _availability import unavailable

KB = 1024
CONTROL_PLAN = LeakPlan(warmup_calls=20, batches=20, calls_per_batch=100)  # 2,000 calls


@pytest.fixture
def tracing():
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(1)
    yield
    if started:
        tracemalloc.stop()


def rust_memory_api():
    rust = rust_heap()
    if not rust.available or not hasattr(rust.module, "allocate_for_test"):
        unavailable(f"Rust heap not measurable here: {rust.reason or 'no allocate_for_test()'}")
    return rust


# ---------------------------------------------------------------- regression
@pytest.mark.parametrize("df, expected", [(1, 12.7062), (2, 4.3027), (10, 2.2281), (30, 2.0423),
                                          (1000, 1.9623)])
def test_t_quantile_matches_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=1e-3)


def test_linear_fit_exact_line_has_zero_width_interval():
    fit = linear_fit([0, 1, 2, 3], [5, 7, 9, 11])
    assert fit.slope == pytest.approx(2.0)
    assert fit.intercept == pytest.approx(5.0)
    assert fit.slope_ci_low == pytest.approx(2.0) and fit.slope_ci_high == pytest.approx(2.0)
    assert fit.r_squared == pytest.approx(1.0)


def test_linear_fit_interval_covers_true_slope_and_widens_with_noise():
    x = list(range(20))
    noise = [((i * 7919) % 13 - 6) * 0.5 for i in x]  # deterministic, mean ~0
    fit = linear_fit(x, [3.0 * xi + n for xi, n in zip(x, noise)])
    assert fit.slope_ci_low < 3.0 < fit.slope_ci_high
    wider = linear_fit(x, [3.0 * xi + 10 * n for xi, n in zip(x, noise)])
    assert (wider.slope_ci_high - wider.slope_ci_low) > (fit.slope_ci_high - fit.slope_ci_low)


def test_linear_fit_refuses_degenerate_input():
    with pytest.raises(ValueError):
        linear_fit([1, 2], [1, 2])
    with pytest.raises(ValueError):
        linear_fit([1, 1, 1], [1, 2, 3])


# ---------------------------------------------------------------- leak controls
def test_positive_control_is_flagged_at_its_rate(tracing):
    control = RetainingControl(KB)
    report = detect_leak(control, CONTROL_PLAN, label="positive")
    control.release()
    assert report.leak
    assert report.series["python_heap"].leak
    slope = report.slope("python_heap")
    assert abs(slope - KB) <= 0.20 * KB, slope  # the accuracy bar: within 20%
    assert report.calls[-1] == 2000
    # The deliberate leak's own line is the top growth site.
    assert report.growth_sites and "controls.py" in report.growth_sites[0]["site"]


def test_negative_control_is_not_flagged(tracing):
    report = detect_leak(transient_control(KB), CONTROL_PLAN, label="negative")
    assert not report.leak, {k: s.to_dict()["fit"] for k, s in report.series.items()}
    assert abs(report.slope("python_heap")) < 64


def test_leak_plan_needs_enough_batches():
    with pytest.raises(ValueError):
        LeakPlan(batches=3)


def test_python_heap_is_unmeasured_without_tracemalloc():
    if tracemalloc.is_tracing():
        pytest.skip("tracemalloc is on for the whole session")
    report = detect_leak(transient_control(KB), LeakPlan(warmup_calls=0, batches=4,
                                                          calls_per_batch=2))
    assert report.series["python_heap"].fit is None
    assert report.summary()["python_heap_bytes_per_call"] is None  # unmeasured, not zero


def test_a_leak_run_cut_short_hands_over_its_batches(tracing):
    """An op that fails in batch 6 of 8: on_stop gets the 5 batches read, fitted, marked partial."""
    control = RetainingControl(KB)
    calls = 0

    def op():
        nonlocal calls
        calls += 1
        if calls > 5 + 5 * 50:  # warm-up 5, then five full batches of 50
            raise RuntimeError("op broke")
        control()

    handed: list = []
    with pytest.raises(RuntimeError, match="op broke"):
        detect_leak(op, LeakPlan(warmup_calls=5, batches=8, calls_per_batch=50),
                    on_stop=handed.append)
    control.release()
    (report,) = handed
    assert report.partial and report.batches_done == 5
    assert report.calls == [0, 50, 100, 150, 200, 250]
    assert report.series["python_heap"].leak  # five batches still show the 1 KB per call
    entry = report.to_entry("x")
    assert entry["partial"] is True and entry["summary"]["batches_count"] == 5


def test_a_complete_leak_run_is_not_partial(tracing):
    report = detect_leak(transient_control(KB), LeakPlan(warmup_calls=0, batches=4,
                                                          calls_per_batch=5, top_sites=0))
    assert not report.partial and "partial" not in report.to_entry("x")


@pytest.mark.parametrize("name", ["python", "rust"])
def test_engine_operations_do_not_leak(tracing, name):
    try:
        engine = backend(name)
    except BackendUnavailable as exc:
        unavailable(str(exc))
    responses = generate_responses(10, 512, seed=0)
    ops = {"analyze": lambda: engine.analyze_responses(responses),
           "consensus": lambda: engine.compute_consensus(responses),
           "aggregate": lambda: engine.aggregate_responses(responses)}
    for op_name, op in ops.items():
        report = detect_leak(op, LeakPlan(warmup_calls=20, batches=5, calls_per_batch=20,
                                          top_sites=0), label=op_name)
        flagged = [k for k, s in report.series.items() if s.leak]
        assert not flagged, (op_name, flagged, report.summary())


# ---------------------------------------------------------------- Rust heap
def test_rust_heap_counts_a_known_allocation_within_10pct():
    rust = rust_memory_api()
    nbytes = 4 * 1024 * 1024
    before = rust.current()
    rust.reset_peak()
    buffer = rust.allocate_for_test(nbytes)
    grown = rust.current() - before
    assert abs(grown - nbytes) <= 0.10 * nbytes, grown
    assert rust.peak() - before >= 0.9 * nbytes
    del buffer
    assert abs(rust.current() - before) <= 0.10 * nbytes


def test_measure_peak_sees_a_transient_rust_allocation(tracing):
    rust = rust_memory_api()
    nbytes = 2 * 1024 * 1024
    m = measure_peak(lambda: rust.allocate_for_test(nbytes), rust)
    assert abs(m.rust_heap_peak_bytes - nbytes) <= 0.10 * nbytes
    assert abs(m.rust_heap_retained_bytes) <= 0.10 * nbytes  # dropped with the result
    assert m.python_heap_peak_bytes < nbytes / 10  # Rust bytes are not Python bytes


def test_rust_positive_control_is_flagged(tracing):
    rust = rust_memory_api()
    control = RustRetainingControl(rust, KB)
    report = detect_leak(control, LeakPlan(warmup_calls=10, batches=10, calls_per_batch=100,
                                           top_sites=0))
    control.release()
    assert report.series["rust_heap"].leak
    assert abs(report.slope("rust_heap") - KB) <= 0.20 * KB


def test_unbuilt_rust_heap_is_none_not_zero(monkeypatch):
    from codeperf.memory import heaps

    heap = heaps.RustHeap.__new__(heaps.RustHeap)
    heap.module, heap.reason = None, "not built"
    assert heap.current() is None and heap.peak() is None and not heap.available
    assert heaps.read_now(heap).rust_heap_bytes is None


def test_measure_peak_python_heap(tracing):
    m = measure_peak(lambda: [bytes(64) + b"x" for _ in range(10_000)])
    assert m.python_heap_peak_bytes > 10_000 * 64
    assert abs(m.python_heap_retained_bytes) < 10_000  # the list was dropped
    # No sampler given: the kernel's mark where it can be reset here, else nothing (never
    # an assertion that accepts every outcome).
    from codeperf.memory import heaps

    kernel = heaps.reset_rss_high_water_mark() and heaps.rss_high_water_mark() is not None
    assert m.rss_peak_method == ("VmHWM" if kernel else "unavailable")
    assert (m.rss_peak_bytes is not None) == kernel


# ---------------------------------------------------------------- GC
def test_gc_monitor_counts_real_collections_and_excludes_measurement():
    with monitoring() as monitor:
        for _ in range(50):
            a: list = []
            a.append(a)  # a cycle only the collector frees
        del a
        gc.collect()
        collect_fully()  # the measurement's own collections are not counted
    summary = monitor.summary()
    assert summary["gc_gen2_collections_count"] == 1
    assert summary["gc_collected_objects_count"] >= 1
    assert summary["gc_pause_total_ms"] >= 0.0
    assert summary["gc_collections_count"] == sum(
        summary[f"gc_gen{g}_collections_count"] for g in range(3))


def test_gc_monitor_removes_its_callback():
    monitor = GcMonitor()
    with monitor:
        assert monitor._callback in gc.callbacks
    assert monitor._callback not in gc.callbacks


# ---------------------------------------------------------------- timeline
def test_timeline_records_phases_as_arrays():
    sampler = TimelineSampler(interval_s=0.005, capacity=16).start()
    with sampler.phase("alpha"):
        blob = bytearray(8 * 1024 * 1024)
        for _ in range(40):  # more samples than capacity: decimated in place
            sampler.sample()
    del blob
    sampler.stop()
    data = sampler.to_dict()
    n = len(data["t_s"])
    assert 0 < n <= 16
    assert all(len(data[k]) == n for k in ("rss_bytes", "python_heap_bytes", "rust_heap_bytes",
                                           "phase_index"))
    assert data["t_s"] == sorted(data["t_s"])
    assert "alpha" in data["phases"]
    assert data["interval_s"] > 0.005  # the interval doubled when the arrays filled
    assert data["spans"][0]["phase"] == "alpha" and data["spans"][0]["end_s"] is not None


# ---------------------------------------------------------------- line profile
def _allocating_function(n: int) -> int:
    chunks = [b"y" * 1024 for _ in range(n)]
    total = sum(len(c) for c in chunks)
    return total


def test_line_profile_is_captured_as_data():
    table = profile_lines([_allocating_function], lambda: _allocating_function(20_000))
    assert table["functions_count"] == 1
    block = table["functions"][0]
    assert block["function"].endswith("_allocating_function")
    by_source = {row["source"].strip(): row for row in block["lines"]}
    row = by_source["chunks = [b\"y\" * 1024 for _ in range(n)]"]
    assert row["occurrences_count"] >= 1
    assert set(row) >= {"line", "increment_bytes", "mem_usage_bytes", "occurrences_count"}
    assert all(math.isfinite(r["mem_usage_bytes"]) for r in block["lines"])
