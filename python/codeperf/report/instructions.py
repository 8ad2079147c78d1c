"""The engine's regression gate: instruction counts under callgrind, run vs baseline.

bench_rust stores, per engine operation, backend and input, the instructions one
call executed under `valgrind --tool=callgrind` (entries of kind
"instructions", id `instructions/<op>/<backend>/<N>x<size>`). Unlike wall-clock
times they barely move between runs on a busy shared machine (CodSpeed and
iai-callgrind gate on them for that reason), so they, not the speedups, are
what `--fail-on-regression` fails on for the engine: a count that grew by more
than THRESHOLD_PCT is a regression, one that shrank by more an improvement.
An id present on one side only is "not comparable".
"""

from __future__ import annotations

from typing import Any

from codeperf.report.metric_comparison import (IMPROVED, NOT_COMPARABLE, REGRESSED, UNCHANGED,
                                               MetricComparison)

KIND = "instructions"
METHOD = "instruction count"
# The one place for the gate's threshold (percent). Two runs of the same build
# differ by far less (callgrind counts are deterministic up to allocator and
# hash-seed effects); a real 10 % slower operation is far above it.
THRESHOLD_PCT = 2.0


def _counts(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for entry in results:
        if isinstance(entry, dict) and entry.get("kind") == KIND and isinstance(entry.get("id"), str):
            out.setdefault(entry["id"], entry)
    return out


def _value(entry: dict[str, Any] | None) -> float | None:
    value = (entry or {}).get("instructions")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return float(value)


def compare_instructions(suite: str, baseline: list[dict[str, Any]], current: list[dict[str, Any]],
                         threshold_pct: float = THRESHOLD_PCT) -> list[MetricComparison]:
    """One comparison per instruction-count id found in either run."""
    base, cur = _counts(baseline), _counts(current)
    out = []
    for entry_id in sorted(set(base) | set(cur)):
        b, c = _value(base.get(entry_id)), _value(cur.get(entry_id))
        if b is None or c is None:
            side = "baseline" if b is None else "this run"
            out.append(MetricComparison(suite, entry_id, KIND, METHOD, b, c, None, False,
                                        NOT_COMPARABLE, f"no instruction count in the {side}"))
            continue
        ratio = c / b
        change_pct = (ratio - 1.0) * 100.0
        if change_pct > threshold_pct:
            status = REGRESSED
        elif change_pct < -threshold_pct:
            status = IMPROVED
        else:
            status = UNCHANGED
        tools = {str((base.get(entry_id) or {}).get("tool")), str((cur.get(entry_id) or {}).get("tool"))}
        detail = f"{change_pct:+.2f} % (gate ±{threshold_pct:g} %)"
        if len(tools) > 1:
            detail += "; different tool versions: " + " → ".join(sorted(tools))
        out.append(MetricComparison(suite, entry_id, KIND, METHOD, b, c, ratio,
                                    status != UNCHANGED, status, detail))
    return out


def missing_counts(baseline: list[dict[str, Any]], current: list[dict[str, Any]]) -> str:
    """Why the run has no instruction count to compare with the baseline's ("" when it
    has some, or the baseline has none): the engine's gate cannot judge such a run."""
    if not _counts(baseline) or _counts(current):
        return ""
    for entry in current:
        if isinstance(entry, dict) and entry.get("kind") == "not_run" \
                and entry.get("part") == "instructions":
            return f"not run in this run: {entry.get('reason')}"
    return "none in this run"
