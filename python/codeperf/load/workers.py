"""Load on several cores and machines: the generator as Ray async actors.

`--workers N` runs a scenario's load on N Ray actors, each an asyncio event
loop in its own process running the same generator (`codeperf.load.loadgen`)
on its share (`codeperf.load.partition`); the driver merges their results
exactly (`codeperf.load.merge`). `--workers 1` never imports Ray.

Ray starts locally (`ray.init` with `num_cpus` = the workers, no dashboard, a
small object store) unless `--ray-address` / `RAY_ADDRESS` names a cluster to
join; actors are then spread over its nodes. A worker reaches its targets from
its own node: each worker applies the loopback rule itself (`--allow-remote`)
before it sends anything.

A run has two phases so that every worker starts on the same clock: `prepare`
(the op's set-up, e.g. warm connections), then `run(start_at)` with a wall-clock
start shared by all. Interrupted (Ctrl-C, SIGTERM), the driver stops every
worker, collects what each measured (`complete: false`) and kills the actors;
the Ray session it started is shut down, leaving no process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, AsyncContextManager, Callable

from codeperf.harness.loopback import check_loopback
from codeperf.load import event_loops, loadgen, partition
from codeperf.load.merge import MergedLoadResult, merge_results
from codeperf.load.schedules import Schedule

# An op factory: (worker, workers) -> an async context manager yielding (op, side data).
# It runs inside the worker (a module-level function or a functools.partial of one, so
# it pickles by reference); the side data (e.g. QueryStats) is returned to the driver.
OpFactory = Callable[[int, int], AsyncContextManager[tuple[loadgen.Op, Any]]]

# The object store of a local session: the results are kilobytes, and Ray's default
# (30 % of memory) would reserve shared memory this 2-core machine needs elsewhere.
LOCAL_OBJECT_STORE_BYTES = 80 * 1024 * 1024
START_MARGIN_S = 0.3  # from the driver's "go" to every worker's first send
# The niceness of the workers of a local session (Ray's default is 15). A cluster joined
# with --ray-address keeps its own: start its nodes with RAY_worker_niceness=0
# (docs/load.md); each worker reports its niceness (`placements[k]["nice"]`).
WORKER_NICENESS = 0


@dataclass
class Plan:
    """One run's load, whole; each worker takes its share."""

    model: str  # "open" or "closed"
    factory: OpFactory
    targets: list[str]  # every URL the workers will reach: the loopback rule, per worker
    allow_remote: bool = False
    schedule: Schedule | None = None  # open model
    concurrency: int | None = None  # closed model
    duration_s: float | None = None
    max_requests: int | None = None
    options: dict[str, Any] = field(default_factory=dict)  # more run_open/run_closed keywords


