"""A background thread that records RSS, Python heap and Rust heap at a fixed interval.

Samples go into arrays allocated up front, so the sampler itself does not grow
the Python heap it is measuring (a growing list would look like a leak). When
the arrays fill, every second sample is dropped in place and the interval
doubles: a long run keeps its whole span at a coarser resolution. Each sample
carries the phase that was active (`with sampler.phase("engine"): ...`), and
the phases' start and end times are kept, for the report's charts.
"""

from __future__ import annotations

import threading
import time
from array import array
from contextlib import contextmanager
from typing import Any, Iterator

from codeperf.memory.heaps import READ_LOCK, RustHeap, python_heap, rss_bytes, rust_heap

MISSING = -1  # stored where a figure cannot be read; None in the JSON


class TimelineSampler:
    def __init__(self, interval_s: float = 0.02, capacity: int = 16384,
                 rust: RustHeap | None = None) -> None:
        if interval_s <= 0 or capacity < 16:
            raise ValueError("interval_s must be > 0 and capacity >= 16")
        self.interval_s = interval_s
        self.capacity = capacity
        self._rust = rust or rust_heap()
        self._t = array("d", bytes(8 * capacity))
        self._rss = array("q", bytes(8 * capacity))
        self._py = array("q", bytes(8 * capacity))
        self._rs = array("q", bytes(8 * capacity))
        self._phase_of = array("i", bytes(4 * capacity))
        self._n = 0
        self._phases: list[str] = ["(none)"]
        self._spans: list[dict[str, Any]] = []
        self._current = 0
        self._t0 = time.perf_counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> "TimelineSampler":
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="memory-timeline", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.sample()  # the last state is always in the timeline

    def __enter__(self) -> "TimelineSampler":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    # -- recording ---------------------------------------------------------
    def sample(self) -> None:
        with READ_LOCK:
            if self._n == self.capacity:
                self._decimate()
            i = self._n
            py = python_heap()
            rs = self._rust.current()
            self._t[i] = time.perf_counter() - self._t0
            self._rss[i] = rss_bytes()
            self._py[i] = py[0] if py is not None else MISSING
            self._rs[i] = rs if rs is not None else MISSING
            self._phase_of[i] = self._current
            self._n = i + 1

    def _decimate(self) -> None:
        half = self._n // 2
        for arr in (self._t, self._rss, self._py, self._rs, self._phase_of):
            for j in range(half):
                arr[j] = arr[2 * j]
        self._n = half
        self.interval_s *= 2

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Label the samples taken inside the block; phases nest (the innermost wins)."""
        with READ_LOCK:
            previous = self._current
            if name not in self._phases:
                self._phases.append(name)
            self._current = self._phases.index(name)
            span = {"phase": name, "start_s": time.perf_counter() - self._t0, "end_s": None}
            self._spans.append(span)
        self.sample()
        try:
            yield
        finally:
            self.sample()
            with READ_LOCK:
                span["end_s"] = time.perf_counter() - self._t0
                self._current = previous

    # -- reading -----------------------------------------------------------
    def max_rss_since(self, since_perf_counter: float) -> int | None:
        """The largest RSS sampled since a perf_counter() instant (None if no sample since)."""
        with READ_LOCK:
            start = since_perf_counter - self._t0
            values = [self._rss[i] for i in range(self._n) if self._t[i] >= start]
        return max(values) if values else None

    def __len__(self) -> int:
        return self._n

    def to_dict(self) -> dict[str, Any]:
        """Arrays for the JSON: times in seconds since start, bytes, a phase index per sample."""
        def column(arr: array) -> list[int | None]:
            return [None if v == MISSING else int(v) for v in arr[:self._n]]

        with READ_LOCK:
            return {
                "interval_s": self.interval_s,
                "t_s": [round(v, 6) for v in self._t[:self._n]],
                "rss_bytes": [int(v) for v in self._rss[:self._n]],
                "python_heap_bytes": column(self._py),
                "rust_heap_bytes": column(self._rs),
                "phase_index": list(self._phase_of[:self._n]),
                "phases": list(self._phases),
                "spans": [dict(s) for s in self._spans],
            }
