"""Load workers as Ray actors on a local Ray (started once for this module)."""

from __future__ import annotations

import asyncio
import functools
import os

import pytest

from codeperf.load import ops, schedules
from codeperf.load.workers import Plan, WorkerPool


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(2) as started:
        yield started


def test_open_model_workers_send_exactly_the_single_process_schedule(pool):
    plan = Plan("open", functools.partial(ops.sleep_op, delay_s=0.001), targets=[],
                schedule=schedules.constant(400), duration_s=0.5)
    merged, sides, _ = asyncio.run(pool.run(plan))
    single_offered = schedules.constant(400).count_before(0.5)
    assert merged.offered == single_offered == 200
    assert merged.sent == merged.ok == 200 and merged.complete
    indices = sorted(sides[0]["indices"] + sides[1]["indices"])
    assert indices == list(range(200))  # every global send once, none twice
    assert sides[0]["indices"] == list(range(0, 200, 2))
    assert len({p["pid"] for p in merged.placements}) == 2  # two processes
    assert [w["summary"]["requests_count"] for w in merged.to_dict()["workers"]] == [100, 100]
    # One schedule zero for all: each worker's intended times count from the shared start.
    assert all(w.config["shared_start"] for w in merged.workers)
    # The loop each worker ran on is reported; uvloop by default (it is installed).
    assert [p["event_loop"] for p in merged.placements] == ["uvloop", "uvloop"]
    # At the normal priority, not Ray's worker niceness of 15 (which put the generators
    # below the simulators sharing the cores), and it says so.
    assert [p["nice"] for p in merged.placements] == [os.nice(0)] * 2


def test_closed_model_splits_concurrency_and_budget(pool):
    plan = Plan("closed", functools.partial(ops.sleep_op, fail_every=10), targets=[],
                concurrency=3, max_requests=61)
    merged, sides, _ = asyncio.run(pool.run(plan))
    assert [w.config["concurrency"] for w in merged.workers] == [2, 1]
    assert [w.sent for w in merged.workers] == [31, 30]
    assert merged.sent == 61 and merged.ok + merged.errors_total == 61
    assert merged.errors["test_failure"] == 7  # global indices 0, 10, ..., 60


def test_each_worker_refuses_a_remote_target_without_allow_remote(pool):
    plan = Plan("open", ops.sleep_op, targets=["http://10.1.2.3:8000/v1"],
                schedule=schedules.constant(10), duration_s=0.1)
    with pytest.raises(Exception, match="--allow-remote"):
        asyncio.run(pool.run(plan))
    allowed = Plan("open", ops.sleep_op, targets=["http://10.1.2.3:8000/v1"], allow_remote=True,
                   schedule=schedules.constant(10), duration_s=0.1)
    merged, _, _ = asyncio.run(pool.run(allowed))
    assert merged.sent == 1


def test_an_interrupted_run_keeps_what_every_worker_measured(pool):
    plan = Plan("open", functools.partial(ops.sleep_op, delay_s=0.001), targets=[],
                schedule=schedules.constant(200), duration_s=60)
    held: list = []

    async def interrupt() -> None:
        task = asyncio.ensure_future(pool.run(plan, held))
        await asyncio.sleep(1.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupt())
    merged, _ = held[0]
    assert merged.complete is False and merged.stopped_by == "interrupted"
    assert len(merged.workers) == 2 and all(w.sent > 0 for w in merged.workers)
    assert merged.sent == sum(w.sent for w in merged.workers)
    # The actors are still usable for the next run.
    again, _, _ = asyncio.run(pool.run(Plan("open", ops.sleep_op, targets=[],
                                            schedule=schedules.constant(100), duration_s=0.1)))
    assert again.complete and again.sent == 10


def test_without_an_address_ray_starts_its_own_local_instance(monkeypatch):
    """A Ray already running on the machine must not be joined (it refuses num_cpus)."""
    import ray

    calls = []

    class Stop(Exception):
        pass

    def fake_init(**kwargs):
        calls.append(kwargs)
        raise Stop

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", fake_init)
    with pytest.raises(Stop):
        WorkerPool(2).start()
    with pytest.raises(Stop):
        WorkerPool(2, address="10.0.0.5:6379").start()
    assert calls[0]["address"] == "local" and calls[0]["num_cpus"] == 2
    assert calls[1]["address"] == "10.0.0.5:6379" and "num_cpus" not in calls[1]
