"""The one registry of suites: name, script and title.

Everything that needs to know which suites exist reads it from here: the
envelope's `suite` field, the `make perf` driver (which script to launch), the
report (section titles and order), `scripts/perf.py --suite` and which suites
get the user's experts and MCP servers. Adding a suite is one line here plus its
script.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SuiteInfo:
    name: str  # the envelope file is reports/<run-id>/<name>.json
    script: str  # scripts/<script> --out DIR [--quick]
    title: str  # the report's section title
    # The deployment options its script accepts (`make perf EXPERTS=... MCP_CONFIG=...`,
    # codeperf.deployment): "experts" (--experts FILE), "mcp_config" (--config FILE),
    # "allow_remote" (--allow-remote).
    takes: frozenset[str] = frozenset()


_EXPERTS = frozenset({"experts", "allow_remote"})

REGISTRY: tuple[SuiteInfo, ...] = (
    SuiteInfo("bench_rust", "bench_rust.py", "Rust vs Python"),
    SuiteInfo("load", "load_scenarios.py", "Load scenarios", _EXPERTS),
    SuiteInfo("memory", "memory_profile.py", "Memory", _EXPERTS),
    SuiteInfo("mcp", "mcp_bench.py", "MCP servers", _EXPERTS | {"mcp_config"}),
)

SUITES: tuple[str, ...] = tuple(s.name for s in REGISTRY)
BY_NAME: dict[str, SuiteInfo] = {s.name: s for s in REGISTRY}


def info(name: str) -> SuiteInfo:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown suite {name!r}; expected one of {', '.join(SUITES)}") from None
