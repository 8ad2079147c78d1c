"""Splitting one run's load across N workers so that, together, they send exactly it.

- Open model: the global schedule's sends are dealt round-robin by index: worker
  k of N sends the global sends k, k + N, k + 2N, ... at their global intended
  times. The union of the workers' sends is the single-process schedule, send
  for send, and every worker measures latency from its own (global) intended
  times. Dealing by index, not by time slice, keeps every worker busy during
  every part of the run: a burst's spike is spread over all workers, each
  sending 1/N of it across the whole spike window.
- Closed model: the concurrency and the request budget are split in shares
  that differ by at most one and add up to the whole.

A worker's request indices are global (`global_index`), so per-query records
(e.g. completion times by query) from different workers do not collide.
"""

from __future__ import annotations

from typing import Iterator

from codeperf.load.schedules import Schedule


def shares(total: int, workers: int) -> list[int]:
    """`total` split into `workers` whole shares differing by at most one (the first get more)."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if total < 0:
        raise ValueError("total must not be negative")
    base, extra = divmod(total, workers)
    return [base + (1 if k < extra else 0) for k in range(workers)]


def global_index(local: int, worker: int, workers: int) -> int:
    """The global send index of worker `worker`'s `local`-th send (round-robin dealing)."""
    return local * workers + worker


def part(schedule: Schedule, worker: int, workers: int) -> Schedule:
    """Worker `worker`'s share of `schedule`: its global sends worker, worker + N, ..."""
    if not 0 <= worker < workers:
        raise ValueError(f"worker {worker} is not in 0..{workers - 1}")
    if workers == 1:
        return schedule

    def gen() -> Iterator[float]:
        for i, offset in enumerate(schedule.offsets()):
            if i % workers == worker:
                yield offset

    return Schedule(schedule.name, {**schedule.params, "worker": worker, "workers": workers}, gen)


def local_budget(max_requests: int | None, worker: int, workers: int) -> int | None:
    """Worker `worker`'s share of a global request budget under round-robin dealing."""
    if max_requests is None:
        return None
    return shares(max_requests, workers)[worker]
