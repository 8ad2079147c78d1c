"""Compare a run with a baseline run, metric by metric, and call out drift.

Entries are matched by (suite, `id`). For each matched pair:

- `samples` on both sides (pyperf timings in seconds): the medians' ratio and a
  two-sided Mann-Whitney U test. Significant when p < ALPHA *and* the medians
  differ by at least the noise threshold: on shared 2-vCPU runners a real but
  tiny shift is not worth a red mark. Summary time keys (`_s`, `_ms`, `_us`,
  `_ns`) of such an entry are represented by this test, not compared again.
- `histogram` on both sides (LatencyHistogram.to_dict()): p50, p90 and p99 of
  the decoded histograms. A percentile is significant when it moved by at least
  the noise threshold and both runs hold enough samples beyond it
  (MIN_TAIL_SAMPLES); the latency keys of the summary are represented by this.
- `speedup_x` with `speedup_ci_low_x`/`speedup_ci_high_x` on both sides: the
  confidence intervals must not overlap (and the change pass the threshold).
- every other numeric summary key: the noise threshold alone ("threshold").

bench_rust is judged on its **speedups**, not on absolute times. Its Python and
Rust processes ran in interleaved pairs, so the Python twin is the control for
the machine: on a shared 2-core box absolute times drift between runs (other
jobs, CPU frequency, an idle core waking up) and an A/A comparison of them
flags many "changes", while the speedup moves only when an engine does. The
test is the suite's own (`codeperf.bench.baseline`, one source of truth): the
ratio speedup now / speedup then with the paired two-stage bootstrap over both
runs' processes, changed when its interval excludes 1 and the change passes the
noise threshold. Without per-process samples on both sides it falls back to
"the speedup CIs do not overlap". bench_rust's absolute times (`bench_case`)
are still compared, with the suite's bootstrap over processes, but marked
`informational`: shown, never counted as a regression.

Whether higher is better is read from the metric's name (`direction`); metrics
with no direction (counts, offered rates, configuration echoes) are not
classified. A metric that regressed significantly is what
`--fail-on-regression` fails on.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from codeperf.bench import baseline as bench_baseline
from codeperf.harness.envelope import SUITES, EnvelopeError
from codeperf.harness.latency import LatencyHistogram
from codeperf.report.loading import Run
from codeperf.report.stats import mann_whitney_u, median_or_none

ALPHA = 0.01
DEFAULT_NOISE_PCT = 10.0
HISTOGRAM_PERCENTILES = (50.0, 90.0, 99.0)
MIN_TAIL_SAMPLES = 10  # both runs need this many values at or beyond a percentile
DRIFT_FIELDS = ("cpu_model", "cpu_cores_logical", "memory_total_bytes", "os", "python",
                "rustc", "maturin", "build_profile", "backend")

# The suite whose timings are judged by speedup (see the module docstring).
SPEEDUP_SUITE = "bench_rust"

IMPROVED, REGRESSED, UNCHANGED = "improved", "regressed", "unchanged"
NOT_COMPARABLE = "not comparable"

_TIME_KEY = re.compile(r".*_(s|ms|us|ns)$")
_LATENCY_KEY = re.compile(r"^(min|mean|max|p\d+)_ms$")


def direction(metric: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when neither (not classified)."""
    key = metric.lower()
    if any(w in key for w in ("offered", "concurrency", "target_", "theoretical", "vs_theory")):
        return 0
    if any(w in key for w in ("goodput", "slo_met_pct")) or key.endswith("_qps"):
        return 1  # the LLM sweep's goodput and share of queries within their SLO
    if any(w in key for w in ("speedup", "throughput", "reduction", "completed", "success",
                              "max_ok", "_ok_count", "per_s")) or key.endswith(("_rps", "_x", "_ok")):
        return 1
    if key.endswith("_count"):
        return 0
    if any(w in key for w in ("error", "fail", "lag", "slope", "bytes_per", "leak")):
        return -1
    if key.endswith(("_ms", "_s", "_us", "_ns", "_bytes", "_mb", "_kb", "_pct")):
        return -1
    return 0


