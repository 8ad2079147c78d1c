"""Compare a run with a baseline run, metric by metric, and call out drift.

Entries are matched by (suite, `id`). Whether higher is better comes from the
registry declared where metrics are produced (codeperf.harness.metrics); an
undeclared metric is not classified (and a test fails for it). For each
matched pair:

- `samples` on both sides (timings in seconds): the medians' ratio and a
  two-sided Mann-Whitney U test, significant when p < ALPHA *and* the change
  passes the metric's noise floor.
- `histogram` on both sides (LatencyHistogram.to_dict()): p50, p90 and p99 of
  the decoded histograms, compared when both runs hold MIN_TAIL_SAMPLES values
  beyond the percentile; with fewer the percentile is "not comparable".
- an error count (`errors_count`...) is compared as a rate: errors per attempt.
- every other numeric summary key: the noise floor alone ("threshold").

The noise floor of a wall-clock figure is measured run-to-run variation
(codeperf.report.noise: A/A runs stored in the repo), not a fixed percentage;
without A/A data for a metric it is --noise-pct, and the detail says so. A
wall-clock metric gates only when its floor comes from enough A/A runs
(noise.MIN_RUNS_TO_GATE); before that it is shown as informational.

Like with like: a suite run in quick mode is not compared with a full run of
it (its metrics are "not comparable"; the configuration differs).

The engine's regression gate is its **instruction counts** (entries of kind
"instructions", codeperf.report.instructions): deterministic, so a few percent
is a real change. bench_rust's wall-clock figures (times, speedups with their
paired bootstrap over pyperf processes) are shown but `informational`: between
two runs on a shared 2-core machine they move with the machine's load.
A metric that regressed significantly (not informational) is what
`--fail-on-regression` fails on; a suite of this run whose baseline envelope is
missing or unreadable (`Comparison.uncompared`) makes the gate exit 2 instead of
passing it unseen.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from codeperf.harness import metrics as registry
from codeperf.harness import stats
from codeperf.harness.latency import LatencyHistogram
from codeperf.harness.suites import SUITES
from codeperf.report import instructions
from codeperf.report.loading import Run
from codeperf.report.metric_comparison import (  # noqa: F401 (re-exported)
    IMPROVED, NOT_COMPARABLE, REGRESSED, UNCHANGED, MetricComparison)
from codeperf.report.noise import MIN_RUNS_TO_GATE, NoiseFloors, mode_of
from codeperf.report.stats import mann_whitney_u, median_or_none

ALPHA = 0.01
DEFAULT_NOISE_PCT = 10.0
HISTOGRAM_PERCENTILES = (50.0, 90.0, 99.0)
MIN_TAIL_SAMPLES = 10  # both runs need this many values at or beyond a percentile
DRIFT_FIELDS = ("cpu_model", "cpu_cores_logical", "memory_total_bytes", "os", "python",
                "rustc", "maturin", "build_profile", "backend")

# The suite whose wall-clock figures are informational (its gate is instruction counts).
SPEEDUP_SUITE = "bench_rust"

_TIME_KEY = re.compile(r".*_(s|ms|us|ns)$")
_LATENCY_KEY = re.compile(r"^(min|mean|max|p\d+)_ms$")

# floor(entry_id, metric) -> (percent, where it came from)
Floor = Callable[[str, str], tuple[float, str]]


def direction(metric: str) -> int:
    """+1 higher is better, -1 lower is better (error counts too), 0 neither or undeclared."""
    sense = registry.direction(metric)
    if sense == registry.ERRORS:
        return -1
    return int(sense or 0)


def _fixed(noise: float) -> Floor:
    return lambda entry_id, metric: (noise, "")


@dataclass
class Drift:
    field: str
    baseline: str
    current: str
    suites: list[str]


@dataclass
class Comparison:
    baseline_ids: list[str]
    noise_pct: float
    metrics: list[MetricComparison] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    commits: tuple[str | None, str | None] = (None, None)
    unclassified: int = 0  # metrics with no better direction, left out of the table
    # Suites of this run the baseline cannot be compared with ("load (not in the
    # baseline)", "mcp (mcp.json: unreadable ...)"): the gate cannot pass on them.
    uncompared: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[MetricComparison]:
        return [m for m in self.metrics
                if m.status == REGRESSED and m.significant and not m.informational]

    @property
    def verdicts(self) -> list[MetricComparison]:
        """The metrics that are classified (everything but the informational ones)."""
        return [m for m in self.metrics if not m.informational]

    @property
    def informational(self) -> list[MetricComparison]:
        return [m for m in self.metrics if m.informational]

    def to_dict(self) -> dict[str, Any]:
        return {"baseline_run_ids": self.baseline_ids, "noise_pct": self.noise_pct, "alpha": ALPHA,
                "commits": {"baseline": self.commits[0], "current": self.commits[1]},
                "metrics": [m.to_dict() for m in self.metrics],
                "drift": [asdict(d) for d in self.drift], "notes": self.notes,
                "unclassified_metrics": self.unclassified,
                "uncompared_suites": self.uncompared,
                "informational_metrics": len(self.informational),
                "significant_regressions": len(self.regressions)}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _classify(suite: str, entry_id: str, metric: str, method: str, base: float | None,
              cur: float | None, floor: Floor, tested: bool | None = None,
              detail: str = "") -> MetricComparison | None:
    """One metric's verdict. `tested` is the statistical test's answer (None: none applies);
    tested=False with a reason in `detail` beginning "too few" is "not comparable"."""
    sense = direction(metric)
    if sense == 0:
        return None
    noise, floor_text = floor(entry_id, metric)
    if floor_text:
        detail = f"{detail}; {floor_text}" if detail else floor_text
    if detail.startswith("too few"):
        return MetricComparison(suite, entry_id, metric, method, base, cur,
                                cur / base if base and cur is not None else None, False,
                                NOT_COMPARABLE, detail)
    if base is None or cur is None:
        return MetricComparison(suite, entry_id, metric, method, base, cur, None, False,
                                NOT_COMPARABLE, detail or "not measured in one of the runs")
    if base == cur:
        return MetricComparison(suite, entry_id, metric, method, base, cur,
                                1.0 if base else None, False, UNCHANGED, detail)
    if base <= 0 or cur < 0:
        # A ratio to zero or across signs means nothing; only a lower-is-better
        # metric leaving zero (errors appearing) is still a clear regression.
        if base == 0 and cur > 0 and sense < 0 and method in ("threshold", "error rate"):
            return MetricComparison(suite, entry_id, metric, method, base, cur, None, True,
                                    REGRESSED, detail or "was zero")
        return MetricComparison(suite, entry_id, metric, method, base, cur, None, False,
                                NOT_COMPARABLE, detail or "no meaningful ratio (zero or negative)")
    ratio = cur / base
    beyond_noise = abs(ratio - 1.0) * 100 >= noise
    significant = beyond_noise and (tested if tested is not None else True)
    better = (ratio > 1) == (sense > 0)
    status = (IMPROVED if better else REGRESSED) if significant else UNCHANGED
    return MetricComparison(suite, entry_id, metric, method, base, cur, ratio, significant,
                            status, detail)


def _samples(entry: dict[str, Any]) -> list[float] | None:
    values = entry.get("samples")
    if not isinstance(values, list) or len(values) < 2:
        return None
    numbers = [_number(v) for v in values]
    return [v for v in numbers if v is not None] or None


def _histogram(entry: dict[str, Any]) -> LatencyHistogram | None:
    data = entry.get("histogram")
    if not isinstance(data, dict):
        return None
    try:
        return LatencyHistogram.from_dict(data)
    except Exception:  # an undecodable histogram is compared like one that is absent
        return None


def _groups(envelope: dict[str, Any]) -> dict[str, list[list[float]]]:
    """bench_rust's timings by pyperf process: bench_case id -> samples by process."""
    groups = {}
    for entry in envelope.get("results") or []:
        if not isinstance(entry, dict) or entry.get("kind") != "bench_case":
            continue
        runs = entry.get("samples_by_process") or ([entry["samples"]] if entry.get("samples") else None)
        if runs:
            groups[str(entry.get("id"))] = runs
    return groups


