"""Line-by-line memory (memory_profiler) over the engine's Python twin and the query path."""

from __future__ import annotations

import tracemalloc
from contextlib import contextmanager
from typing import Any, Iterator

from codeperf.engine import backend
from codeperf.engine.corpus import generate_responses
from codeperf.memory.context import ComponentSkipped, MemoryContext
from codeperf.memory.lineprof import functions_of, profile_lines

TWIN_MODULES = tuple(f"codeperf.engine.{m}" for m in
                     ("analysis", "consensus", "aggregate", "text", "document", "validation"))
QUERY_PATH_MODULES = ("codeperf.experts.orchestrator",)
# Tracing costs ~50 us per executed line: small inputs keep this to seconds.
TWIN_INPUT = (10, 1024)
TWIN_INPUT_QUICK = (4, 256)


@contextmanager
def tracemalloc_paused() -> Iterator[None]:
    """Stop tracemalloc for the block: it makes line tracing ~4x slower and adds its own
    bookkeeping to the RSS memory_profiler reads. Every heap figure elsewhere is a delta
    within one measurement, so restarting it afterwards loses nothing they use; the
    timeline shows the Python heap as null meanwhile."""
    frames = tracemalloc.get_traceback_limit()
    was_tracing = tracemalloc.is_tracing()
    if was_tracing:
        tracemalloc.stop()
    try:
        yield
    finally:
        if was_tracing:
            tracemalloc.start(frames)


def run(ctx: MemoryContext) -> None:
    n, size_bytes = TWIN_INPUT_QUICK if ctx.quick else TWIN_INPUT
    responses = generate_responses(n, size_bytes, seed=0)
    twin = backend("python")

    def engine_ops() -> None:
        twin.analyze_responses(responses)
        twin.compute_consensus(responses, similarity="cosine")
        twin.compute_consensus(responses, similarity="jaccard")
        twin.aggregate_responses(responses)

    with ctx.sampler.phase("lineprof/engine_twin"), tracemalloc_paused():
        table = profile_lines(functions_of(TWIN_MODULES), engine_ops)
    ctx.add_result(_entry(f"lineprof/engine_twin/{n}x{size_bytes}B", table, "python"))
    ctx.log(f"lineprof: engine twin: {table['lines_count']} lines in "
            f"{table['functions_count']} functions profiled")

    try:
        from codeperf.memory.components.experts import harness

        circle = harness(ctx)
    except ComponentSkipped as exc:
        ctx.log(f"lineprof: query path SKIPPED ({exc})")
        ctx.add_result({"id": "lineprof/query_path", "kind": "skipped", "reason": str(exc)})
        return
    circle.query()  # warm: the first query opens connections, which is not the query path
    with ctx.sampler.phase("lineprof/query_path"), tracemalloc_paused():
        table = profile_lines(functions_of(QUERY_PATH_MODULES), circle.query)
    ctx.add_result(_entry("lineprof/query_path", table, circle.backend))
    ctx.log(f"lineprof: query path: {table['lines_count']} lines in "
            f"{table['functions_count']} functions profiled")


def _entry(entry_id: str, table: dict[str, Any], backend_name: str | None) -> dict[str, Any]:
    top = table["top_lines"][0] if table["top_lines"] else None
    entry = {"id": entry_id, "kind": "lineprof",
             "summary": {"functions_count": table["functions_count"],
                         "lines_count": table["lines_count"],
                         "top_increment_bytes": top["increment_bytes"] if top else None},
             "lines": table}
    if backend_name:
        entry["backend"] = backend_name
    return entry
