"""Charts (matplotlib, non-interactive Agg backend), one PNG per suite and kind of chart.

Each chart reads only the documented optional fields (codeperf.report.fields);
a suite without them gets no chart. A chart that fails to draw is reported in
the report as a note, never as a crash of the aggregator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from codeperf.report import fields
from codeperf.report.loading import Run

CHART_DIR = "charts"
MAX_BARS = 24
MAX_TIMELINES = 6


@dataclass
class Chart:
    suite: str
    kind: str  # speedups, scaling, latency, timelines, sweep, load_timelines
    title: str
    file: str  # relative to the report directory


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    # No software/date metadata: the same data gives the same file.
    fig.savefig(path, dpi=100, metadata={"Software": None})
    _pyplot().close(fig)


def speedups(entries: list[dict[str, Any]], path: Path) -> str | None:
    rows = [(str(e.get("id")), fields.speedup(e)) for e in entries]
    rows = [(label, s) for label, s in rows if s is not None][:MAX_BARS]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.5))
    labels = [label for label, _ in rows]
    values = [s[0] for _, s in rows]
    lows = [s[0] - s[1] if s[1] is not None and s[2] is not None else 0 for _, s in rows]
    highs = [s[2] - s[0] if s[1] is not None and s[2] is not None else 0 for _, s in rows]
    ax.barh(range(len(rows)), values, xerr=[lows, highs], capsize=3, color="#4c72b0")
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("speedup of Rust over Python (×, bars: confidence interval)")
    ax.set_title("Rust vs Python speedup per operation")
    _save(fig, path)
    return "Speedup per operation"


def _scaling_series(entries: list[dict[str, Any]]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """metric -> series label -> [(scale, value)], for entries that carry `scale`."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for entry in entries:
        x = fields.scale(entry)
        if x is None:
            continue
        label = fields.group(entry) + (f" ({entry['backend']})" if entry.get("backend") else "")
        summary = fields.summary(entry)
        candidates = {"median_ms": fields.median_ms(entry),
                      "throughput_rps": fields._num(summary.get("throughput_rps")),
                      "p95_ms": fields.latency_percentiles(entry).get("p95")}
        for metric, y in candidates.items():
            if y is not None:
                out.setdefault(metric, {}).setdefault(label, []).append((x, y))
    return {m: {k: sorted(v) for k, v in series.items() if len(v) >= 2}
            for m, series in out.items()
            if any(len(v) >= 2 for v in series.values())}


def scaling(entries: list[dict[str, Any]], path: Path) -> str | None:
    curves = _scaling_series(entries)
    if not curves:
        return None
    unit = next((fields.scale_unit(e) for e in entries if fields.scale(e) is not None), "scale")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4.5), squeeze=False)
    titles = {"median_ms": "median time (ms)", "throughput_rps": "throughput (requests/s)",
              "p95_ms": "p95 latency (ms)"}
    for ax, (metric, series) in zip(axes[0], curves.items()):
        for label, points in series.items():
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        if metric == "median_ms":
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(unit)
        ax.set_ylabel(titles[metric])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle("Scaling")
    _save(fig, path)
    return "Scaling curves"


def latency(entries: list[dict[str, Any]], path: Path) -> str | None:
    rows = [(str(e.get("id")), fields.latency_percentiles(e)) for e in entries]
    rows = [(label, p) for label, p in rows if p][:MAX_BARS]
    if not rows:
        return None
    keys = [k for k in ("p50", "p90", "p95", "p99", "p999") if any(k in p for _, p in rows)]
    plt = _pyplot()
    # Many entries read better as horizontal bars: the figure grows downwards.
    horizontal = len(rows) > 8
    size = (9, 0.22 * len(keys) * len(rows) + 1.5) if horizontal else (max(7, 0.9 * len(rows) + 3), 4.5)
    fig, ax = plt.subplots(figsize=size)
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        positions = [j + i * width for j in range(len(rows))]
        values = [p.get(key, math.nan) for _, p in rows]
        label = key.replace("p999", "p99.9")
        if horizontal:
            ax.barh(positions, values, width, label=label)
        else:
            ax.bar(positions, values, width, label=label)
    ticks = [j + 0.4 - width / 2 for j in range(len(rows))]
    labels = [label for label, _ in rows]
    values = [v for _, p in rows for v in p.values() if v and v > 0]
    wide = bool(values) and max(values) / min(values) > 50
    if horizontal:
        ax.set_yticks(ticks, labels, fontsize="small")
        ax.margins(y=0.01)
        ax.invert_yaxis()
        ax.set_xlabel("latency (ms)")
        if wide:
            ax.set_xscale("log")
        ax.grid(True, axis="x", alpha=0.3)
    else:
        ax.set_xticks(ticks, labels, rotation=30, ha="right", fontsize="small")
        ax.set_ylabel("latency (ms)")
        if wide:
            ax.set_yscale("log")
        ax.grid(True, axis="y", alpha=0.3)
    ax.set_title("Latency percentiles")
    ax.legend(fontsize="small")
    _save(fig, path)
    return "Latency percentiles"


def timelines(entries: list[dict[str, Any]], path: Path) -> str | None:
    drawn = []
    for entry in entries:
        times, series = fields.timeline(entry)
        series = {k: v for k, v in series.items() if k.endswith("_bytes")}
        if series:
            drawn.append((str(entry.get("id")), times, series))
    drawn = drawn[:MAX_TIMELINES]
    if not drawn:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(len(drawn), 1, figsize=(8, 2.8 * len(drawn)), squeeze=False)
    for ax, (label, times, series) in zip(axes[:, 0], drawn):
        for key, values in series.items():
            xs = times if times is not None and len(times) == len(values) else list(range(len(values)))
            ax.plot(xs, [v / 2**20 for v in values], label=key.removesuffix("_bytes"))
        ax.set_title(label, fontsize="medium")
        ax.set_ylabel("MiB")
        ax.set_xlabel("time (s)" if times is not None else "sample")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    _save(fig, path)
    return "Memory timelines"


