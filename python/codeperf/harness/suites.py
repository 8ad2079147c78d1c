"""The one registry of suites: name, script and title.

Everything that needs to know which suites exist reads it from here: the
envelope's `suite` field, the `make perf` driver (which script to launch), the
report (section titles and order) and `scripts/perf.py --suite`. Adding a suite
is one line here plus its script.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SuiteInfo:
    name: str  # the envelope file is reports/<run-id>/<name>.json
    script: str  # scripts/<script> --out DIR [--quick]
    title: str  # the report's section title


REGISTRY: tuple[SuiteInfo, ...] = (
    SuiteInfo("bench_rust", "bench_rust.py", "Rust vs Python"),
    SuiteInfo("load", "load_scenarios.py", "Load scenarios"),
    SuiteInfo("memory", "memory_profile.py", "Memory"),
    SuiteInfo("mcp", "mcp_bench.py", "MCP servers"),
)

SUITES: tuple[str, ...] = tuple(s.name for s in REGISTRY)
BY_NAME: dict[str, SuiteInfo] = {s.name: s for s in REGISTRY}


def info(name: str) -> SuiteInfo:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown suite {name!r}; expected one of {', '.join(SUITES)}") from None
