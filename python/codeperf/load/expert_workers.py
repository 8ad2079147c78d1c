"""Expert queries on several load workers (`--workers N`): the op each worker runs.

A scenario that supports workers (`sustained`, `burst`) hands the worker pool
(`ctx.workers`, `codeperf.load.workers.WorkerPool`) a plan whose op factory is
`expert_queries`: each worker opens its own aiohttp session to the experts,
optionally warms its connections (the burst), and records its queries in its
own `QueryStats`, which the driver merges (`QueryStats.merge`).
"""

from __future__ import annotations

import contextlib
import functools
import time
from typing import Any, AsyncIterator

import aiohttp

from codeperf.load.merge import MergedLoadResult
from codeperf.load.querystats import QueryStats
from codeperf.load.registry import ScenarioContext
from codeperf.load.schedules import Schedule
from codeperf.load.workers import Plan


@contextlib.asynccontextmanager
async def expert_queries(worker: int, workers: int, *, experts: Any, slo: Any, pool: int,
                         warm_queries: int = 0, rewarm: Any = None
                         ) -> AsyncIterator[tuple[Any, QueryStats]]:
    """A worker's query op over its own session, and the QueryStats it fills. With
    `warm_queries` its connections are opened first; with `rewarm` (a burst's
    `expert_scenarios.Rewarm`) opened again before each later spike."""
    from codeperf.load.expert_scenarios import _open_connections, _session

    stats = QueryStats(experts, slo)
    async with _session(pool) as session:
        if warm_queries:
            stats.warm_connections = await _open_connections(session, experts, warm_queries)
        # Send and completion times are this process's perf_counter; with this offset the driver
        # puts every worker's on one (wall) clock, whichever machine it ran on.
        stats.clock_offset_s = time.time() - time.perf_counter()
        if rewarm is None:
            yield stats.op(session), stats
            return
        async with rewarm.around(stats.op(session), session, experts,
                                 warm_queries) as (op, rewarmed):
            stats.rewarmed_connections = rewarmed  # filled as the re-warms run
            yield op, stats


def _targets(ctx: ScenarioContext) -> list[str]:
    return [e.base_url for e in ctx.experts.experts]


async def run_open(ctx: ScenarioContext, schedule: Schedule, *, pool: int, warm_queries: int = 0,
                   rewarm: Any = None, start_in_s: float = 0.0, duration_s: float | None = None,
                   max_requests: int | None = None, held: list[Any] | None = None,
                   **options: Any) -> tuple[MergedLoadResult, QueryStats, float]:
    """An open-model run of expert queries on ctx.workers; (merged load, merged stats, start).

    `start` is the wall-clock time of the schedule's zero; every worker's
    completion times in the merged stats are on the same wall clock. `held`
    receives the workers' results even when the run is interrupted: a
    scenario's `ctx.watch` builder reads them with `merged(held)`.
    """
    plan = Plan("open", functools.partial(expert_queries, experts=ctx.experts, slo=ctx.slo,
                                          pool=pool, warm_queries=warm_queries,
                                          rewarm=rewarm),
                targets=_targets(ctx), allow_remote=ctx.allow_remote, schedule=schedule,
                duration_s=duration_s, max_requests=max_requests, options=options)
    held = [] if held is None else held
    ctx.progress(f"on {ctx.workers.workers} workers")
    _, _, start = await ctx.workers.run(plan, held, start_in_s=start_in_s)
    load, stats = merged(held)
    return load, stats, start


class NoWorkerStatistics(RuntimeError):
    """No worker of a run handed back its QueryStats: there is nothing to merge."""


def merged(held: list[Any]) -> tuple[MergedLoadResult, QueryStats]:
    """The merged load result and QueryStats of a run's `held` results (computed once)."""
    if len(held) == 1:
        load, sides = held[0]
        stats: QueryStats | None = None
        for side in sides:
            if side is None:
                continue
            offset = getattr(side, "clock_offset_s", 0.0)
            side.end_times = {i: t + offset for i, t in side.end_times.items()}
            side.send_times = {i: t + offset for i, t in side.send_times.items()}
            stats = side if stats is None else stats.merge(side)
        if stats is None:  # every worker died or was stopped before it could answer
            raise NoWorkerStatistics("no worker returned its statistics (every worker "
                                     "failed or was stopped before it answered)")
        stats.warm_connections = sum(getattr(s, "warm_connections", 0) for s in sides if s)
        # Re-warms per spike, summed over the workers (each re-opens its own share).
        per_worker = [getattr(s, "rewarmed_connections", []) for s in sides if s]
        stats.rewarmed_connections = [sum(c) for c in zip(*per_worker)] if per_worker else []
        held.append((load, stats))
    return held[1]
