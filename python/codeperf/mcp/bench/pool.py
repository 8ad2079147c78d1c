"""Live SDK sessions to several bundled servers, and a load-generator operation over their tools.

The load scenarios (`mcp-calls`, `mixed`) use this: one stdio session per
bundled server, a call plan cycling through every tool with the bundled
argument sets, and `op(i)` that makes call i and raises
`RequestError("mcp_<kind>")` (`codeperf.harness.request_errors`) when it fails, as the load generator expects.

The servers start (and stop) at the same time, not one after another: each
server process spends ~1 s importing the `mcp` SDK before it answers, and on
2 cores four imports side by side take about half as long as in a row. Each
session is opened and closed by its own task (`_hold`), as the SDK's task
groups require; calls are made from any task.
"""

from __future__ import annotations

import asyncio
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

from codeperf.harness.latency import LatencyHistogram
from codeperf.mcp.bench import launch
from codeperf.mcp.bench.argsgen import load_scenario_file
from codeperf.mcp.bench.calls import CallStats, call_once
from codeperf.mcp.bench.fixture import BUNDLED_SCENARIOS_PATH, make_files_root
from codeperf.mcp.utility import DELIBERATE_FAILURES

# Deliberate failures and the expert fan-out are not "tool calls" for load purposes.
LOAD_EXCLUDED_TOOLS = DELIBERATE_FAILURES | {"consult"}


class McpPool:
    def __init__(self, names: Sequence[str], log_dir: Path, transport: str = "stdio",
                 call_timeout_s: float = 30.0, nice: int = 0) -> None:
        if not 0 <= nice <= 19:
            raise ValueError("nice must be between 0 and 19")
        self.names = list(names)
        # nice > 0: the servers run below the load generator's priority once started
        # (codeperf.harness.sched.lower_priority); `niceness` says what each got.
        self.nice = nice
        self.niceness: dict[str, int | None] = {}
        self.transport = transport
        self.log_dir = log_dir
        self.call_timeout_s = call_timeout_s
        self.plan: list[tuple[str, Any, str, dict[str, Any]]] = []  # (label, client, tool, args)
        self.per_tool: dict[str, CallStats] = {}
        self.pids: dict[str, int | None] = {}
        self.backend: str | None = None  # the engine backend of the experts server, when one runs
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> "McpPool":
        self._stop = asyncio.Event()
        self._holders: list[asyncio.Task] = []
        try:
            tmp = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="codeperf-mcp-load-"))
            root = make_files_root(Path(tmp))
            scenarios = load_scenario_file(BUNDLED_SCENARIOS_PATH)
            loop = asyncio.get_running_loop()
            ready = [loop.create_future() for _ in self.names]
            self._holders = [asyncio.ensure_future(self._hold(name, root, scenarios, done))
                             for name, done in zip(self.names, ready)]
            # Every server's plan, in the order of `names` (the call plan stays deterministic).
            for part in await asyncio.gather(*ready):
                self.plan.extend(part)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        if not self.plan:
            await self.__aexit__(None, None, None)
            raise RuntimeError("the bundled MCP servers listed no tools")
        if self.nice:
            from codeperf.harness.sched import lower_priority

            labels = {pid: label for label, pid in self.pids.items() if pid is not None}
            after = lower_priority(labels, self.nice)
            self.niceness = {labels[pid]: nice for pid, nice in after.items()}
        return self

    async def _hold(self, name: str, root: Path, scenarios: dict[str, Any],
                    ready: "asyncio.Future[list[tuple[str, Any, str, dict[str, Any]]]]") -> None:
        """Open one server's session, hand its part of the plan to `ready`, keep the session
        open until the pool closes, then close it (in this task, as the SDK requires)."""
        try:
            spec = launch.bundled_spec(name, self.transport, files_root=root)
            async with launch.ServerHandle(spec, self.log_dir, self.call_timeout_s) as handle:
                async with handle.session() as session:
                    self.pids[spec.label] = session.pid
                    listing = await session.client.list_tools()
                    if any(t.name == "engine_backend" for t in listing.tools):
                        result = await session.client.call_tool("engine_backend", {})
                        self.backend = result.content[0].text if not result.is_error else None
                    part = [(spec.label, session.client, tool.name, args)
                            for tool in listing.tools if tool.name not in LOAD_EXCLUDED_TOOLS
                            for args in scenarios.get(tool.name, [{}])]
                    ready.set_result(part)
                    await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    async def __aexit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._holders:
            # A holder that failed already handed its exception to __aenter__.
            await asyncio.gather(*self._holders, return_exceptions=True)
        await self._stack.aclose()
        launch.reap_leftovers()

    def op(self) -> Callable[[int], Awaitable[None]]:
        from codeperf.harness.request_errors import RequestError

        async def call(i: int) -> None:
            label, client, tool, args = self.plan[i % len(self.plan)]
            outcome = await call_once(client, tool, args, self.call_timeout_s)
            self.per_tool.setdefault(f"{label}/{tool}", CallStats()).add(outcome)
            if outcome.kind != "ok":
                raise RequestError(f"mcp_{outcome.kind}", outcome.message)

        return call

    def per_tool_summary(self) -> dict[str, Any]:
        return {key: {"ok_count": s.ok, "calls_count": s.calls,
                      "p50_ms": s.histogram.percentile_ms(50), "p99_ms": s.histogram.percentile_ms(99),
                      **{f"errors_{k}_count": v for k, v in s.errors.items() if v}}
                for key, s in sorted(self.per_tool.items())}

    def merged_histogram(self) -> LatencyHistogram:
        hist = LatencyHistogram()
        for stats in self.per_tool.values():
            hist.merge(stats.histogram)
        return hist
