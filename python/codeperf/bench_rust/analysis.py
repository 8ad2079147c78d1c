"""From timings and memory peaks to result entries: cases, speedups, scaling.

Entry kinds (docs/bench_rust.md has the full list of keys):
- `bench_case`   `<op>/<backend>/<size>`: one pyperf file's values, median and spread.
- `speedup`      `<op>/<size>`: Python / Rust with a 95% CI and a significance verdict.
- `memory`       `<op>/memory/<size>`: peaks per backend and the reduction in percent.
- `scaling`      `<op>/scaling/<axis>`: log-log exponents per backend and the crossover.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codeperf.bench_rust.cases import Case
from codeperf.bench_rust.grid import REFERENCE, Size
from codeperf.bench_rust.memory_pass import MemoryResult
from codeperf.bench_rust.timing import Timing
from codeperf.harness import stats

MS = 1000.0


def _ms(value: float | None) -> float | None:
    return None if value is None else value * MS


def case_entry(case: Case, correct: bool, timing: Timing | None, input_sha256: str,
               pyperf_file: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": case.id, "kind": "bench_case", "backend": case.backend, "op": case.op,
        "size": _size_dict(case.size), "correct": correct, "input_sha256": input_sha256,
    }
    if timing is None or not timing.values:
        entry["summary"] = {k: None for k in ("median_ms", "p25_ms", "p75_ms", "mad_ms", "min_ms",
                                               "max_ms", "mean_ms", "stdev_ms")}
        entry["summary"]["values_count"] = 0
        entry["timed"] = False
        return entry
    d = stats.describe(timing.values)
    entry["summary"] = {
        "median_ms": _ms(d["median"]), "p25_ms": _ms(d["p25"]), "p75_ms": _ms(d["p75"]),
        "mad_ms": _ms(d["mad"]), "min_ms": _ms(d["min"]), "max_ms": _ms(d["max"]),
        "mean_ms": _ms(d["mean"]), "stdev_ms": _ms(d["stdev"]),
        "values_count": d["count"], "processes_count": len(timing.runs),
        "loops_count": timing.loops,
    }
    entry["timed"] = True
    entry["samples"] = timing.values
    entry["samples_by_process"] = timing.runs
    entry["pyperf_file"] = pyperf_file
    entry["pyperf_warnings"] = timing.warnings
    entry["background_cpu_pct"] = timing.background_cpu_pct
    if case.backend == "rust":
        entry["rust_threads"] = timing.metadata.get("codeperf_rust_threads")
    if (case.size is not None and case.size.size_bytes == REFERENCE.size_bytes
            and case.size.family == REFERENCE.family):
        # The report's scaling chart plots median time against `scale` (one line per
        # op and backend: the reference family only; other families have scaling entries).
        entry["scale"] = case.size.responses
        entry["scale_unit"] = f"responses ({REFERENCE.size_bytes // 1024} KB each)"
    return entry


def _size_dict(size: Size | None) -> dict[str, int] | None:
    return None if size is None else {"responses": size.responses, "size_bytes": size.size_bytes,
                                      "family": size.family}


@dataclass
class Speedup:
    op: str
    size: Size | None
    ci: stats.RatioCI | None  # None when not timed (gate failed or pyperf failed)
    correct: bool
    python_median_s: float | None = None
    rust_median_s: float | None = None
    background_cpu_pct: float | None = None

    @property
    def size_label(self) -> str:
        return self.size.label if self.size is not None else "call"

    @property
    def verdict(self) -> str:
        if not self.correct:
            return "not timed: correctness gate failed"
        if self.ci is None:
            return "not timed"
        if not self.ci.excludes_one:
            return "no significant difference"
        return "rust faster" if self.ci.low > 1.0 else "python faster"

    def entry(self) -> dict[str, Any]:
        ci = self.ci
        return {
            "id": f"{self.op}/{self.size_label}", "kind": "speedup", "op": self.op,
            "size": _size_dict(self.size), "correct": self.correct,
            "reference": self.size is not None and self.size.at_reference,
            "summary": {"speedup_x": ci.ratio if ci else None,
                        "speedup_ci_low_x": ci.low if ci else None,
                        "speedup_ci_high_x": ci.high if ci else None},
            "confidence": ci.confidence if ci else stats.CONFIDENCE,
            "significant": bool(ci and ci.excludes_one),
            "verdict": self.verdict,
            "background_cpu_pct": self.background_cpu_pct,
            "method": "ratio of medians (python / rust); two-stage bootstrap over pyperf "
                      "processes (python and rust processes ran in interleaved pairs and are "
                      "drawn together) then values; percentile interval",
        }


def speedup(op: str, size: Size | None, correct: bool, python: Timing | None,
            rust: Timing | None) -> Speedup:
    def median_of(t: Timing | None) -> float | None:
        return float(stats.describe(t.values)["median"]) if t is not None and t.values else None

    result = Speedup(op, size, None, correct, median_of(python), median_of(rust),
                     python.background_cpu_pct if python is not None else None)
    if not correct or python is None or rust is None or None in (result.python_median_s,
                                                                  result.rust_median_s):
        return result
    paired = len(python.runs) == len(rust.runs)
    result.ci = stats.ratio_of_medians(python.runs, rust.runs, paired=paired)
    return result


def memory_entry(result: MemoryResult, size: Size) -> dict[str, Any]:
    return {
        "id": f"{result.op}/memory/{result.size_label}", "kind": "memory", "op": result.op,
        "size": _size_dict(size), "reference": size.at_reference,
        "summary": {
            "python_peak_bytes": result.python_peak_bytes,
            "rust_heap_peak_bytes": result.rust_heap_peak_bytes,
            "rust_python_heap_peak_bytes": result.rust_python_heap_peak_bytes,
            "rust_total_peak_bytes": result.rust_total_peak_bytes,
            "memory_reduction_pct": result.reduction_pct,
        },
        "python_peaks_bytes": result.python_peaks_bytes,
        "rust_heap_peaks_bytes": result.rust_heap_peaks_bytes,
        "rust_python_heap_peaks_bytes": result.rust_python_heap_peaks_bytes,
        "method": "python: tracemalloc peak of the call; rust: counting-allocator peak plus "
                  "tracemalloc peak of the call (summed: conservative); median of repetitions",
    }


# -- scaling -------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """A line through the grid: sizes that differ in one dimension only."""

    name: str  # "responses" or "bytes"
    fixed: int  # the other dimension's value
    sizes: tuple[Size, ...]
    family: str = REFERENCE.family

    @property
    def label(self) -> str:
        suffix = "" if self.family == REFERENCE.family else f"@{self.family}"
        if self.name == "responses":
            return f"responses-at-{Size(1, self.fixed).label.split('x', 1)[1]}{suffix}"
        return f"bytes-at-{self.fixed}-responses{suffix}"

    def x(self, size: Size) -> int:
        return size.responses if self.name == "responses" else size.size_bytes

    @property
    def unit(self) -> str:
        return "responses" if self.name == "responses" else "bytes per response"


def axes(sizes: tuple[Size, ...]) -> list[Axis]:
    """Lines through the grid, per corpus family (families are never mixed on one line)."""
    found = []
    families = list(dict.fromkeys(s.family for s in sizes))
    for family in families:
        own = [s for s in sizes if s.family == family]
        for fixed in sorted({s.size_bytes for s in own}):
            line = tuple(sorted(s for s in own if s.size_bytes == fixed))
            if len({s.responses for s in line}) >= 2:
                found.append(Axis("responses", fixed, line, family))
        for fixed in sorted({s.responses for s in own}):
            line = tuple(sorted((s for s in own if s.responses == fixed), key=lambda s: s.size_bytes))
            if len({s.size_bytes for s in line}) >= 2:
                found.append(Axis("bytes", fixed, line, family))
    return found


def crossover(axis: Axis, speedups: dict[Size, Speedup]) -> dict[str, Any]:
    """Where along the axis Rust starts to win (its speedup CI wholly above 1)."""
    points = [(axis.x(s), speedups[s]) for s in axis.sizes if s in speedups and speedups[s].ci]
    wins = [sp.ci.low > 1.0 for _, sp in points]  # type: ignore[union-attr]
    out: dict[str, Any] = {"unit": axis.unit, "rust_wins_at": [x for (x, _), w in zip(points, wins) if w],
                           "rust_does_not_win_at": [x for (x, _), w in zip(points, wins) if not w]}
    if not points:
        out["verdict"] = "not measured"
    elif all(wins):
        out["verdict"] = "wins at every size"
    elif not any(wins):
        out["verdict"] = "does not win at any size measured"
    else:
        first = next((i for i in range(len(wins)) if all(wins[i:])), None)
        if first is None:
            out["verdict"] = "mixed: does not win at the largest size measured"
        else:
            out["verdict"] = (f"does not win at or below {points[first - 1][0]} {axis.unit}; "
                              f"wins from {points[first][0]}")
            out["rust_does_not_win_at_or_below"] = points[first - 1][0]
    return out


def scaling_entry(op: str, axis: Axis, speedups: dict[Size, Speedup]) -> dict[str, Any] | None:
    timed = [s for s in axis.sizes if s in speedups and speedups[s].ci is not None]
    if len({axis.x(s) for s in timed}) < 2:
        return None
    xs = [axis.x(s) for s in timed]
    fits = {
        "python": stats.loglog_fit(xs, [speedups[s].python_median_s for s in timed]),  # type: ignore[misc]
        "rust": stats.loglog_fit(xs, [speedups[s].rust_median_s for s in timed]),  # type: ignore[misc]
    }
    summary: dict[str, Any] = {"points_count": len(timed)}
    for name, fit in fits.items():
        summary[f"{name}_exponent"] = fit.exponent
        summary[f"{name}_exponent_ci_low"] = fit.exponent_low
        summary[f"{name}_exponent_ci_high"] = fit.exponent_high
        summary[f"{name}_r2"] = fit.r2
    cross = crossover(axis, speedups)
    fitted = stats.fitted_crossover(fits["python"], fits["rust"])
    cross["fitted_equal_time_at"] = fitted
    cross["fitted_is_extrapolation"] = bool(fitted is not None and not min(xs) <= fitted <= max(xs))
    return {
        "id": f"{op}/scaling/{axis.label}", "kind": "scaling", "op": op, "axis": axis.name,
        "family": axis.family, "fixed": axis.fixed, "x": xs, "x_unit": axis.unit,
        "python_median_s": [speedups[s].python_median_s for s in timed],
        "rust_median_s": [speedups[s].rust_median_s for s in timed],
        "summary": summary, "crossover": cross,
        "method": "least squares of log(median time) on log(size); exponent CI from the "
                  "t distribution (needs 3 or more sizes)",
    }
