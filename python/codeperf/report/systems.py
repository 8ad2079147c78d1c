"""Which systems the run measured: the report header's "Systems under test" table.

Read from each envelope's `config["systems"]` (the shape is declared once in
codeperf.harness.systems), so a report says whether it measured the embedded
defaults (the expert simulator, the bundled MCP servers) or the user's own
deployment. Suites that name no systems (bench_rust, older envelopes) add none.
The entries already hold no secrets; they are still rendered as data (fmt.cell).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codeperf.report.loading import Run

KIND_LABEL = {"expert": "expert", "mcp_server": "MCP server"}


@dataclass
class System:
    kind: str
    name: str
    detail: str
    suites: list[str] = field(default_factory=list)


def _detail(entry: dict[str, Any]) -> str:
    if entry.get("kind") == "expert":
        return f"{entry.get('model') or '?'} at {entry.get('endpoint') or '?'}"
    parts = [str(entry.get("transport") or "?")]
    if entry.get("endpoint"):
        parts.append(str(entry["endpoint"]))
    if entry.get("origin"):
        parts.append(f"({entry['origin']})")
    return " ".join(parts)


def systems_under_test(run: Run) -> list[System]:
    """One row per distinct system, in the order suites first name them."""
    found: dict[tuple[str, str, str], System] = {}
    for data in run.present:
        entries = (data.envelope or {}).get("config", {}).get("systems")
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict) or "name" not in entry:
                continue
            kind = KIND_LABEL.get(str(entry.get("kind")), str(entry.get("kind")))
            system = found.setdefault((kind, str(entry["name"]), _detail(entry)),
                                      System(kind, str(entry["name"]), _detail(entry)))
            if data.suite not in system.suites:
                system.suites.append(data.suite)
    return list(found.values())
