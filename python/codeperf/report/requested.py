"""Whether a run asked for what a target measures, from the suite envelope's config.

A suite run on a subset (`make load SCENARIO=sustained`, `make memory
COMPONENT=leaks`, `make bench-rust BENCH=consensus`) reports only the targets
of what it ran. The report must tell such a target apart from one the suite
should have reported and did not: the first is "not run", the second a failure.
Each rule below mirrors how its suite filters its targets; a config without the
keys (an older envelope, a suite with no subsets, such as mcp) answers None,
"unknown", and the target keeps failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Asked:
    """The answer for one target: `requested` is None when the config cannot tell."""

    requested: bool | None
    detail: str = ""  # what the run did ask for, for the report's note


def _names(config: dict[str, Any], key: str) -> list[str] | None:
    value = config.get(key)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _load(config: dict[str, Any], metric: str) -> Asked:
    # load_suite.run_suite keeps the targets whose metric starts with "<scenario>.".
    scenarios = _names(config, "scenarios")
    if scenarios is None:
        return Asked(None)
    scenario = metric.split(".", 1)[0]
    return Asked(scenario in scenarios, f"scenario {scenario} not requested; ran "
                 + ", ".join(scenarios))


def _memory(config: dict[str, Any], metric: str) -> Asked:
    # memory.suite keeps a target when one of its source components ran.
    components = _names(config, "components")
    if components is None:
        return Asked(None)
    from codeperf.memory.suite import TARGET_SOURCES

    sources = TARGET_SOURCES.get(metric)
    if sources is None:  # the suite treats an unmapped metric as measured by every component
        return Asked(True)
    return Asked(bool(sources & set(components)),
                 f"needs component {' or '.join(sorted(sources))}; ran " + ", ".join(components))


def _bench_rust(config: dict[str, Any], metric: str) -> Asked:
    # bench.driver keeps "<kind>.<op>" for the selected ops, memory targets only with the pass.
    benches = _names(config, "benches")
    if benches is None:
        return Asked(None)
    op = metric.split(".", 1)[-1]
    if op not in benches:
        return Asked(False, f"benchmark {op} not requested; ran " + ", ".join(benches))
    if metric.startswith("memory_") and config.get("memory_pass") is False:
        return Asked(False, "memory pass not requested")
    return Asked(True)


RULES: dict[str, Callable[[dict[str, Any], str], Asked]] = {
    "load": _load,
    "memory": _memory,
    "bench_rust": _bench_rust,
}


def asked_for(suite: str, config: Any, metric: str) -> Asked:
    """Did this suite's run (its envelope `config`) ask for what `metric` measures?"""
    rule = RULES.get(suite)
    if rule is None or not isinstance(config, dict):
        return Asked(None)
    return rule(config, metric)
