"""The memory suite's components, in their default run order.

Each is `run(ctx: MemoryContext) -> list[dict]` (result entries, docs/results.md)
and raises `ComponentSkipped` with a reason when a part it needs is not
available yet (the Rust extension, the experts orchestrator, the MCP servers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from codeperf.memory.context import MemoryContext


@dataclass(frozen=True)
class Component:
    name: str
    description: str
    run: Callable[[MemoryContext], list[dict[str, Any]]]


def registry() -> dict[str, Component]:
    # Imported here so that a component whose optional dependencies are broken
    # does not stop the others from being listed.
    from codeperf.memory.components import engine, experts, lines, leak_controls, mcp_client

    items = [
        Component("controls", "leak-detector positive and negative controls", leak_controls.run),
        Component("engine", "engine operations per backend: peak of each heap, Rust vs Python",
                  engine.run_peaks),
        Component("leaks", "engine operations per backend: retained bytes per call (slope, 95% CI)",
                  engine.run_leaks),
        Component("experts", "one Circle of Experts query end to end against the simulator",
                  experts.run_query),
        Component("concurrency", "100 concurrent expert queries: peak and memory per in-flight query",
                  experts.run_concurrency),
        Component("mcp", "MCP client and a bundled server process (server RSS via psutil)",
                  mcp_client.run),
        Component("lineprof", "memory_profiler line-by-line over the engine twin and the query path",
                  lines.run),
    ]
    return {c.name: c for c in items}


COMPONENT_NAMES = ("controls", "engine", "leaks", "experts", "concurrency", "mcp", "lineprof")
