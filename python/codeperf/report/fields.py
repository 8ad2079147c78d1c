"""The optional result-entry fields the report reads, and nothing else.

docs/report.md lists them for suite authors. Every reader returns None (or an
empty value) when its field is absent or malformed, so a suite that does not
provide one simply gets no chart or column for it.
"""

from __future__ import annotations

import math
from statistics import median
from typing import Any

from codeperf.harness.latency import PERCENTILES, LatencyHistogram

TIMELINE_TIME_KEY = "t_s"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def summary(entry: dict[str, Any]) -> dict[str, Any]:
    value = entry.get("summary")
    return value if isinstance(value, dict) else {}


def group(entry: dict[str, Any]) -> str:
    """The criterion group: the part of `id` before the first slash."""
    return str(entry.get("id", "")).split("/", 1)[0]


def samples(entry: dict[str, Any]) -> list[float] | None:
    """`samples`: pyperf values in seconds (all runs' values, warmups excluded)."""
    values = entry.get("samples")
    if not isinstance(values, list):
        return None
    numbers = [v for v in (_num(x) for x in values) if v is not None]
    return numbers or None


def correct(entry: dict[str, Any]) -> bool | None:
    """`correct` (entry or summary): both implementations agreed on the timed input."""
    for source in (entry, summary(entry)):
        if isinstance(source.get("correct"), bool):
            return source["correct"]
    return None


def speedup(entry: dict[str, Any]) -> tuple[float, float | None, float | None] | None:
    """`summary.speedup_x` with optional `speedup_ci_low_x` / `speedup_ci_high_x`."""
    s = summary(entry)
    value = _num(s.get("speedup_x"))
    if value is None:
        return None
    return value, _num(s.get("speedup_ci_low_x")), _num(s.get("speedup_ci_high_x"))


def memory_reduction(entry: dict[str, Any]) -> float | None:
    """`summary.memory_reduction_pct`: how much less memory Rust needed than Python."""
    return _num(summary(entry).get("memory_reduction_pct"))


def median_ms(entry: dict[str, Any]) -> float | None:
    """Median time: of `samples`, else `summary.median_s`, else `summary.median_ms`."""
    values = samples(entry)
    if values:
        return median(values) * 1000.0
    s = summary(entry)
    if _num(s.get("median_s")) is not None:
        return float(s["median_s"]) * 1000.0
    return _num(s.get("median_ms"))


def scale(entry: dict[str, Any]) -> float | None:
    """`scale`: the entry's position on a scaling axis (input size, concurrency...)."""
    return _num(entry.get("scale"))


def scale_unit(entry: dict[str, Any]) -> str:
    unit = entry.get("scale_unit")
    return str(unit) if unit else "scale"


def _pkey(p: float) -> str:
    return "p" + f"{p:g}".replace(".", "")


def latency_percentiles(entry: dict[str, Any]) -> dict[str, float]:
    """Latency percentiles in ms: from the decoded `histogram` when present, else
    the `summary` keys p50_ms, p90_ms, p95_ms, p99_ms, p999_ms."""
    data = entry.get("histogram")
    if isinstance(data, dict):
        try:
            hist = LatencyHistogram.from_dict(data)
        except Exception:  # fall back to the summary below
            hist = None
        if hist is not None and hist.count:
            return {_pkey(p): hist.percentile_ms(p) for p in PERCENTILES}
    s = summary(entry)
    out = {}
    for p in PERCENTILES:
        value = _num(s.get(f"{_pkey(p)}_ms"))
        if value is not None:
            out[_pkey(p)] = value
    return out


def timeline(entry: dict[str, Any]) -> tuple[list[float] | None, dict[str, list[float]]]:
    """`timeline`: columns `{"t_s": [...], "<series>_bytes": [...], ...}` or rows
    `[{"t_s": ..., "<series>_bytes": ...}, ...]`. Returns (times, series)."""
    data = entry.get("timeline")
    if isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
        keys = [k for k in data[0]]
        data = {k: [row.get(k) for row in data] for k in keys}
    if not isinstance(data, dict):
        return None, {}
    columns = {k: v for k, v in data.items() if isinstance(v, list)}
    times = columns.pop(TIMELINE_TIME_KEY, None)
    series = {}
    for key, values in columns.items():
        numbers = [_num(v) for v in values]
        if any(v is not None for v in numbers):
            series[key] = [math.nan if v is None else v for v in numbers]
    if times is not None:
        times = [math.nan if _num(t) is None else float(t) for t in times]
    return times, series


def top_growth(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """`top_growth`: allocation sites that grew most, `[{"site", "size_diff_bytes", "count_diff"}]`."""
    rows = entry.get("top_growth")
    if not isinstance(rows, list):
        return []
    return [r for r in rows if isinstance(r, dict) and "site" in r]


SWEEP_ROW_KEYS = ("offered_rps", "achieved_rps", "p50_ms", "p95_ms", "p99_ms", "ttft_p95_ms",
                  "itl_p95_ms", "tpot_p95_ms", "error_rate_pct", "slo_met_pct", "goodput_qps",
                  "output_tokens_per_s")


def sweep(entry: dict[str, Any]) -> dict[str, Any] | None:
    """`sweep`: a rate sweep, `{"rows": [{"offered_rps", "achieved_rps", "p50_ms", ...,
    "goodput_qps", "oversaturated", "valid"}], "knee_rps", "theoretical_knee_rps",
    "max_goodput_rate_rps", "slo"}`; rows without a numeric offered rate are dropped."""
    data = entry.get("sweep")
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        return None
    rows = [r for r in data["rows"] if isinstance(r, dict) and _num(r.get("offered_rps")) is not None]
    if not rows:
        return None
    return {**data, "rows": sorted(rows, key=lambda r: r["offered_rps"])}


def load_timeline(entry: dict[str, Any]) -> dict[str, list[float]] | None:
    """An open-model run (`load.model == "open"`) over time, one value per second: `ok`, `errors` per second from
    `load.timeline`, and end-to-end `p50_ms` / `p99_ms` from the per-second histograms
    in `queries.intervals.end_to_end_histograms` (their stored summaries)."""
    load = entry.get("load")
    if not isinstance(load, dict) or load.get("model") != "open":
        return None  # a closed loop's timeline is its own pace, not the server's
    timeline = load.get("timeline")
    if not isinstance(timeline, dict) or not isinstance(timeline.get("ok"), list):
        return None
    out: dict[str, list[float]] = {
        "ok": [_num(v) or 0.0 for v in timeline.get("ok", [])],
        "errors": [_num(v) or 0.0 for v in timeline.get("errors", [])]}
    queries = entry.get("queries")
    intervals = queries.get("intervals") if isinstance(queries, dict) else None
    hists = intervals.get("end_to_end_histograms") if isinstance(intervals, dict) else None
    if isinstance(hists, list):
        for p in ("p50", "p99"):
            out[f"{p}_ms"] = [
                (_num((h.get("summary") or {}).get(f"{p}_ms")) if isinstance(h, dict) else None)
                or math.nan for h in hists]
    if not any(out["ok"]) and not any(out["errors"]):
        return None
    return out
