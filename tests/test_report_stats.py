"""The report's statistics and comparison rules, checked against hand-computed cases."""

from __future__ import annotations

import math
import random

import pytest

from codeperf.harness.latency import LatencyHistogram
from codeperf.report.compare import (
    IMPROVED, NOT_COMPARABLE, REGRESSED, UNCHANGED, compare_entries, direction)
from codeperf.report.stats import _u_distribution, mann_whitney_u


def test_u_distribution_counts_every_ordering():
    # 3 + 3 values: C(6, 3) = 20 orderings, U symmetric over 0..9.
    counts = _u_distribution(3, 3)
    assert counts == [1, 1, 2, 3, 3, 3, 3, 2, 1, 1]
    assert sum(_u_distribution(7, 5)) == math.comb(12, 5)


def test_exact_test_complete_separation():
    result = mann_whitney_u([4, 5, 6], [1, 2, 3])
    assert result.method == "exact"
    assert result.u == 9
    assert result.p_value == pytest.approx(0.1)  # 2 * 1/20


def test_exact_test_interleaved_is_not_significant():
    result = mann_whitney_u([1, 3, 5, 7], [2, 4, 6, 8])
    assert result.u == 6  # pairs x > y: 0 + 1 + 2 + 3
    assert result.p_value > 0.5


def test_ties_use_the_normal_approximation_and_identical_samples_give_p_1():
    result = mann_whitney_u([1.0] * 10, [1.0] * 10)
    assert result.method == "normal"
    assert result.p_value == 1.0


def test_normal_approximation_agrees_with_exact_on_moderate_samples():
    rng = random.Random(7)
    x = [rng.gauss(10.0, 1.0) for _ in range(40)]
    y = [rng.gauss(10.8, 1.0) for _ in range(40)]
    exact = mann_whitney_u(x, y)
    tied = mann_whitney_u(x + [x[0]], y + [x[0]])  # one tie forces the approximation
    assert exact.method == "exact" and tied.method == "normal"
    assert tied.p_value == pytest.approx(exact.p_value, rel=0.5)
    assert exact.p_value < 0.05


def test_a_shift_is_detected_and_noise_is_not():
    rng = random.Random(3)
    base = [0.010 * (1 + abs(rng.gauss(0, 0.03))) for _ in range(30)]
    same = [0.010 * (1 + abs(rng.gauss(0, 0.03))) for _ in range(30)]
    slower = [v * 1.3 for v in same]
    assert mann_whitney_u(same, base).p_value > 0.01
    assert mann_whitney_u(slower, base).p_value < 1e-6


@pytest.mark.parametrize("metric, expected", [
    ("median_s", -1), ("p99_ms", -1), ("error_rate_pct", -1), ("peak_rss_bytes", -1),
    ("slope_bytes_per_op", -1), ("throughput_rps", 1), ("speedup_x", 1),
    ("memory_reduction_pct", 1), ("queries_per_s", 1), ("max_ok_connections", 1),
    ("max_in_flight_ok_count", 1), ("max_ok_connections_count", 1),
    ("requests_count", 0), ("errors_count", -1), ("offered_rps", 0), ("label", 0),
    ("sdk_overhead_x", -1), ("spike_vs_baseline_p50_x", -1),
    # the LLM sweep's metrics
    ("goodput_qps", 1), ("max_goodput_qps", 1), ("slo_met_pct", 1), ("knee_rps", 1),
    ("output_tokens_per_s", 1), ("ttft_p95_ms", -1), ("itl_p50_ms", -1), ("tpot_p95_ms", -1),
    ("theoretical_knee_rps", 0), ("knee_vs_theory_pct", 0), ("oversaturated_count", 0),
])
def test_direction_from_the_registry(metric, expected):
    assert direction(metric) == expected


def _entry(summary, **extra):
    return {"id": "x/y", "kind": "k", "summary": summary, **extra}


def test_threshold_classification():
    base = _entry({"throughput_rps": 100.0, "p95_ms": 10.0, "error_rate_pct": 0.0,
                   "requests_count": 5, "cpu_pct": 50.0})
    cur = _entry({"throughput_rps": 80.0, "p95_ms": 8.0, "error_rate_pct": 2.0,
                  "requests_count": 9, "cpu_pct": 52.0})
    metrics, unclassified, _ = compare_entries("load", base, cur, noise=10.0)
    status = {m.metric: m.status for m in metrics}
    assert status == {"throughput_rps": REGRESSED, "p95_ms": IMPROVED,
                      "error_rate_pct": REGRESSED, "cpu_pct": UNCHANGED}
    assert unclassified == 1  # requests_count has no better direction


def test_samples_need_both_significance_and_a_change_beyond_noise():
    rng = random.Random(11)
    base = [0.001 * (1 + abs(rng.gauss(0, 0.01))) for _ in range(40)]
    slightly = [v * 1.03 for v in base]  # significant by the test, but below 10 % noise
    much = [v * 1.5 for v in base]
    small, _, _ = compare_entries("b", _entry({}, samples=base), _entry({}, samples=slightly), 10.0)
    large, _, _ = compare_entries("b", _entry({}, samples=base), _entry({}, samples=much), 10.0)
    assert small[0].status == UNCHANGED and not small[0].significant
    assert large[0].status == REGRESSED and large[0].significant
    assert large[0].method == "mann-whitney"


def test_histogram_percentiles_and_too_few_samples():
    base = LatencyHistogram.from_values_ms([10.0] * 990 + [100.0] * 10)
    faster_tail = LatencyHistogram.from_values_ms([10.0] * 995 + [50.0] * 5)
    metrics, _, _ = compare_entries("load", _entry({}, histogram=base.to_dict()),
                                    _entry({}, histogram=faster_tail.to_dict()), 10.0)
    by_key = {m.metric: m for m in metrics}
    assert by_key["p50_ms"].status == UNCHANGED
    assert by_key["p99_ms"].status == UNCHANGED  # both are 10 ms at p99
    few = LatencyHistogram.from_values_ms([1.0] * 20)
    more = LatencyHistogram.from_values_ms([2.0] * 20)
    metrics, _, _ = compare_entries("load", _entry({}, histogram=few.to_dict()),
                                    _entry({}, histogram=more.to_dict()), 10.0)
    by_key = {m.metric: m for m in metrics}
    assert by_key["p50_ms"].status == REGRESSED  # 10 values beyond p50 in each run
    # Too few values beyond p99 to say anything: not comparable, never "unchanged".
    assert by_key["p99_ms"].status == NOT_COMPARABLE and "too few" in by_key["p99_ms"].detail


def test_speedup_confidence_intervals():
    def speedup(x, lo, hi):
        return _entry({"speedup_x": x, "speedup_ci_low_x": lo, "speedup_ci_high_x": hi})

    overlap, _, _ = compare_entries("b", speedup(20, 18, 22), speedup(23, 21, 25), 10.0)
    apart, _, _ = compare_entries("b", speedup(20, 19, 21), speedup(30, 28, 32), 10.0)
    assert overlap[0].status == UNCHANGED
    assert apart[0].status == IMPROVED and apart[0].method == "ci-overlap"


def test_negative_values_are_not_given_a_ratio():
    metrics, _, _ = compare_entries("m", _entry({"slope_bytes_per_op": -2.0}),
                                    _entry({"slope_bytes_per_op": 3.0}), 10.0)
    assert metrics[0].status == NOT_COMPARABLE and metrics[0].ratio is None
