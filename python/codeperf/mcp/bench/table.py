"""The readable summary mcp_bench prints on stderr (the data itself is in mcp.json)."""

from __future__ import annotations

from typing import Any, Iterable

from codeperf.mcp.bench import argshint


def _fmt(value: Any, spec: str = ".2f") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def _table(headers: list[str], rows: Iterable[list[str]]) -> str:
    rows = list(rows)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def render(envelope: dict[str, Any]) -> str:
    results = envelope["results"]
    parts = []
    tools = [r for r in results if r.get("kind") in ("tool", "payload")]
    if tools:
        parts.append(_table(
            ["tool", "calls", "ok", "p50 ms", "p95 ms", "p99 ms", "max ms", "calls/s", "srv CPU ms/call",
             "errors (transport/jsonrpc/isError/timeout)"],
            ([r["id"], str(s["calls_count"]), str(s["ok_count"]), _fmt(s["p50_ms"]), _fmt(s["p95_ms"]),
              _fmt(s["p99_ms"]), _fmt(s["max_ms"]), _fmt(s["calls_per_s_rps"], ".0f"),
              _fmt(s.get("server_cpu_per_call_ms"), ".3f"),
              "/".join(str(s[f"errors_{k}_count"]) for k in ("transport", "jsonrpc", "is_error", "timeout"))]
             for r in tools for s in [r["summary"]])))
    parts += [argshint.render(r) for r in results if r.get("kind") == "arguments_hint"]
    sweeps = [r for r in results if r.get("kind") == "sweep"]
    if sweeps:
        parts.append(_table(["concurrency sweep", "in flight", "calls/s", "p50 ms", "p99 ms", "ok/calls"],
                            ([r["id"], str(s["concurrency_count"]), _fmt(s["calls_per_s_rps"], ".0f"),
                              _fmt(s["p50_ms"]), _fmt(s["p99_ms"]), f"{s['ok_count']}/{s['calls_count']}"]
                             for r in sweeps for s in [r["summary"]])))
    handled = [r for r in results if r.get("kind") == "handled"]
    if handled:
        parts.append(_table(["handled run (counts for '1000+ calls')", "in flight", "ok/planned", "calls/s",
                             "p50 ms", "p99 ms"],
                            ([r["id"], str(s["concurrency_count"]), f"{s['ok_count']}/{s['planned_count']}",
                              _fmt(s["calls_per_s_rps"], ".0f"), _fmt(s["p50_ms"]), _fmt(s["p99_ms"])]
                             for r in handled for s in [r["summary"]])))
    sessions = [r for r in results if r.get("kind") == "session"]
    if sessions:
        parts.append(_table(["session (initialize: cold handshake incl. stdio start-up)", "mean ms", "p50 ms",
                             "max ms", "warm discover ms"],
                            ([r["id"], _fmt(s.get("handshake_mean_ms", s.get("mean_ms"))),
                              _fmt(s.get("handshake_p50_ms", s.get("p50_ms"))),
                              _fmt(s.get("handshake_max_ms", s.get("max_ms"))),
                              _fmt(s.get("discover_rtt_mean_ms"))]
                             for r in sessions for s in [r["summary"]])))
    floors = [r for r in results if r.get("kind") == "floor"]
    ratios = {r["id"].split("/", 1)[1]: r["summary"] for r in results if r.get("kind") == "floor_ratio"}
    if floors:
        parts.append(_table(["protocol floor (no-op)", "wall s", "calls/s", "mean ms", "p99 ms", "failed"],
                            ([r["id"], _fmt(s["wall_s"], ".3f"), _fmt(s["calls_per_s_rps"], ".0f"),
                              _fmt(s["mean_ms"], ".3f"), _fmt(s["p99_ms"], ".3f"), str(s["failed_count"])]
                             for r in floors for s in [r["summary"]])))
        for transport, s in ratios.items():
            parts.append(f"SDK overhead over raw JSON-RPC ({transport}): {_fmt(s['sdk_overhead_x'], '.1f')}x "
                         f"wall time, {_fmt(s['sdk_extra_per_call_ms'], '.3f')} ms extra per call")
    bottlenecks = {r["id"]: r for r in results if r.get("kind") == "bottleneck"}
    slow = bottlenecks.get("bottlenecks/slowest_tools", {}).get("ranking", [])
    cpu = bottlenecks.get("bottlenecks/cpu_per_call", {}).get("ranking", [])
    mem = bottlenecks.get("bottlenecks/memory_growth", {}).get("ranking", [])
    if slow or cpu or mem:
        lines = ["bottlenecks:"]
        if slow:
            lines.append("  slowest (p50): " + ", ".join(f"{r['tool']} {_fmt(r['p50_ms'])} ms" for r in slow[:3]))
        if cpu:
            lines.append("  most server CPU per call: " + ", ".join(
                f"{r['tool']} {_fmt(r['server_cpu_per_call_ms'], '.3f')} ms" for r in cpu[:3]))
        if mem:
            lines.append("  RSS growth over the run: " + ", ".join(
                f"{r['server']} {r['rss_growth_bytes'] / 1e6:+.1f} MB" for r in mem[:4]))
        parts.append("\n".join(lines))
    if envelope.get("targets"):
        parts.append(_table(["target", "measured", "threshold", "result"],
                            ([t["name"], _fmt(t["measured"], ".3f"), f"{t['op']} {t['threshold']:g} {t['unit']}",
                              "PASS" if t["passed"] else "FAIL" + (f" ({t['note']})" if t.get("note") else "")]
                             for t in envelope["targets"])))
    problems = [v for v in envelope.get("validity", []) if not v["ok"]]
    for v in problems:
        parts.append(f"INVALID: {v['check']}: {v.get('detail')}")
    for e in envelope.get("errors", []):
        parts.append(f"error [{e['kind']}] {e['message']}")
    return "\n\n".join(parts)
