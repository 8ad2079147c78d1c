"""Ray workers run the event loop the run asks for (its own Ray session: the loop is
set when Ray starts the worker processes)."""

from __future__ import annotations

import asyncio
import functools

import pytest

from codeperf.load import ops, schedules
from codeperf.load.workers import Plan, WorkerPool


def test_workers_run_asyncio_loop_when_asked():
    import ray

    if ray.is_initialized():  # another module's session would decide the workers' loop
        pytest.skip("a Ray session is already running in this process")
    with WorkerPool(1, loop="asyncio") as pool:
        plan = Plan("open", functools.partial(ops.sleep_op), targets=[],
                    schedule=schedules.constant(100), duration_s=0.05)
        merged, _, _ = asyncio.run(pool.run(plan))
    assert [p["event_loop"] for p in merged.placements] == ["asyncio"]
    assert merged.sent == 5


def test_an_unknown_loop_is_refused_before_ray_starts():
    with pytest.raises(ValueError, match="unknown event loop"):
        WorkerPool(1, loop="trio")
