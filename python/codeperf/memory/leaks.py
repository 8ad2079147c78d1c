"""Leak detection: the slope of retained memory against the number of calls.

One RSS delta around one call says nothing (allocators keep freed memory,
caches fill once). Instead: warm up, then run the operation in K batches of M
calls; after each batch collect garbage and read what is still held on each
heap; fit retained bytes against calls made (OLS, `codeperf.harness.regression`), from the end of the first
batch on (the first batch still carries the warm-up's tail). The slope is bytes
retained per call, with a 95% confidence interval.

A series is flagged as leaking when the interval's *lower* bound exceeds that
series' floor, i.e. when growth is established at 95% confidence and is larger
than measurement noise can explain:

- Python and Rust heaps are exact byte counters: floor 64 bytes/call (a leak
  smaller than a dict entry per call is below what a batch-level reading
  resolves reliably, and caches warmed after the warm-up can add a few bytes).
- RSS moves in pages and with the allocators' caches: floor 10,240 bytes/call
  (about the seed's target, 1 MB per 100 operations), so RSS flags only leaks
  large enough to matter and never on page noise.

The allocation sites that grew most between the first and last reading come
from a tracemalloc snapshot comparison (file:line).
"""

from __future__ import annotations

import fnmatch
import time
import tracemalloc
from array import array
from dataclasses import dataclass, field
from typing import Any, Callable

from codeperf.harness.regression import LinearFit, linear_fit
from codeperf.memory.heaps import READ_LOCK, RustHeap, collect_fully, python_heap, rss_bytes, rust_heap

EXACT_FLOOR_BYTES_PER_CALL = 64.0
RSS_FLOOR_BYTES_PER_CALL = 10_240.0
CONFIDENCE = 0.95
MISSING = -1

# Frames that belong to the measurement, not to the code under test.
_OWN_FILES = (tracemalloc.__file__, __file__, "<frozen importlib._bootstrap>",
              "<frozen importlib._bootstrap_external>", "*/codeperf/memory/timeline.py",
              "*/codeperf/memory/heaps.py")



@dataclass(frozen=True)
class LeakPlan:
    warmup_calls: int = 20
    batches: int = 10
    calls_per_batch: int = 100
    exact_floor_bytes_per_call: float = EXACT_FLOOR_BYTES_PER_CALL
    rss_floor_bytes_per_call: float = RSS_FLOOR_BYTES_PER_CALL
    top_sites: int = 10

    def __post_init__(self) -> None:
        if self.batches < 4 or self.calls_per_batch < 1 or self.warmup_calls < 0:
            raise ValueError("a leak run needs >= 4 batches of >= 1 call (and warmup >= 0): "
                             "the slope is fitted from the end of the first batch on")

    @property
    def total_calls(self) -> int:
        return self.batches * self.calls_per_batch


@dataclass
class SeriesVerdict:
    """One heap's retained-memory series and its slope."""

    heap: str
    floor_bytes_per_call: float
    retained_bytes: list[int]
    fit: LinearFit | None

    @property
    def leak(self) -> bool:
        return self.fit is not None and self.fit.slope_ci_low > self.floor_bytes_per_call

    def to_dict(self) -> dict[str, Any]:
        return {"heap": self.heap, "floor_bytes_per_call": self.floor_bytes_per_call,
                "leak": self.leak, "retained_bytes": self.retained_bytes,
                "fit": self.fit.to_dict() if self.fit else None}


