"""Real garbage-collector activity: collections per generation and the time they paused us.

`gc.get_count()` (what the original suite reported) is the allocation counter
that *triggers* collections, not a count of collections. Here a `gc.callbacks`
hook sees every collection start and stop: its generation, how many objects it
freed, and how long it took. Collections the measurement itself forces (the
`gc.collect()` before reading retained memory) are excluded with `excluded()`,
so the figures belong to the code under test.
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from typing import Any, Iterator


class GcMonitor:
    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.collected = 0
        self.uncollectable = 0
        self.pause_total_ns = 0
        self.pause_max_ns = 0
        self._started_ns: int | None = None
        self._excluded = 0
        self._installed = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if self._excluded:
            return
        if phase == "start":
            self._started_ns = time.perf_counter_ns()
            return
        if self._started_ns is None:  # installed mid-collection
            return
        pause = time.perf_counter_ns() - self._started_ns
        self._started_ns = None
        generation = int(info.get("generation", 0))
        if 0 <= generation < len(self.collections):
            self.collections[generation] += 1
        self.collected += int(info.get("collected", 0))
        self.uncollectable += int(info.get("uncollectable", 0))
        self.pause_total_ns += pause
        self.pause_max_ns = max(self.pause_max_ns, pause)

    def __enter__(self) -> "GcMonitor":
        gc.callbacks.append(self._callback)
        self._installed = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._installed:
            gc.callbacks.remove(self._callback)
            self._installed = False

    @contextmanager
    def excluded(self) -> Iterator[None]:
        """Collections inside this block (the measurement's own) are not counted."""
        self._excluded += 1
        try:
            yield
        finally:
            self._excluded -= 1

    def summary(self) -> dict[str, Any]:
        return {
            "gc_gen0_collections_count": self.collections[0],
            "gc_gen1_collections_count": self.collections[1],
            "gc_gen2_collections_count": self.collections[2],
            "gc_collections_count": sum(self.collections),
            "gc_collected_objects_count": self.collected,
            "gc_uncollectable_objects_count": self.uncollectable,
            "gc_pause_total_ms": self.pause_total_ns / 1e6,
            "gc_pause_max_ms": self.pause_max_ns / 1e6,
        }


_ACTIVE: list[GcMonitor] = []


@contextmanager
def monitoring() -> Iterator[GcMonitor]:
    """A monitor that measurement helpers can find (`forced_collection()` excludes itself)."""
    with GcMonitor() as monitor:
        _ACTIVE.append(monitor)
        try:
            yield monitor
        finally:
            _ACTIVE.remove(monitor)


@contextmanager
def measurement_collections() -> Iterator[None]:
    """Wrap the measurement's own gc.collect() calls so no active monitor counts them."""
    monitors = list(_ACTIVE)
    for m in monitors:
        m._excluded += 1
    try:
        yield
    finally:
        for m in monitors:
            m._excluded -= 1
