"""A server process's CPU, memory and I/O, read with psutil off the event loop.

A daemon thread samples the process (and its children, for servers started
through a wrapper such as `npx` or `uv run`) every `interval_s`; phase
boundaries take a reading through `asyncio.to_thread`, so the benchmark's event
loop never blocks on /proc. CPU is cumulative user+system seconds; I/O is
`read_chars`/`write_chars` (all bytes through read/write syscalls, pipes
included) where the platform has them, else storage bytes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil


@dataclass(frozen=True)
class Reading:
    t_s: float  # perf_counter
    cpu_s: float
    rss_bytes: int
    io_bytes: int | None
    threads: int


def read(pid: int) -> Reading | None:
    """One reading of `pid` and its descendants, or None when it is gone or unreadable."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    cpu = 0.0
    rss = 0
    io: int | None = 0
    threads = 0
    for proc in procs:
        try:
            with proc.oneshot():
                times = proc.cpu_times()
                cpu += times.user + times.system
                rss += proc.memory_info().rss
                threads += proc.num_threads()
                if io is not None:
                    try:
                        counters = proc.io_counters()
                        io += getattr(counters, "read_chars", counters.read_bytes) + getattr(
                            counters, "write_chars", counters.write_bytes)
                    except (psutil.AccessDenied, AttributeError, NotImplementedError):
                        io = None
        except psutil.Error:
            if proc is root:
                return None
    return Reading(time.perf_counter(), cpu, rss, io, threads)


async def read_async(pid: int | None) -> Reading | None:
    if pid is None:
        return None
    return await asyncio.to_thread(read, pid)


def delta(before: Reading | None, after: Reading | None, calls: int) -> dict[str, Any]:
    """Per-call server cost between two readings (None where unknown)."""
    if before is None or after is None or calls <= 0:
        return {"server_cpu_per_call_ms": None, "server_io_per_call_bytes": None,
                "server_rss_end_bytes": after.rss_bytes if after else None,
                "server_cpu_util_pct": None}
    wall = after.t_s - before.t_s
    io = (after.io_bytes - before.io_bytes
          if after.io_bytes is not None and before.io_bytes is not None else None)
    cpu = max(0.0, after.cpu_s - before.cpu_s)
    return {"server_cpu_per_call_ms": cpu / calls * 1000.0,
            "server_io_per_call_bytes": io / calls if io is not None else None,
            "server_rss_end_bytes": after.rss_bytes,
            "server_cpu_util_pct": cpu / wall * 100.0 if wall > 0 else None}


class Sampler:
    """Background timeline of one process: (t, cpu_s, rss_bytes) every interval."""

    def __init__(self, pid: int | None, interval_s: float = 0.1) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.readings: list[Reading] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Sampler":
        if self.pid is not None:
            self._thread = threading.Thread(target=self._loop, name=f"sampler-{self.pid}", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            reading = read(self.pid)  # type: ignore[arg-type]
            if reading is None:
                return  # the process is gone
            self.readings.append(reading)
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def timeline(self) -> dict[str, Any]:
        if not self.readings:
            return {"t_s": [], "cpu_s": [], "rss_bytes": []}
        t0 = self.readings[0].t_s
        return {"t_s": [round(r.t_s - t0, 4) for r in self.readings],
                "cpu_s": [round(r.cpu_s, 4) for r in self.readings],
                "rss_bytes": [r.rss_bytes for r in self.readings]}

    def summary(self) -> dict[str, Any]:
        if not self.readings:
            return {"rss_start_bytes": None, "rss_end_bytes": None, "rss_peak_bytes": None,
                    "rss_growth_bytes": None, "cpu_total_s": None, "samples_count": 0}
        first, last = self.readings[0], self.readings[-1]
        return {"rss_start_bytes": first.rss_bytes, "rss_end_bytes": last.rss_bytes,
                "rss_peak_bytes": max(r.rss_bytes for r in self.readings),
                "rss_growth_bytes": last.rss_bytes - first.rss_bytes,
                "cpu_total_s": round(last.cpu_s - first.cpu_s, 4),
                "samples_count": len(self.readings)}