@dataclass
class LeakReport:
    label: str
    plan: LeakPlan
    calls: list[int]
    series: dict[str, SeriesVerdict]
    growth_sites: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0
    batches_done: int | None = None  # None: all of plan.batches

    @property
    def partial(self) -> bool:
        """Cut short before its last batch: its verdicts rest on fewer readings."""
        return self.batches_done is not None and self.batches_done < self.plan.batches

    @property
    def leak(self) -> bool:
        return any(s.leak for s in self.series.values())

    def slope(self, heap: str) -> float | None:
        s = self.series.get(heap)
        return s.fit.slope if s is not None and s.fit is not None else None

    @property
    def heaps_bytes_per_call(self) -> float | None:
        """Python + Rust heap retained per call (the in-process figure targets use)."""
        return self.slope("heaps_total")

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"calls_count": self.calls[-1] if self.calls else 0,
                               "batches_count": self.plan.batches if self.batches_done is None
                               else self.batches_done,
                               "leak_detected": self.leak}
        for name, s in self.series.items():
            fit = s.fit
            out[f"{name}_bytes_per_call"] = fit.slope if fit else None
            out[f"{name}_ci_low_bytes_per_call"] = fit.slope_ci_low if fit else None
            out[f"{name}_ci_high_bytes_per_call"] = fit.slope_ci_high if fit else None
            out[f"{name}_leak"] = s.leak
        total = self.heaps_bytes_per_call
        out["heaps_total_bytes_per_100_ops"] = total * 100 if total is not None else None
        out["duration_s"] = self.duration_s
        return out

    def to_entry(self, entry_id: str, backend: str | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": entry_id, "kind": "leak", "summary": self.summary(),
                                 "plan": {"warmup_calls": self.plan.warmup_calls,
                                          "batches": self.plan.batches,
                                          "calls_per_batch": self.plan.calls_per_batch,
                                          "confidence": CONFIDENCE},
                                 "calls": self.calls,
                                 "series": {k: v.to_dict() for k, v in self.series.items()},
                                 # the report's name for allocation sites that grew most
                                 "top_growth": self.growth_sites}
        if backend is not None:
            entry["backend"] = backend
        if self.partial:
            entry["partial"] = True
        return entry


def _snapshot() -> tracemalloc.Snapshot | None:
    # Unfiltered: Snapshot.filter_traces runs fnmatch per trace in Python (seconds for the
    # few hundred thousand traces of a process that imported the MCP SDK); the sites are
    # filtered after comparison instead, where there are only hundreds.
    return tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None


def _own(filename: str) -> bool:
    return any(fnmatch.fnmatch(filename, pattern) for pattern in _OWN_FILES)


def growth_sites(before: tracemalloc.Snapshot | None, after: tracemalloc.Snapshot | None,
                 top: int, calls: int) -> list[dict[str, Any]]:
    """The allocation sites whose retained size grew most between two snapshots."""
    if before is None or after is None or top <= 0:
        return []
    sites = []
    for stat in after.compare_to(before, "lineno"):
        if stat.size_diff <= 0:
            continue
        frame = stat.traceback[0]
        if _own(frame.filename):
            continue
        sites.append({"site": f"{frame.filename}:{frame.lineno}",
                      "size_diff_bytes": stat.size_diff, "count_diff": stat.count_diff,
                      "bytes_per_call": stat.size_diff / calls if calls else None})
        if len(sites) >= top:
            break
    return sites


def _fit(calls: list[int], values: array) -> LinearFit | None:
    """The slope from the end of the first batch on: the first batch still carries the
    warm-up's tail (a cache's last entries), which is growth that stops, not a leak."""
    if any(v == MISSING for v in values):
        return None
    try:
        return linear_fit(calls[1:], [float(v) for v in values[1:]], CONFIDENCE)
    except ValueError:
        return None


