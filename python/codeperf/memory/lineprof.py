"""memory_profiler's line-by-line profiler, captured as data instead of printed.

memory_profiler traces every line of the registered functions and reads the
process RSS (its `psutil` backend) before each one; a line's *increment* is the
RSS change across it, summed over all its executions, and *occurrences* counts
them. These are RSS figures (MiB resolution of the allocator's page use), so
small allocations show as 0: it attributes growth to lines, it does not size
heaps. Tracing costs about 50 us per line, so it runs on small inputs.
"""

from __future__ import annotations

import importlib
import inspect
import linecache
from typing import Any, Callable, Iterable

MIB = 1 << 20
BACKEND = "psutil"  # memory_profiler's RSS reader


def functions_of(module_names: Iterable[str]) -> list[Callable[..., Any]]:
    """Every plain function defined in the named modules (not the ones they import)."""
    found = []
    for name in module_names:
        module = importlib.import_module(name)
        for _, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__:
                found.append(fn)
    return found


def profile_lines(functions: Iterable[Callable[..., Any]], run: Callable[[], Any],
                  top: int = 15) -> dict[str, Any]:
    """Run `run()` under memory_profiler with `functions` registered; return the table as data."""
    from memory_profiler import LineProfiler

    profiler = LineProfiler(backend=BACKEND)
    for fn in functions:
        profiler.add_function(fn)
    profiler.enable_by_count()
    try:
        run()
    finally:
        profiler.disable_by_count()

    blocks = []
    rows_all = []
    code_map = profiler.code_map
    for filename, code, linenos in code_map._toplevel:  # items() drops the code object's name
        rows = []
        measures = code_map[code]
        for lineno in linenos:
            measure = measures.get(lineno)
            if not measure:
                continue
            increment_mib, usage_mib, occurrences = measure
            row = {"file": filename, "line": lineno,
                   "source": linecache.getline(filename, lineno).rstrip(),
                   "increment_bytes": int(round(increment_mib * MIB)),
                   "mem_usage_bytes": int(round(usage_mib * MIB)),
                   "occurrences_count": int(occurrences)}
            rows.append(row)
            rows_all.append(row)
        if rows:
            blocks.append({"file": filename, "function": code.co_qualname
                           if hasattr(code, "co_qualname") else code.co_name,
                           "first_line": code.co_firstlineno, "lines": rows})
    top_lines = sorted(rows_all, key=lambda r: r["increment_bytes"], reverse=True)[:top]
    return {"backend": BACKEND, "measures": "rss", "functions_count": len(blocks),
            "lines_count": len(rows_all), "top_lines": top_lines, "functions": blocks}