@dataclass
class PairedRuns:
    """bench_rust's samples by pyperf process in both runs, for the paired bootstrap
    (harness.stats) of speedups and times. Informational: see the module docstring."""

    baseline: dict[str, list[list[float]]]
    current: dict[str, list[list[float]]]

    def time_change(self, entry: dict[str, Any]) -> stats.RatioCI | None:
        entry_id = str(entry.get("id"))
        old, runs = self.baseline.get(entry_id), self.current.get(entry_id)
        if entry.get("kind") != "bench_case" or not runs or not old:
            return None
        try:
            return stats.ratio_of_medians(runs, old)
        except (ValueError, ZeroDivisionError):  # empty or zero timings: compare as without
            return None

    def speedup_change(self, entry: dict[str, Any]) -> stats.RatioCI | None:
        entry_id, op = str(entry.get("id")), entry.get("op")
        if entry.get("kind") != "speedup" or not isinstance(op, str) \
                or not entry_id.startswith(op + "/"):
            return None
        size = entry_id[len(op) + 1:]
        py, rs = self.current.get(f"{op}/python/{size}"), self.current.get(f"{op}/rust/{size}")
        old_py, old_rs = (self.baseline.get(f"{op}/python/{size}"),
                          self.baseline.get(f"{op}/rust/{size}"))
        if not (py and rs and old_py and old_rs):
            return None
        paired = len(py) == len(rs) and len(old_py) == len(old_rs)
        try:
            return stats.ratio_of_ratios(py, rs, old_py, old_rs, paired=paired)
        except (ValueError, ZeroDivisionError):
            return None