@dataclass
class MetricComparison:
    suite: str
    id: str
    metric: str
    method: str  # paired bootstrap, bootstrap, mann-whitney, histogram, ci-overlap, threshold
    baseline: float | None
    current: float | None
    ratio: float | None  # current / baseline
    significant: bool
    status: str  # improved, regressed, unchanged, not comparable
    detail: str = ""
    # Shown for context only, never a regression: bench_rust's absolute times.
    informational: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
                "informational_metrics": len(self.informational),
                "significant_regressions": len(self.regressions)}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _classify(suite: str, entry_id: str, metric: str, method: str, base: float | None,
              cur: float | None, noise: float, tested: bool | None = None,
              detail: str = "") -> MetricComparison | None:
    """One metric's verdict. `tested` is the statistical test's answer (None: none applies)."""
    sense = direction(metric)
    if sense == 0:
        return None
    if base is None or cur is None:
        return MetricComparison(suite, entry_id, metric, method, base, cur, None, False,
                                NOT_COMPARABLE, detail or "not measured in one of the runs")
    if base == cur:
        return MetricComparison(suite, entry_id, metric, method, base, cur,
                                1.0 if base else None, False, UNCHANGED, detail)
    if base <= 0 or cur < 0:
        # A ratio to zero or across signs means nothing; only a lower-is-better
        # metric leaving zero (errors appearing) is still a clear regression.
        if base == 0 and cur > 0 and sense < 0 and method == "threshold":
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


@dataclass
class PairedRuns:
    """bench_rust's samples by pyperf process in both runs, read and compared by the
    suite's own baseline module so the report and `bench_rust --baseline` agree."""

    baseline: bench_baseline.Baseline
    current: dict[str, list[list[float]]]  # bench_case id -> samples by process

    def time_change(self, entry: dict[str, Any], noise: float) -> bench_baseline.CaseChange | None:
        entry_id = str(entry.get("id"))
        runs = self.current.get(entry_id)
        if entry.get("kind") != "bench_case" or not runs:
            return None
        try:
            return self.baseline.compare(entry_id, runs, noise)
        except (ValueError, ZeroDivisionError):  # empty or zero timings: compare as without
            return None

    def speedup_change(self, entry: dict[str, Any], noise: float) -> bench_baseline.CaseChange | None:
        entry_id, op = str(entry.get("id")), entry.get("op")
        if entry.get("kind") != "speedup" or not isinstance(op, str) \
                or not entry_id.startswith(op + "/"):
            return None
        size = entry_id[len(op) + 1:]
        python_runs = self.current.get(f"{op}/python/{size}")
        rust_runs = self.current.get(f"{op}/rust/{size}")
        if not python_runs or not rust_runs:
            return None
        try:
            return self.baseline.compare_speedup(op, size, python_runs, rust_runs, noise,
                                                 background_now_pct=entry.get("background_cpu_pct"))
        except (ValueError, ZeroDivisionError):
            return None


def _flat_median(runs: list[list[float]] | None) -> float | None:
    return median_or_none([v for run in runs or [] for v in run])


def _ci_text(change: bench_baseline.CaseChange) -> str:
    ci = change.ci
    return (f"now/then {ci.ratio:.3f}×, {ci.confidence * 100:.0f} % CI [{ci.low:.3g}, {ci.high:.3g}] "
            + ("excludes 1" if ci.excludes_one else "includes 1"))


