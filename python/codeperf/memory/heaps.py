"""The three memory figures, each read from where it lives and named for what it is.

- Python heap: `tracemalloc` (current and peak bytes of everything allocated
  through Python's allocators while tracing is on). It does not see Rust.
- Rust heap: the extension's counting global allocator
  (`codeperf._rust.allocation_stats()`), current and peak bytes. It does not see
  Python objects, not even the ones the extension creates.
- RSS: the resident set of the whole process (or of another process by pid),
  which includes both heaps, the allocators' free lists, code and tracemalloc's
  own bookkeeping. Its peak comes from the kernel's high-water mark (`VmHWM`,
  reset through `/proc/self/clear_refs`) where Linux offers it, else from the
  timeline sampler's readings (and then says "sampled").

`READ_LOCK` is held by the timeline sampler while it takes a reading, and by
measurements that must not see the sampler's transient objects in the Python
heap (leak detection reads exact byte counts).
"""

from __future__ import annotations

import gc
import os
import threading
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any, Callable

import psutil

from codeperf.memory.gcstats import measurement_collections

READ_LOCK = threading.RLock()
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PROC_STATM = "/proc/self/statm"
_PROC_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
_PROCESS = psutil.Process()


# ---------------------------------------------------------------- RSS
def rss_bytes() -> int:
    """Resident set size of this process now."""
    try:
        with open(_PROC_STATM, "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE_SIZE
    except OSError:
        return int(_PROCESS.memory_info().rss)


def process_rss_bytes(pid: int) -> int | None:
    """Resident set size of another process, or None when it is gone or unreadable."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return None


def _status_kib(field: str) -> int | None:
    try:
        with open(_PROC_STATUS, "rb") as handle:
            for line in handle:
                if line.startswith(field.encode() + b":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def reset_rss_high_water_mark() -> bool:
    """Set the kernel's peak-RSS mark to the current RSS; False where that is not possible."""
    try:
        with open(_CLEAR_REFS, "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def rss_high_water_mark() -> int | None:
    """The kernel's peak RSS since the last reset (VmHWM), or None off Linux."""
    return _status_kib("VmHWM")


# ---------------------------------------------------------------- Python heap
def python_heap() -> tuple[int, int] | None:
    """(current, peak) bytes traced by tracemalloc, or None when it is not tracing."""
    if not tracemalloc.is_tracing():
        return None
    return tracemalloc.get_traced_memory()


# ---------------------------------------------------------------- Rust heap
class RustHeap:
    """The extension's counting allocator, or the reason it cannot be read.

    A build that imports but lacks the memory API is unavailable too: the Rust
    heap is then unmeasured (None), never reported as zero.
    """

    def __init__(self) -> None:
        self.module: Any = None
        self.reason = ""
        try:
            from codeperf.engine import rust_status
        except ImportError as exc:  # the package itself is broken: say so
            self.reason = f"codeperf.engine does not import: {exc}"
            return
        status = rust_status()
        if not status.usable:
            self.reason = status.reason
            return
        missing = [name for name in ("allocation_stats", "reset_peak")
                   if not hasattr(status.module, name)]
        if missing:
            self.reason = (f"codeperf._rust has no {', '.join(missing)}(): the build predates "
                           f"the counting allocator; rebuild it with `make build`")
            return
        self.module = status.module

    @property
    def available(self) -> bool:
        return self.module is not None

    def stats(self) -> dict[str, int] | None:
        return dict(self.module.allocation_stats()) if self.module is not None else None

    def current(self) -> int | None:
        return int(self.module.allocation_stats()["current_bytes"]) if self.module else None

    def peak(self) -> int | None:
        return int(self.module.allocation_stats()["peak_bytes"]) if self.module else None

    def reset_peak(self) -> None:
        if self.module is not None:
            self.module.reset_peak()

    def allocate_for_test(self, nbytes: int) -> Any:
        """An object owning exactly `nbytes` of Rust heap until it is dropped."""
        if self.module is None or not hasattr(self.module, "allocate_for_test"):
            raise RuntimeError(self.reason or "codeperf._rust has no allocate_for_test()")
        return self.module.allocate_for_test(nbytes)


_RUST: RustHeap | None = None


def rust_heap() -> RustHeap:
    """The process-wide RustHeap (the extension is imported once)."""
    global _RUST
    if _RUST is None:
        _RUST = RustHeap()
    return _RUST


# ---------------------------------------------------------------- readings
@dataclass(frozen=True)
class HeapReading:
    """One instant: each figure from its own source (None where it cannot be read)."""

    python_heap_bytes: int | None
    rust_heap_bytes: int | None
    rss_bytes: int


def read_now(rust: RustHeap | None = None) -> HeapReading:
    rust = rust or rust_heap()
    py = python_heap()
    return HeapReading(py[0] if py else None, rust.current(), rss_bytes())


def collect_fully() -> None:
    """Full collections until nothing more is freed (finalizers can free more objects).

    Not counted by active GC monitors: they report the code under test."""
    with measurement_collections():
        for _ in range(3):
            if gc.collect() == 0:
                break


@dataclass(frozen=True)
class PeakMeasurement:
    """How much one call added at its peak, and what it left behind, on each heap.

    Peaks are relative to the moment before the call (after a full collection).
    `heaps_peak_sum_bytes` adds the two heaps' peaks: an upper bound on their
    simultaneous peak, since the two need not peak at the same instant.
    """

    python_heap_peak_bytes: int | None
    python_heap_retained_bytes: int | None
    rust_heap_peak_bytes: int | None
    rust_heap_retained_bytes: int | None
    rss_peak_delta_bytes: int | None
    rss_peak_bytes: int | None
    rss_peak_method: str

    @property
    def heaps_peak_sum_bytes(self) -> int | None:
        if self.python_heap_peak_bytes is None:
            return None
        return self.python_heap_peak_bytes + (self.rust_heap_peak_bytes or 0)

    def summary(self) -> dict[str, Any]:
        return {"python_heap_peak_bytes": self.python_heap_peak_bytes,
                "python_heap_retained_bytes": self.python_heap_retained_bytes,
                "rust_heap_peak_bytes": self.rust_heap_peak_bytes,
                "rust_heap_retained_bytes": self.rust_heap_retained_bytes,
                "heaps_peak_sum_bytes": self.heaps_peak_sum_bytes,
                "rss_peak_delta_bytes": self.rss_peak_delta_bytes,
                "rss_peak_bytes": self.rss_peak_bytes}


class RssPeak:
    """Peak RSS over a stretch of code: the kernel's mark, else the sampler's maximum."""

    def __init__(self, sampled_max: Callable[[float], int | None] | None = None) -> None:
        self._sampled_max = sampled_max
        self.method = "unavailable"
        self.baseline = 0
        self._since = 0.0

    def start(self) -> None:
        self.baseline = rss_bytes()
        self._since = time.perf_counter()
        if reset_rss_high_water_mark() and rss_high_water_mark() is not None:
            self.method = "VmHWM"
        elif self._sampled_max is not None:
            self.method = "sampled"

    def stop(self) -> int | None:
        if self.method == "VmHWM":
            return max(rss_high_water_mark() or 0, rss_bytes())
        if self.method == "sampled" and self._sampled_max is not None:
            sampled = self._sampled_max(self._since)
            return max(sampled or 0, rss_bytes())
        return None


def measure_peak(call: Callable[[], Any], rust: RustHeap | None = None,
                 sampled_max: Callable[[float], int | None] | None = None) -> PeakMeasurement:
    """Run `call` once and measure its peak on each heap; its result is dropped before
    the retained figures are read. The Python heap needs tracemalloc to be tracing."""
    rust = rust or rust_heap()
    collect_fully()
    rss = RssPeak(sampled_max)
    with READ_LOCK:
        py_before = python_heap()
        rust_before = rust.current()
        if py_before is not None:
            tracemalloc.reset_peak()
        rust.reset_peak()
        rss.start()
    result = call()
    with READ_LOCK:
        py_after = python_heap()
        rust_peak = rust.peak()
        rss_peak = rss.stop()
    del result
    collect_fully()
    with READ_LOCK:
        py_end = python_heap()
        rust_end = rust.current()
    return PeakMeasurement(
        python_heap_peak_bytes=(py_after[1] - py_before[0]) if py_before and py_after else None,
        python_heap_retained_bytes=(py_end[0] - py_before[0]) if py_before and py_end else None,
        rust_heap_peak_bytes=(rust_peak - rust_before) if rust_before is not None and rust_peak is not None else None,
        rust_heap_retained_bytes=(rust_end - rust_before) if rust_before is not None and rust_end is not None else None,
        rss_peak_delta_bytes=(rss_peak - rss.baseline) if rss_peak is not None else None,
        rss_peak_bytes=rss_peak, rss_peak_method=rss.method)
