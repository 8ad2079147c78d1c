"""The human side: a table on stderr, one row per case as it finishes."""

from __future__ import annotations

from typing import Any

import click

from codeperf.bench_rust.analysis import Speedup
from codeperf.bench_rust.memory_pass import MemoryResult

COLUMNS = (("case", 26, "<"), ("python", 10, ">"), ("rust", 10, ">"), ("speedup", 8, ">"),
           ("95% CI", 17, "<"), ("sig", 4, "<"), ("py peak", 10, ">"), ("rs peak", 10, ">"),
           ("less mem", 8, ">"), ("others", 6, ">"), ("gate", 5, "<"))


def _three(value: float) -> str:
    """Three significant digits without switching to exponent notation (1010, not 1.01e+03)."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{_three(value / scale)} {unit}"
    return f"{_three(value / 1e-9)} ns"


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= scale:
            return f"{_three(value / scale)} {unit}"
    return f"{value:.0f} B"


def _cell(text: str, width: int, align: str) -> str:
    return f"{text:{align}{width}}"


def header() -> str:
    line = "  ".join(_cell(name, width, align) for name, width, align in COLUMNS)
    return line + "\n" + "-" * len(line)


def row(progress: str, sp: Speedup, memory: MemoryResult | None,
        speed_goal: float | None, memory_goal: float | None) -> str:
    """One case; speedup and memory cells turn red when they miss a goal (at the reference size)."""
    ci = sp.ci
    cells: list[tuple[str, Any]] = [
        (f"{sp.op}/{sp.size_label}", None),
        (fmt_seconds(sp.python_median_s), None),
        (fmt_seconds(sp.rust_median_s), None),
        (f"{ci.ratio:.3g}x" if ci else "-", _colour(ci.ratio if ci else None, speed_goal)),
        (f"[{ci.low:.3g}, {ci.high:.3g}]" if ci else "-", None),
        (("yes" if ci.excludes_one else "no") if ci else "-", None),
        (fmt_bytes(memory.python_peak_bytes) if memory else "-", None),
        (fmt_bytes(memory.rust_total_peak_bytes) if memory else "-", None),
        (f"{memory.reduction_pct:.0f}%" if memory and memory.reduction_pct is not None else "-",
         _colour(memory.reduction_pct if memory else None, memory_goal)),
        (f"{sp.background_cpu_pct:.0f}%" if sp.background_cpu_pct is not None else "-", None),
        ("ok" if sp.correct else "FAIL", None if sp.correct else "red"),
    ]
    out = []
    for (text, colour), (_, width, align) in zip(cells, COLUMNS):
        cell = _cell(text, width, align)
        out.append(click.style(cell, fg=colour) if colour else cell)
    return f"{progress} " + "  ".join(out)


def _colour(value: float | None, goal: float | None) -> str | None:
    if goal is None or value is None:
        return None
    return "green" if value >= goal else "red"
