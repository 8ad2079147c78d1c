"""The sweep's arithmetic on synthetic curves: rates, the over-saturation stop, the knee, theory."""

from __future__ import annotations

import pytest

from codeperf.load import sweep
from codeperf.experts.simulator import ModelProfile, busy_s, saturation_rps, token_interval_s


def _row(offered, achieved, p95=500.0, ttft_p95=100.0, goodput=None, valid=True,
         oversaturated=False):
    return {"offered_rps": offered, "achieved_rps": achieved, "p95_ms": p95, "e2e_p95_ms": p95,
            "ttft_p95_ms": ttft_p95, "goodput_qps": goodput if goodput is not None else achieved,
            "valid": valid, "oversaturated": oversaturated}


def test_rates_are_evenly_spaced_from_sync_past_throughput():
    assert sweep.sweep_rates(2.0, 50.0, 4, overshoot=1.2) == pytest.approx([16.5, 31.0, 45.5, 60.0])
    assert sweep.sweep_rates(2.0, 50.0, 1, overshoot=1.0) == pytest.approx([50.0])
    with pytest.raises(ValueError):
        sweep.sweep_rates(2.0, 50.0, 0)


def test_knee_is_the_highest_achieved_rate_within_slo():
    bounds = {"e2e_ms": 2000.0}
    rows = [_row(10, 10), _row(20, 19.8), _row(30, 29.0, p95=1500), _row(40, 33.0),
            _row(50, 34.0, oversaturated=True)]
    assert sweep.knee(rows, bounds)["offered_rps"] == 30  # 40 achieved only 82%
    # p95 beyond the bound at 30: the knee drops to 20.
    rows[2] = _row(30, 29.5, p95=2500)
    assert sweep.knee(rows, bounds)["offered_rps"] == 20
    # Every bound counts: a TTFT p95 over its bound disqualifies too.
    assert sweep.knee([_row(10, 10, ttft_p95=900)], {"ttft_ms": 500})is None
    # An over-saturated rate never is the knee, even when its average looked fine.
    assert sweep.knee([_row(10, 10, oversaturated=True)], {}) is None


def test_refining_rate_bisects_between_the_knee_and_the_next_failure():
    rows = [_row(10, 10), _row(20, 20), _row(30, 20)]
    assert sweep.refine_rate(rows, {}) == pytest.approx(25.0)
    assert sweep.refine_rate([_row(10, 10)], {}) is None  # nothing failed above
    assert sweep.refine_rate([_row(10, 5)], {}) == pytest.approx(5.0)  # below the lowest


def test_best_goodput_only_from_valid_runs():
    rows = [_row(10, 10, goodput=9), _row(20, 20, goodput=18, valid=False), _row(30, 25, goodput=12),
            _row(40, 26, goodput=14, oversaturated=True)]
    assert sweep.best_goodput(rows)["offered_rps"] == 30


def _feed(detector, points):
    reason = None
    for t, in_flight, done in points:
        reason = detector.observe(t, in_flight, done)
    return reason


def test_oversaturation_stops_a_growing_backlog():
    # 50/s offered, 30/s served: the backlog grows by 20 every second.
    det = sweep.Oversaturation(50.0, warmup_s=0.5)
    points = [(0.5 * i, 10 + 10 * i, 15 * i) for i in range(1, 10)]
    reason = _feed(det, points)
    assert reason is not None and "over-saturated" in reason
    # It fired at the second failing check after warm-up, not at the end.
    assert det.samples[-1][0] < points[-1][0]


def test_a_steady_rate_and_noise_do_not_stop():
    steady = sweep.Oversaturation(50.0, warmup_s=0.5)
    assert _feed(steady, [(0.5 * i, 25, 25 * i) for i in range(1, 12)]) is None
    # A slow second with in-flight up by one query (noise at a low rate): no stop.
    noisy = sweep.Oversaturation(17.0, warmup_s=0.5)
    assert _feed(noisy, [(0.5 * i, 9 + (i % 2), int(7.5 * i)) for i in range(1, 12)]) is None
    # Slow completions but no growing backlog (the server is just slow): no stop.
    slow = sweep.Oversaturation(50.0, warmup_s=0.5)
    assert _feed(slow, [(0.5 * i, 30, 15 * i) for i in range(1, 12)]) is None


def test_achieved_rate_counts_the_steady_window_only():
    ends = [0.2, 0.6, 1.1, 1.5, 2.0, 2.9, 3.2]
    assert sweep.achieved_rps(ends, 1.0, 3.0) == pytest.approx(4 / 2.0)
    assert sweep.achieved_rps(ends, 3.0, 3.0) is None


def test_saturation_formula():
    p = ModelProfile("m", ttft_median_ms=100, tokens_per_s=100, answer_tokens=51,
                     max_concurrent=10, itl_growth_per_stream=0.1, chunk_ms=0)
    assert token_interval_s(p, 1) == pytest.approx(0.01)
    assert token_interval_s(p, 10) == pytest.approx(0.019)  # 1 + 0.1 x 9
    assert busy_s(p, 10) == pytest.approx(0.1 + 50 * 0.019)
    assert saturation_rps(p) == pytest.approx(10 / (0.1 + 50 * 0.019))
    assert saturation_rps(ModelProfile("u")) is None  # no capacity, no saturation


def test_circle_theory_is_the_quorum_th_highest_model_rate():
    def model(slots):
        return ModelProfile("m", ttft_median_ms=100, answer_tokens=1, max_concurrent=slots)

    a, b, c = model(30), model(20), model(10)  # 300/s, 200/s, 100/s
    assert sweep.theoretical_rps([a, b, c], quorum=2) == pytest.approx(200.0)
    assert sweep.theoretical_rps([a, b, c], quorum=3) == pytest.approx(100.0)
    assert sweep.theoretical_rps([a, ModelProfile("u"), c], quorum=2) == pytest.approx(300.0)
    assert sweep.theoretical_rps([ModelProfile("u"), ModelProfile("v"), c], quorum=2) is None
    assert sweep.theoretical_rps([a, None, c], quorum=2) is None  # a real server: unknown


def test_completion_rate_ignores_ramp_up_and_drain():
    assert sweep.completion_rate([3.0, 3.5, 4.0, 4.5, 5.0]) == pytest.approx(2.0)
    assert sweep.completion_rate([1.0]) is None