def _flat_median(runs: list[list[float]] | None) -> float | None:
    return median_or_none([v for run in runs or [] for v in run])


def _ci_text(ci: stats.RatioCI) -> str:
    return (f"now/then {ci.ratio:.3f}×, {ci.confidence * 100:.0f} % CI [{ci.low:.3g}, {ci.high:.3g}] "
            + ("excludes 1" if ci.excludes_one else "includes 1"))


def _error_rate(summary: dict[str, Any], key: str) -> tuple[float | None, str]:
    count = _number(summary.get(key))
    denominator = registry.error_denominator(summary)
    if count is None or denominator is None:
        return None, ""
    return count / float(summary[denominator]), denominator


def compare_entries(suite: str, base: dict[str, Any], cur: dict[str, Any], noise: float | Floor,
                    paired: PairedRuns | None = None) -> tuple[list[MetricComparison], int, list[str]]:
    """Every metric of one matched entry. `noise` is a fixed floor (percent) or a
    floor per metric; `paired` (bench_rust only) holds both runs' per-process samples."""
    floor = noise if callable(noise) else _fixed(float(noise))
    entry_id = str(cur.get("id"))
    out: list[MetricComparison | None] = []
    notes: list[str] = []
    covered: set[str] = set()

    base_samples, cur_samples = _samples(base), _samples(cur)
    time_change = paired.time_change(cur) if paired is not None else None
    if time_change is not None and paired is not None:
        out.append(_classify(suite, entry_id, "median_s", "bootstrap",
                             _flat_median(paired.baseline.get(entry_id)),
                             _flat_median(paired.current.get(entry_id)), floor,
                             tested=time_change.excludes_one,
                             detail=_ci_text(time_change) + " (bootstrap over pyperf processes)"))
        covered |= {k for k in cur.get("summary", {}) if _TIME_KEY.match(k)}
    elif base_samples and cur_samples:
        test = mann_whitney_u(cur_samples, base_samples)
        out.append(_classify(suite, entry_id, "median_s", "mann-whitney",
                             median_or_none(base_samples), median_or_none(cur_samples), floor,
                             tested=test.p_value < ALPHA,
                             detail=f"p={test.p_value:.3g} ({test.method}, "
                                    f"n={len(base_samples)}/{len(cur_samples)})"))
        covered |= {k for k in cur.get("summary", {}) if _TIME_KEY.match(k)}

    base_hist, cur_hist = _histogram(base), _histogram(cur)
    if base_hist is not None and cur_hist is not None:
        for p in HISTOGRAM_PERCENTILES:
            tail = min(base_hist.count, cur_hist.count) * (1 - p / 100)
            enough = tail >= MIN_TAIL_SAMPLES
            key = "p" + f"{p:g}".replace(".", "") + "_ms"
            detail = (f"n={base_hist.count}/{cur_hist.count}" if enough
                      else f"too few samples beyond p{p:g} (n={base_hist.count}/{cur_hist.count})")
            out.append(_classify(suite, entry_id, key, "histogram", base_hist.percentile_ms(p),
                                 cur_hist.percentile_ms(p), floor, tested=enough, detail=detail))
        covered |= {k for k in cur.get("summary", {}) if _LATENCY_KEY.match(k)}
    elif (base.get("histogram") is not None) != (cur.get("histogram") is not None) or (
            base.get("histogram") is not None and (base_hist is None or cur_hist is None)):
        notes.append(f"{suite} {entry_id}: histogram missing or undecodable on one side; "
                     "latency compared from summaries only")

    base_sum, cur_sum = base.get("summary") or {}, cur.get("summary") or {}
    speedup_change = paired.speedup_change(cur) if paired is not None else None
    if speedup_change is not None:
        others = ""
        then, now = _number(base.get("background_cpu_pct")), _number(cur.get("background_cpu_pct"))
        if then is not None and now is not None:
            # A changed speedup with very different background load may be the machine.
            others = f"; others' CPU {then:.0f} % → {now:.0f} %"
        out.append(_classify(suite, entry_id, "speedup_x", "paired bootstrap",
                             _number(base_sum.get("speedup_x")), _number(cur_sum.get("speedup_x")),
                             floor, tested=speedup_change.excludes_one,
                             detail=_ci_text(speedup_change) + others))
        covered |= {"speedup_x"}
    elif all(_number(s.get(k)) is not None for s in (base_sum, cur_sum)
           for k in ("speedup_x", "speedup_ci_low_x", "speedup_ci_high_x")):
        disjoint = (cur_sum["speedup_ci_low_x"] > base_sum["speedup_ci_high_x"]
                    or cur_sum["speedup_ci_high_x"] < base_sum["speedup_ci_low_x"])
        out.append(_classify(
            suite, entry_id, "speedup_x", "ci-overlap", float(base_sum["speedup_x"]),
            float(cur_sum["speedup_x"]), floor, tested=disjoint,
            detail=("CIs disjoint" if disjoint else "CIs overlap")
            + f": [{base_sum['speedup_ci_low_x']:.3g}, {base_sum['speedup_ci_high_x']:.3g}]"
            f" → [{cur_sum['speedup_ci_low_x']:.3g}, {cur_sum['speedup_ci_high_x']:.3g}]"))
        covered |= {"speedup_x"}

    unclassified = 0
    for key, value in cur_sum.items():
        if key in covered or "_ci_low" in key or "_ci_high" in key:
            continue
        if _number(value) is None and _number(base_sum.get(key)) is None:
            continue
        if key not in base_sum:
            continue
        if registry.direction(key) == registry.ERRORS:
            # Errors per attempt: ten errors in 1000 calls are not ten in 100.
            base_rate, base_of = _error_rate(base_sum, key)
            cur_rate, cur_of = _error_rate(cur_sum, key)
            if base_rate is None or cur_rate is None:
                out.append(MetricComparison(suite, entry_id, key, "error rate",
                                            _number(base_sum.get(key)), _number(value), None,
                                            False, NOT_COMPARABLE, "no attempt count to divide by"))
                continue
            out.append(_classify(suite, entry_id, key, "error rate", base_rate, cur_rate, floor,
                                 detail=f"errors per attempt ({cur_of})"))
            continue
        result = _classify(suite, entry_id, key, "threshold", _number(base_sum.get(key)),
                           _number(value), floor)
        if result is None:
            unclassified += 1
        else:
            out.append(result)
    metrics = [m for m in out if m is not None]
    if suite == SPEEDUP_SUITE:
        # Wall-clock figures between runs measure the machine's load as much as the code;
        # the engine's gate is its instruction counts (compared separately).
        for m in metrics:
            m.informational = True
    return metrics, unclassified, notes