def detect_leak(op: Callable[[], Any], plan: LeakPlan, label: str = "",
                rust: RustHeap | None = None,
                extra_series: dict[str, Callable[[], int | None]] | None = None,
                progress: Callable[[str], None] | None = None,
                on_stop: Callable[[LeakReport], None] | None = None) -> LeakReport:
    """Run `op` warmup + K x M times and fit retained memory per call on every heap.

    `extra_series` adds named readings taken at the same points (e.g. a server
    process's RSS), judged with the RSS floor. The Python heap series needs
    tracemalloc to be tracing; it is left out (fit None) otherwise. When the run
    is cut short by any exception, `on_stop` receives the report of the batches
    read so far (`partial` true) before the exception propagates.
    """
    rust = rust or rust_heap()
    extra_series = extra_series or {}
    started = time.perf_counter()
    for _ in range(plan.warmup_calls):
        op()
    # Preallocated: appending readings to lists would itself grow the Python heap.
    n_points = plan.batches + 1
    py_values = array("q", bytes(8 * n_points))
    rust_values = array("q", bytes(8 * n_points))
    rss_values = array("q", bytes(8 * n_points))
    extra_values = {name: array("q", bytes(8 * n_points)) for name in extra_series}
    calls = [k * plan.calls_per_batch for k in range(n_points)]

    def read(point: int) -> None:
        collect_fully()
        with READ_LOCK:
            py = python_heap()
            rs = rust.current()
            py_values[point] = py[0] if py is not None else MISSING
            rust_values[point] = rs if rs is not None else MISSING
            rss_values[point] = rss_bytes()
        for name, reader in extra_series.items():
            value = reader()
            extra_values[name][point] = value if value is not None else MISSING

    collect_fully()
    # Snapshots cost seconds in a process with many live objects: only when sites are asked for.
    before = _snapshot() if plan.top_sites > 0 else None
    read(0)
    points_read = 1
    try:
        for batch in range(1, n_points):
            for _ in range(plan.calls_per_batch):
                op()
            read(batch)
            points_read = batch + 1
            if progress is not None and (batch == n_points - 1 or batch % max(1, plan.batches // 4) == 0):
                progress(f"{label}: batch {batch}/{plan.batches}")
    except BaseException:
        # Cut short (a failing op, Ctrl-C, SIGTERM): hand over the batches read so far,
        # fitted like a full run (no fit with fewer than three points after the first).
        if on_stop is not None:
            on_stop(_report(label, plan, calls, points_read, py_values, rust_values, rss_values,
                            extra_values, [], started))
        raise
    collect_fully()
    after = _snapshot() if before is not None else None
    sites = growth_sites(before, after, plan.top_sites, plan.total_calls)
    del before, after
    return _report(label, plan, calls, n_points, py_values, rust_values, rss_values, extra_values,
                   sites, started)


def _report(label: str, plan: LeakPlan, calls: list[int], n: int, py_values: array,
            rust_values: array, rss_values: array, extra_values: dict[str, array],
            sites: list[dict[str, Any]], started: float) -> LeakReport:
    """The verdicts on the first `n` readings (all of them unless the run was cut short)."""
    calls = calls[:n]
    py_values, rust_values, rss_values = py_values[:n], rust_values[:n], rss_values[:n]
    total = array("q", bytes(8 * n))
    for i in range(n):
        if py_values[i] == MISSING:
            total[i] = MISSING
        else:
            total[i] = py_values[i] + (rust_values[i] if rust_values[i] != MISSING else 0)
    exact, rss_floor = plan.exact_floor_bytes_per_call, plan.rss_floor_bytes_per_call
    series = {
        "python_heap": SeriesVerdict("python_heap", exact, _ints(py_values), _fit(calls, py_values)),
        "rust_heap": SeriesVerdict("rust_heap", exact, _ints(rust_values), _fit(calls, rust_values)),
        "heaps_total": SeriesVerdict("heaps_total", exact, _ints(total), _fit(calls, total)),
        "rss": SeriesVerdict("rss", rss_floor, _ints(rss_values), _fit(calls, rss_values)),
    }
    for name, values in extra_values.items():
        values = values[:n]
        series[name] = SeriesVerdict(name, rss_floor, _ints(values), _fit(calls, values))
    return LeakReport(label=label, plan=plan, calls=calls, series=series, growth_sites=sites,
                      duration_s=time.perf_counter() - started,
                      batches_done=n - 1)


def _ints(values: array) -> list[int | None]:
    return [None if v == MISSING else int(v) for v in values]