def sweep_curves(entries: list[dict[str, Any]], path: Path) -> str | None:
    """Latency percentiles and goodput against the offered rate, the knee marked."""
    found = next(((e, s) for e in entries if (s := fields.sweep(e)) is not None), None)
    if found is None:
        return None
    entry, data = found
    rows = data["rows"]
    xs = [r["offered_rps"] for r in rows]
    plt = _pyplot()
    fig, (lat, good) = plt.subplots(1, 2, figsize=(12, 4.5))
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        lat.plot(xs, [fields._num(r.get(key)) or math.nan for r in rows], marker="o", label=label)
    for key, label in (("achieved_rps", "achieved rate"), ("goodput_qps", "goodput (met SLO)")):
        good.plot(xs, [fields._num(r.get(key)) or math.nan for r in rows], marker="o", label=label)
    good.plot(xs, xs, color="grey", linewidth=0.8, linestyle=":", label="offered")
    stopped = [r for r in rows if r.get("oversaturated")]
    if stopped:
        good.scatter([r["offered_rps"] for r in stopped],
                     [fields._num(r.get("achieved_rps")) or 0 for r in stopped],
                     marker="x", color="red", zorder=3, label="stopped: over-saturated")
    knee, theory = fields._num(data.get("knee_rps")), fields._num(data.get("theoretical_knee_rps"))
    for ax in (lat, good):
        if knee is not None:
            ax.axvline(knee, color="green", linewidth=1.2, label=f"knee {knee:.1f}/s")
        if theory is not None:
            ax.axvline(theory, color="black", linestyle="--", linewidth=0.8,
                       label=f"theory {theory:.1f}/s")
        ax.set_xlabel("offered rate (queries/s)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    lat.set_ylabel("latency (ms)")
    lat.set_title("Latency percentiles vs offered rate")
    good.set_ylabel("queries/s")
    good.set_title("Achieved rate and goodput vs offered rate")
    _save(fig, path)
    return f"Rate sweep ({entry.get('id')})"


def load_timelines(entries: list[dict[str, Any]], path: Path) -> str | None:
    """Per-second throughput, p50/p99 and errors of open-model runs (Locust/k6 style)."""
    drawn = [(str(e.get("id")), t) for e in entries if (t := fields.load_timeline(e))]
    # Sustained and burst first: a sweep's many rates would crowd them out.
    drawn.sort(key=lambda item: item[0].startswith("sweep/"))
    drawn = drawn[:MAX_TIMELINES]
    if not drawn:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(len(drawn), 1, figsize=(9, 2.6 * len(drawn)), squeeze=False)
    for ax, (label, t) in zip(axes[:, 0], drawn):
        seconds = list(range(len(t["ok"])))
        ax.bar(seconds, t["ok"], color="#4c72b0", alpha=0.6, label="ok/s")
        if any(t["errors"]):
            ax.bar(list(range(len(t["errors"]))), t["errors"], color="red", alpha=0.8,
                   label="errors/s")
        ax.set_ylabel("queries/s")
        ax.set_xlabel("time (s)")
        if "p50_ms" in t:
            right = ax.twinx()
            for key, style in (("p50_ms", "-"), ("p99_ms", "--")):
                right.plot(list(range(len(t[key]))), t[key], color="black", linestyle=style,
                           label=key.removesuffix("_ms"))
            right.set_ylabel("latency (ms)")
            right.legend(fontsize="small", loc="upper right")
        ax.legend(fontsize="small", loc="upper left")
        ax.set_title(label, fontsize="medium")
        ax.grid(True, alpha=0.3)
    _save(fig, path)
    return "Load over time"


Draw = Callable[[list[dict[str, Any]], Path], "str | None"]
# One chart per suite from all its entries...
CHARTS: dict[str, Draw] = {"speedups": speedups, "scaling": scaling, "timelines": timelines,
                           "sweep": sweep_curves, "load_timelines": load_timelines}
# ... and one per suite and entry `kind`: latencies of different kinds of thing
# (sessions, tool calls, sweeps) do not belong on one axis.
KIND_CHARTS: dict[str, Draw] = {"latency": latency}


def render_charts(run: Run, out_dir: Path) -> tuple[dict[str, list[Chart]], list[str]]:
    """Draw every chart the data allows. Returns charts per suite and error notes."""
    charts: dict[str, list[Chart]] = {}
    errors: list[str] = []
    for data in run.present:
        jobs = [(kind, f"{data.suite}_{kind}", draw, data.results, "")
                for kind, draw in CHARTS.items()]
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for entry in data.results:
            by_kind.setdefault(str(entry.get("kind") or "result"), []).append(entry)
        jobs += [(kind, f"{data.suite}_{kind}_{_slug(entry_kind)}", draw, entries, entry_kind)
                 for kind, draw in KIND_CHARTS.items() for entry_kind, entries in by_kind.items()]
        for kind, name, draw, entries, entry_kind in jobs:
            rel = f"{CHART_DIR}/{name}.png"
            try:
                title = draw(entries, Path(out_dir) / rel)
            except Exception as exc:  # a broken chart must not cost the whole report
                errors.append(f"{data.suite} {name} chart: {type(exc).__name__}: {exc}")
                _pyplot().close("all")
                continue
            if title:
                title = f"{title}: {entry_kind}" if entry_kind else title
                charts.setdefault(data.suite, []).append(Chart(data.suite, kind, title, rel))
    return charts, errors


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)