def _paired_runs(current: Run, baseline: Run) -> PairedRuns | None:
    cur, base = current.suites[SPEEDUP_SUITE], baseline.suites[SPEEDUP_SUITE]
    if cur.envelope is None or base.envelope is None:
        return None
    return PairedRuns(_groups(base.envelope), _groups(cur.envelope))


def _env_value(env: dict[str, Any], key: str) -> str:
    value = env.get(key)
    return "—" if value is None else str(value)


class BaselineUnusable(ValueError):
    """A baseline with nothing to compare with (missing, unreadable or empty): the message says why."""


def check_baseline(baseline: Run) -> None:
    """Raise BaselineUnusable unless at least one suite envelope of the baseline is readable."""
    problems = [d.load_error for d in baseline.suites.values() if d.load_error]
    if not baseline.directory.is_dir():
        raise BaselineUnusable(f"{baseline.directory}: no such directory")
    if not baseline.present:
        why = "; ".join(problems) if problems else "no suite envelopes (<suite>.json) in it"
        raise BaselineUnusable(f"baseline {baseline.directory}: nothing to compare with ({why})")


def compare_runs(current: Run, baseline: Run, noise_pct: float = DEFAULT_NOISE_PCT,
                 floors: NoiseFloors | None = None,
                 instruction_threshold_pct: float = instructions.THRESHOLD_PCT) -> Comparison:
    """`noise_pct` is the floor of wall-clock metrics without A/A data in `floors`
    (default: the stored aa_noise.json)."""
    floors = floors if floors is not None else NoiseFloors.load()
    comparison = Comparison(baseline_ids=baseline.run_ids, noise_pct=noise_pct)
    drift: dict[tuple[str, str, str], list[str]] = {}
    commits: list[str | None] = [None, None]
    for suite in SUITES:
        cur_data, base_data = current.suites[suite], baseline.suites[suite]
        if cur_data.envelope is None or base_data.envelope is None:
            if cur_data.envelope is not None:
                reason = base_data.load_error or "not in the baseline"
                comparison.notes.append(f"{suite}: not compared ({reason})")
                comparison.uncompared.append(f"{suite} ({reason})")
            continue
        base_env, cur_env = base_data.environment, cur_data.environment
        commits[0] = commits[0] or (base_env.get("git") or {}).get("commit")
        commits[1] = commits[1] or (cur_env.get("git") or {}).get("commit")
        for key in DRIFT_FIELDS:
            b, c = _env_value(base_env, key), _env_value(cur_env, key)
            if b != c:
                drift.setdefault((key, b, c), []).append(suite)
        base_cfg, cur_cfg = base_data.envelope.get("config", {}), cur_data.envelope.get("config", {})
        for key in sorted(set(base_cfg) | set(cur_cfg)):
            if base_cfg.get(key) != cur_cfg.get(key):
                drift.setdefault((f"config.{key}", _short(base_cfg.get(key)),
                                  _short(cur_cfg.get(key))), []).append(suite)

        # Deterministic instruction counts: comparable across modes (the id names the input).
        comparison.metrics += instructions.compare_instructions(
            suite, base_data.results, cur_data.results, instruction_threshold_pct)
        missing = instructions.missing_counts(base_data.results, cur_data.results)
        if missing:  # the engine's gate has nothing to judge: it must not pass unseen
            comparison.uncompared.append(f"{suite} instruction counts ({missing})")
        base_mode, cur_mode = mode_of(base_cfg), mode_of(cur_cfg)
        if base_mode != cur_mode:
            # Like with like: quick and full runs differ in sizes, durations and rates.
            comparison.metrics.append(MetricComparison(
                suite, "(wall-clock figures)", "all", "configuration", None, None, None, False,
                NOT_COMPARABLE, f"a {cur_mode} run against a {base_mode} baseline: compare "
                f"with a {cur_mode} baseline"))
            continue

        def floor(entry_id: str, metric: str, suite: str = suite) -> tuple[float, str]:
            return floors.floor(cur_mode, suite, entry_id, metric, noise_pct)

        paired = _paired_runs(current, baseline) if suite == SPEEDUP_SUITE else None
        base_by_id: dict[str, dict[str, Any]] = {}
        for entry in base_data.results:
            if entry.get("kind") != instructions.KIND:
                base_by_id.setdefault(str(entry.get("id")), entry)
        seen = set()
        for entry in cur_data.results:
            entry_id = str(entry.get("id"))
            if entry_id in seen or entry.get("kind") == instructions.KIND:
                continue
            seen.add(entry_id)
            if entry_id not in base_by_id:
                comparison.notes.append(f"{suite} {entry_id}: new (not in the baseline)")
                continue
            metrics, unclassified, notes = compare_entries(suite, base_by_id[entry_id], entry,
                                                           floor, paired)
            for m in metrics:
                if not m.informational and not floors.gates(cur_mode, suite, entry_id, m.metric):
                    # Its noise is not measured well enough to fail a build on it.
                    m.informational = True
                    m.detail += (f"; informational: noise floor not from ≥ "
                                 f"{MIN_RUNS_TO_GATE} A/A runs")
            comparison.metrics += metrics
            comparison.unclassified += unclassified
            comparison.notes += notes
        for entry_id in base_by_id:
            if entry_id not in seen:
                comparison.notes.append(f"{suite} {entry_id}: only in the baseline")
    comparison.commits = (commits[0], commits[1])
    comparison.drift = [Drift(k, b, c, suites) for (k, b, c), suites in drift.items()]
    return comparison


def _short(value: Any, limit: int = 60) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