class LoadWorker:
    """One worker: an async Ray actor running the generator on its share of a Plan."""

    def __init__(self, index: int, workers: int) -> None:
        self.index, self.workers = index, workers
        self._stack: contextlib.AsyncExitStack | None = None
        self._task: asyncio.Task | None = None
        self._result = loadgen.LoadResult()
        self._side: Any = None
        self._plan: Plan | None = None

    def placement(self) -> dict[str, Any]:
        import ray

        return {"node": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(),
                "pid": os.getpid(), "event_loop": event_loops.running_loop_name(),
                "nice": os.nice(0)}  # os.nice(0) reads the niceness without changing it

    async def prepare(self, plan: Plan) -> dict[str, Any]:
        """Check the targets (loopback rule) and set the op up; returns where this worker runs."""
        for url in plan.targets:
            check_loopback(url, plan.allow_remote)
        await self._close()
        self._plan, self._result, self._side = plan, loadgen.LoadResult(), None
        self._stack = contextlib.AsyncExitStack()
        op, self._side = await self._stack.enter_async_context(
            plan.factory(self.index, self.workers))
        self._op = op
        return self.placement()

    async def run(self, start_at: float) -> tuple[loadgen.LoadResult, Any]:
        """Send this worker's share, starting at wall-clock `start_at`; its result and side data."""
        plan, k, n = self._plan, self.index, self.workers
        assert plan is not None, "prepare first"
        op = self._op

        async def global_op(local: int) -> Any:
            return await op(partition.global_index(local, k, n))

        self._task = asyncio.current_task()
        try:
            # The shared wall-clock start on this process's perf_counter: the open model's
            # intended times count from it, so a worker whose call arrived late (or whose
            # loop woke late) shows that as schedule lag instead of shifting its share.
            start_perf = time.perf_counter() + (start_at - time.time())
            budget = partition.local_budget(plan.max_requests, k, n)
            if plan.model == "open":
                assert plan.schedule is not None
                await loadgen.run_open(global_op, partition.part(plan.schedule, k, n),
                                       duration_s=plan.duration_s, max_requests=budget,
                                       result=self._result, start_at=start_perf,
                                       **plan.options)
            else:
                assert plan.concurrency is not None
                await asyncio.sleep(max(0.0, start_at - time.time()))
                share = partition.shares(plan.concurrency, n)[k]
                if share > 0:
                    await loadgen.run_closed(global_op, concurrency=share,
                                             duration_s=plan.duration_s, max_requests=budget,
                                             result=self._result, **plan.options)
                else:  # more workers than callers: this one has nothing to send
                    self._result.model, self._result.complete = "closed", True
                    self._result.stopped_by = "budget"
        finally:
            self._task = None
            await self._close()
        return self._result, self._side

    async def stop(self) -> tuple[loadgen.LoadResult, Any]:
        """Cancel a run in progress; what it measured so far (`complete` False)."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()  # run_open/run_closed's finally blocks record what was measured
            await asyncio.wait({task}, timeout=10)
        await self._close()
        return self._result, self._side

    async def _close(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()


class WorkerPool:
    """N LoadWorker actors for a whole load run; `run(plan)` sends a plan's load through them."""

    def __init__(self, workers: int, address: str | None = None,
                 log: Callable[[str], None] = lambda line: None,
                 loop: str | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers, self.address, self.log = workers, address, log
        # The workers' event loop (codeperf.load.event_loops): uvloop when installed.
        self.loop = event_loops.check(loop or event_loops.default_name())
        self.actors: list[Any] = []
        self.started_ray = False
        self.startup_s: float | None = None

    def start(self) -> "WorkerPool":
        import ray

        t0 = time.perf_counter()
        if not ray.is_initialized():
            runtime_env = {"env_vars": event_loops.ray_env_vars(self.loop)}
            if self.address:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                         runtime_env=runtime_env)
            else:
                # Ray starts its workers at niceness 15 (its `worker_niceness`), below every
                # ordinary process: on a machine where the simulators (niceness 0) share the
                # cores, a burst's sends waited behind their work. Load generators are the
                # point of this session, so they run at the normal priority.
                # address="local": a new instance of our own, never an attach to a Ray that
                # happens to run on this machine (ray.init without an address joins one,
                # and then refuses num_cpus).
                ray.init(address="local", num_cpus=self.workers, include_dashboard=False, log_to_driver=False,
                         object_store_memory=LOCAL_OBJECT_STORE_BYTES, runtime_env=runtime_env,
                         _system_config={"worker_niceness": WORKER_NICENESS})
            self.started_ray = True
        actor_cls = ray.remote(num_cpus=1, max_restarts=0)(LoadWorker)
        self.actors = [actor_cls.options(scheduling_strategy="SPREAD").remote(k, self.workers)
                       for k in range(self.workers)]
        ray.get([a.__ray_ready__.remote() for a in self.actors])
        self.startup_s = time.perf_counter() - t0
        self.log(f"load: {self.workers} Ray worker(s) ready in {self.startup_s:.2f} s"
                 + (f" on {self.address}" if self.address else " (local Ray)"))
        return self

    def stop(self) -> None:
        import ray

        for actor in self.actors:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
        self.actors = []
        if self.started_ray and ray.is_initialized():
            ray.shutdown()
        self.started_ray = False

    def __enter__(self) -> "WorkerPool":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    async def run(self, plan: Plan, held: list[Any] | None = None, *, start_in_s: float = 0.0
                  ) -> tuple[MergedLoadResult, list[Any], float]:
        """Run `plan` on every worker: the merged result, each worker's side data, and
        the wall-clock time the schedule started.

        `held` receives (merged result, side data) even when the run is interrupted
        or a worker fails (partial: each worker's result so far, `complete` False).
        The schedule starts `start_in_s` (at least START_MARGIN_S) after every worker
        has prepared.
        """
        placements = await asyncio.gather(*[a.prepare.remote(plan) for a in self.actors])
        start_at = time.time() + max(START_MARGIN_S, start_in_s)
        runs = [a.run.remote(start_at) for a in self.actors]
        try:
            outcomes = await asyncio.gather(*runs)
        except BaseException:
            outcomes = await self._stop_all()
            if held is not None:
                held.append((merge_results([r for r, _ in outcomes], list(placements)),
                             [side for _, side in outcomes]))
            raise
        merged = merge_results([r for r, _ in outcomes], list(placements))
        sides = [side for _, side in outcomes]
        if held is not None:
            held.append((merged, sides))
        return merged, sides, start_at

    async def _stop_all(self) -> list[tuple[loadgen.LoadResult, Any]]:
        import ray

        refs = [a.stop.remote() for a in self.actors]
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.gather(*refs)), 15)
        except BaseException:  # a worker that cannot answer: what the others measured
            got = []
            for ref in refs:
                with contextlib.suppress(Exception):
                    got.append(ray.get(ref, timeout=1))
            return got or [(loadgen.LoadResult(), None)]
