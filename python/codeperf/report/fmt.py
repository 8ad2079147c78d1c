"""Formatting values for Markdown tables: one place, so every table reads alike.

Metric keys carry their unit as a suffix (docs/results.md), so a value is
formatted from its key: `_bytes` as MiB/KiB, `_s` samples in the best time unit,
everything else as a number with sensible precision. None is an em dash.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Sequence

MISSING = "—"


def number(value: Any) -> str:
    """A scalar, readable: thousands separators, ~3-4 significant digits."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value == 0:
            return "0"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"  # a count stored as float reads as a count
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 100:
            return f"{value:.1f}"
        if magnitude >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return cell(value)


def byte_size(value: float | None) -> str:
    if value is None:
        return MISSING
    magnitude = abs(value)
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if magnitude >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:,.0f} B" if float(value).is_integer() else f"{value:.1f} B"


def duration_s(seconds: float | None) -> str:
    """A time in seconds shown in the unit that keeps 3-4 digits (pyperf style)."""
    if seconds is None:
        return MISSING
    magnitude = abs(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if magnitude >= scale:
            return f"{number(seconds / scale)} {unit}"
    return f"{number(seconds / 1e-9)} ns"


def metric(key: str, value: Any) -> str:
    """A summary value, formatted by its unit suffix."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if key.endswith("_bytes"):
            return byte_size(value)
        if key.endswith("_s") and not key.endswith("per_s"):
            return duration_s(value)
    return number(value)


def cell(value: Any, limit: int = 160) -> str:
    """Any value as one Markdown table cell: no newlines, pipes escaped, long text cut.

    Values come from systems under test (tool names, error strings), so they are
    data, never markup: `[`/`]` are escaped so no link or image can form, `<`/`>`
    so no HTML tag or autolink can (report.html also drops any link that is not
    http(s); see render_html).
    """
    if value is None:
        return MISSING
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, separators=(", ", ": "))
    else:
        text = str(value)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # "<frozen importlib._bootstrap>" would be swallowed as an HTML tag by GitHub;
    # "[x](javascript:...)" would become a live link.
    text = text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]],
          align: Sequence[str] | None = None) -> str:
    """A GitHub Markdown table; `align` per column: "l" or "r"."""
    align = align or ["l"] * len(headers)
    lines = ["| " + " | ".join(headers) + " |",
             "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