def compare_entries(suite: str, base: dict[str, Any], cur: dict[str, Any], noise: float,
                    paired: PairedRuns | None = None) -> tuple[list[MetricComparison], int, list[str]]:
    """Every metric of one matched entry. `paired` (bench_rust only) holds both runs'
    per-process samples for the suite's own speedup and time tests."""
    entry_id = str(cur.get("id"))
    out: list[MetricComparison | None] = []
    notes: list[str] = []
    covered: set[str] = set()

    base_samples, cur_samples = _samples(base), _samples(cur)
    time_change = paired.time_change(cur, noise) if paired is not None else None
    if time_change is not None and paired is not None:
        out.append(_classify(suite, entry_id, "median_s", "bootstrap",
                             _flat_median(paired.baseline.groups.get(entry_id)),
                             _flat_median(paired.current.get(entry_id)), noise,
                             tested=time_change.changed,
                             detail=_ci_text(time_change) + " (bootstrap over pyperf processes)"))
        covered |= {k for k in cur.get("summary", {}) if _TIME_KEY.match(k)}
    elif base_samples and cur_samples:
        test = mann_whitney_u(cur_samples, base_samples)
        out.append(_classify(suite, entry_id, "median_s", "mann-whitney",
                             median_or_none(base_samples), median_or_none(cur_samples), noise,
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
                                 cur_hist.percentile_ms(p), noise, tested=enough, detail=detail))
        covered |= {k for k in cur.get("summary", {}) if _LATENCY_KEY.match(k)}
    elif (base.get("histogram") is not None) != (cur.get("histogram") is not None) or (
            base.get("histogram") is not None and (base_hist is None or cur_hist is None)):
        notes.append(f"{suite} {entry_id}: histogram missing or undecodable on one side; "
                     "latency compared from summaries only")

    base_sum, cur_sum = base.get("summary") or {}, cur.get("summary") or {}
    speedup_change = paired.speedup_change(cur, noise) if paired is not None else None
    if speedup_change is not None:
        others = ""
        if speedup_change.others_then_pct is not None and speedup_change.others_now_pct is not None:
            # A changed speedup with very different background load may be the machine.
            others = (f"; others' CPU {speedup_change.others_then_pct:.0f} % → "
                      f"{speedup_change.others_now_pct:.0f} %")
        out.append(_classify(suite, entry_id, "speedup_x", "paired bootstrap",
                             _number(base_sum.get("speedup_x")), _number(cur_sum.get("speedup_x")),
                             noise, tested=speedup_change.changed,
                             detail=_ci_text(speedup_change) + others))
        covered |= {"speedup_x"}
    elif all(_number(s.get(k)) is not None for s in (base_sum, cur_sum)
           for k in ("speedup_x", "speedup_ci_low_x", "speedup_ci_high_x")):
        disjoint = (cur_sum["speedup_ci_low_x"] > base_sum["speedup_ci_high_x"]
                    or cur_sum["speedup_ci_high_x"] < base_sum["speedup_ci_low_x"])
        out.append(_classify(
            suite, entry_id, "speedup_x", "ci-overlap", float(base_sum["speedup_x"]),
            float(cur_sum["speedup_x"]), noise, tested=disjoint,
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
        result = _classify(suite, entry_id, key, "threshold", _number(base_sum.get(key)),
                           _number(value), noise)
        if result is None:
            unclassified += 1
        else:
            out.append(result)
    metrics = [m for m in out if m is not None]
    if suite == SPEEDUP_SUITE:
        # Absolute times between runs measure the machine's load as much as the code.
        for m in metrics:
            if _TIME_KEY.match(m.metric):
                m.informational = True
    return metrics, unclassified, notes


def _paired_runs(current: Run, baseline: Run, notes: list[str]) -> PairedRuns | None:
    cur, base = current.suites[SPEEDUP_SUITE], baseline.suites[SPEEDUP_SUITE]
    if cur.envelope is None or base.envelope is None or not cur.file or not base.file:
        return None
    try:
        return PairedRuns(bench_baseline.Baseline.load(baseline.directory / base.file),
                          bench_baseline.Baseline.load(current.directory / cur.file).groups)
    except (EnvelopeError, OSError, KeyError, TypeError, ValueError) as exc:
        notes.append(f"{SPEEDUP_SUITE}: samples by process unreadable ({type(exc).__name__}); "
                     "speedups compared by CI overlap")
        return None


def _env_value(env: dict[str, Any], key: str) -> str:
    value = env.get(key)
    return "—" if value is None else str(value)


def compare_runs(current: Run, baseline: Run, noise_pct: float = DEFAULT_NOISE_PCT) -> Comparison:
    comparison = Comparison(baseline_ids=baseline.run_ids, noise_pct=noise_pct)
    drift: dict[tuple[str, str, str], list[str]] = {}
    commits: list[str | None] = [None, None]
    for suite in SUITES:
        cur_data, base_data = current.suites[suite], baseline.suites[suite]
        if cur_data.envelope is None or base_data.envelope is None:
            if cur_data.envelope is not None:
                reason = base_data.load_error or "not in the baseline"
                comparison.notes.append(f"{suite}: not compared ({reason})")
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

        paired = (_paired_runs(current, baseline, comparison.notes)
                  if suite == SPEEDUP_SUITE else None)
        base_by_id = {}
        for entry in base_data.results:
            base_by_id.setdefault(str(entry.get("id")), entry)
        seen = set()
        for entry in cur_data.results:
            entry_id = str(entry.get("id"))
            if entry_id in seen:
                continue
            seen.add(entry_id)
            if entry_id not in base_by_id:
                comparison.notes.append(f"{suite} {entry_id}: new (not in the baseline)")
                continue
            metrics, unclassified, notes = compare_entries(suite, base_by_id[entry_id], entry,
                                                           noise_pct, paired)
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
