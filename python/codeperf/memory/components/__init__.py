"""The memory suite's components, in their default run order.

Each is `run(ctx: MemoryContext) -> None`: it records each result entry
(docs/results.md) with `ctx.add_result(entry)` as soon as it is measured, so a
component that fails or is interrupted half-way keeps what it measured (the
suite records those entries marked `"partial": true`). It raises
`ComponentSkipped` with a reason when a part it needs is not available yet (the
Rust extension, the experts orchestrator, the MCP servers).

`preload` names the heavy modules a component imports (the MCP SDK, aiohttp):
the suite imports them before tracemalloc starts and freezes them out of the
garbage collector's view, because importing them under tracing takes seconds
and every later snapshot and full collection would walk their objects again.
Imports are not what any component measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from codeperf.memory.context import MemoryContext


@dataclass(frozen=True)
class Component:
    name: str
    description: str
    run: Callable[[MemoryContext], None]
    preload: tuple[str, ...] = ()


def registry() -> dict[str, Component]:
    # Imported here so that a component whose optional dependencies are broken
    # does not stop the others from being listed.
    from codeperf.memory.components import engine, experts, lines, leak_controls, mcp_client

    experts_modules = ("aiohttp", "codeperf.experts.config", "codeperf.experts.orchestrator",
                       "codeperf.experts.simulator", "codeperf.experts.simulator_process",
                       "codeperf.harness.loopback")
    items = [
        Component("controls", "leak-detector positive and negative controls", leak_controls.run),
        Component("engine", "engine operations per backend: peak of each heap, Rust vs Python",
                  engine.run_peaks),
        Component("leaks", "engine operations per backend: retained bytes per call (slope, 95% CI)",
                  engine.run_leaks),
        Component("experts", "one Circle of Experts query end to end against the experts "
                             "(--experts; default the simulator)",
                  experts.run_query, experts_modules),
        Component("concurrency", "100 concurrent expert queries: peak and memory per in-flight query",
                  experts.run_concurrency, experts_modules),
        Component("mcp", "MCP client and a bundled server process (server RSS via psutil)",
                  mcp_client.run, ("mcp", "mcp.client.stdio", "codeperf.mcp")),
        Component("lineprof", "memory_profiler line-by-line over the engine twin and the query path",
                  lines.run, ("memory_profiler",) + experts_modules),
    ]
    return {c.name: c for c in items}


COMPONENT_NAMES = ("controls", "engine", "leaks", "experts", "concurrency", "mcp", "lineprof")
