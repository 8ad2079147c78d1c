"""harness/stats.py and the pure parts of codeperf.bench_rust: grid parsing, the output
comparison of the correctness gate, crossover verdicts."""

from __future__ import annotations

import math
import random

import pytest

from codeperf.bench_rust import analysis, grid
from codeperf.bench_rust.correctness import first_difference
from codeperf.harness import stats


# -- stats ---------------------------------------------------------------------
def test_percentile_interpolates_between_order_statistics():
    assert stats.percentile([1, 2, 3, 4], 50) == 2.5
    assert stats.percentile([4, 1, 3, 2], 0) == 1
    assert stats.percentile([4, 1, 3, 2], 100) == 4
    assert stats.percentile([10], 75) == 10


def test_describe_reports_median_and_spread():
    d = stats.describe([1.0, 2.0, 3.0, 4.0, 100.0])
    assert d["median"] == 3.0
    assert d["min"] == 1.0 and d["max"] == 100.0
    assert d["p25"] == 2.0 and d["p75"] == 4.0
    assert d["mad"] == 1.0  # the outlier does not inflate it
    assert d["count"] == 5
    with pytest.raises(ValueError):
        stats.describe([])


def _groups(rng: random.Random, centre: float, processes: int = 4, values: int = 3,
            between: float = 0.05, within: float = 0.02) -> list[list[float]]:
    """Timings as pyperf makes them: each process has its own offset (layout, load)."""
    out = []
    for _ in range(processes):
        offset = centre * (1 + rng.gauss(0, between))
        out.append([offset * (1 + abs(rng.gauss(0, within))) for _ in range(values)])
    return out


def test_ratio_of_medians_finds_a_real_speedup():
    rng = random.Random(1)
    slow, fast = _groups(rng, 10e-3), _groups(rng, 1e-3)
    ci = stats.ratio_of_medians(slow, fast)
    assert ci.low <= ci.ratio <= ci.high
    assert 7 < ci.ratio < 13
    assert ci.excludes_one


def test_ratio_of_medians_is_deterministic_for_a_seed():
    rng = random.Random(2)
    a, b = _groups(rng, 1.0), _groups(rng, 1.0)
    assert stats.ratio_of_medians(a, b, seed=3) == stats.ratio_of_medians(a, b, seed=3)


def test_same_distribution_rarely_counts_as_a_change():
    """A synthetic A/A: both sides from one distribution with between-process noise.
    With the practical threshold, almost no trial may flag a change (wide tolerance)."""
    rng = random.Random(4)
    flagged = 0
    trials = 40
    for _ in range(trials):
        ci = stats.ratio_of_medians(_groups(rng, 1.0), _groups(rng, 1.0), resamples=400)
        flagged += ci.significant_change(noise_pct=10.0)
    assert flagged <= 2


def test_significant_change_needs_both_ci_and_size():
    ci = stats.RatioCI(1.04, 1.01, 1.07, 0.95)
    assert ci.excludes_one
    assert not ci.significant_change(10.0)
    assert ci.significant_change(3.0)
    assert not stats.RatioCI(1.5, 0.9, 2.0, 0.95).significant_change(10.0)


def test_ratio_rejects_empty_input():
    with pytest.raises(ValueError):
        stats.ratio_of_medians([[]], [[1.0]])


def test_loglog_fit_recovers_the_exponent():
    xs = [10, 30, 100, 300]
    fit = stats.loglog_fit(xs, [3.0 * x**2 for x in xs])
    assert fit.exponent == pytest.approx(2.0)
    assert fit.coefficient == pytest.approx(3.0)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.predict(50) == pytest.approx(7500.0)


def test_loglog_fit_interval_covers_truth_under_noise():
    rng = random.Random(5)
    xs = [10, 20, 50, 100, 200, 500]
    ys = [x**1.5 * math.exp(rng.gauss(0, 0.05)) for x in xs]
    fit = stats.loglog_fit(xs, ys)
    assert fit.exponent_low < 1.5 < fit.exponent_high


def test_loglog_fit_with_two_points_has_no_interval():
    fit = stats.loglog_fit([10, 100], [1.0, 10.0])
    assert fit.exponent == pytest.approx(1.0)
    assert fit.r2 is None and fit.exponent_low is None
    with pytest.raises(ValueError):
        stats.loglog_fit([10, 10], [1.0, 2.0])
    with pytest.raises(ValueError):
        stats.loglog_fit([0, 10], [1.0, 2.0])


def test_fitted_crossover_is_where_the_curves_meet():
    python = stats.PowerFit(2.0, 1e-6, None, None, None, 2)  # quadratic, cheap at first
    rust = stats.PowerFit(1.0, 1e-4, None, None, None, 2)  # linear with a fixed overhead
    x = stats.fitted_crossover(python, rust)
    assert x == pytest.approx(100.0)
    assert stats.fitted_crossover(rust, rust) is None


# -- grid ----------------------------------------------------------------------
@pytest.mark.parametrize("text,size", [
    ("100x2KB", grid.Size(100, 2048)), ("100x0.5KB", grid.Size(100, 512)),
    ("10x512B", grid.Size(10, 512)), ("10x512", grid.Size(10, 512)), (" 3 X 1kib ", grid.Size(3, 1024)),
])
def test_parse_size(text, size):
    assert grid.parse_size(text) == size
    assert grid.parse_size(size.label) == size  # labels round-trip


@pytest.mark.parametrize("text", ["100", "x2KB", "0x2KB", "10x0.1B", "10x2MB"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        grid.parse_size(text)


def test_parse_benches_expands_aliases_in_canonical_order():
    assert grid.parse_benches(["consensus"]) == ("consensus_cosine", "consensus_jaccard")
    assert grid.parse_benches(["ffi,analyze"]) == ("analyze", "ffi_noop")
    assert grid.parse_benches([]) == grid.ALL_OPS
    assert grid.parse_benches(["all"]) == grid.ALL_OPS
    with pytest.raises(ValueError, match="unknown benchmark"):
        grid.parse_benches(["consensus,nope"])


def test_default_grid_is_a_cross_through_the_reference():
    axes = analysis.axes(grid.FULL_GRID)
    assert [(a.name, a.fixed) for a in axes] == [("responses", 2048), ("bytes", 100)]
    assert all(grid.REFERENCE in a.sizes and len(a.sizes) == 3 for a in axes)
    assert grid.REFERENCE in grid.QUICK_GRID


# -- correctness comparison ------------------------------------------------------
def test_first_difference_names_the_path():
    a = {"x": [1, {"y": 0.5}], "z": "s"}
    assert first_difference(a, {"x": [1, {"y": 0.5}], "z": "s"}) is None
    assert "$.x[1].y" in first_difference(a, {"x": [1, {"y": 0.6}], "z": "s"})
    assert "keys differ" in first_difference(a, {"x": [1, {"y": 0.5}]})
    assert "2 items" in first_difference([1, 2], [1])


def test_first_difference_is_strict_about_types_but_not_last_bits():
    assert first_difference(0.1 + 0.2, 0.3) is None
    assert first_difference(1, 1.0) is not None
    assert first_difference(True, 1) is not None
    assert first_difference(float("nan"), float("nan")) is None


# -- crossover -------------------------------------------------------------------
def _sp(size, low, ratio, high):
    return analysis.Speedup("op", size, stats.RatioCI(ratio, low, high, 0.95), True, 1.0, 1.0)


def test_crossover_verdicts():
    sizes = (grid.Size(10, 2048), grid.Size(100, 2048), grid.Size(300, 2048))
    axis = analysis.axes(sizes)[0]
    wins = {s: _sp(s, 2, 3, 4) for s in sizes}
    assert analysis.crossover(axis, wins)["verdict"] == "wins at every size"
    late = {**wins, sizes[0]: _sp(sizes[0], 0.8, 1.0, 1.2)}
    result = analysis.crossover(axis, late)
    assert result["rust_does_not_win_at_or_below"] == 10
    assert "wins from 100" in result["verdict"]
    never = {s: _sp(s, 0.5, 0.7, 0.9) for s in sizes}
    assert analysis.crossover(axis, never)["verdict"] == "does not win at any size measured"


def test_pairing_cancels_load_shared_by_both_sides():
    """Each pair of processes ran under its own machine load (x1 .. x2); the true ratio is 10.
    Drawing pairs together keeps the interval tight around 10; unpaired it widens."""
    rng = random.Random(6)
    loads = [1.0, 2.0, 1.3, 1.7]
    python = [[10.0 * load * (1 + rng.gauss(0, 0.01)) for _ in range(3)] for load in loads]
    rust = [[1.0 * load * (1 + rng.gauss(0, 0.01)) for _ in range(3)] for load in loads]
    paired = stats.ratio_of_medians(python, rust, paired=True)
    unpaired = stats.ratio_of_medians(python, rust)
    assert paired.low < 10.0 < paired.high or abs(paired.ratio - 10.0) < 0.5
    assert (paired.high - paired.low) < (unpaired.high - unpaired.low)
    with pytest.raises(ValueError, match="paired"):
        stats.ratio_of_medians(python, rust[:2], paired=True)


def test_ratio_of_ratios_compares_two_speedups():
    rng = random.Random(7)
    then_py, then_rs = _groups(rng, 10.0), _groups(rng, 1.0)
    now_py, now_rs = _groups(rng, 20.0), _groups(rng, 2.0)  # a machine twice as slow
    same = stats.ratio_of_ratios(now_py, now_rs, then_py, then_rs, paired=True)
    assert same.low < 1.0 < same.high  # the speedup did not change
    gained = stats.ratio_of_ratios(_groups(rng, 10.0), _groups(rng, 0.5), then_py, then_rs)
    assert gained.low > 1.5  # Rust became twice as fast


def test_correctness_gate_compares_matrix_arrays():
    """The consensus matrix is an array('d'): equal arrays pass, a changed value or a
    list in place of the array is named."""
    from array import array

    from codeperf.bench_rust.correctness import first_difference

    assert first_difference({"matrix": array("d", [0.5, 1.0])}, {"matrix": array("d", [0.5, 1.0])}) is None
    assert "matrix[1]" in first_difference({"matrix": array("d", [0.5, 1.0])},
                                           {"matrix": array("d", [0.5, 0.9])})
    assert "array" in first_difference({"matrix": array("d", [0.5])}, {"matrix": [0.5]})


def test_sizes_carry_their_corpus_family():
    code = grid.parse_size("100x2KB@code")
    assert code == grid.Size(100, 2048, "code") and code.label == "100x2KB@code"
    assert grid.parse_size(code.label) == code and code.at_reference
    assert grid.Size(100, 2048).label == "100x2KB"  # the reference family keeps plain labels
    with pytest.raises(ValueError, match="unknown corpus family 'poetry'"):
        grid.parse_size("100x2KB@poetry")
    assert grid.parse_families(["chat,own", "code"]) == ("own", "code", "chat")
    assert grid.parse_families([]) == ()
    sizes = grid.in_families((grid.Size(10, 2048), grid.Size(100, 2048)), ("own", "chat"))
    assert [s.label for s in sizes] == ["10x2KB", "100x2KB", "10x2KB@chat", "100x2KB@chat"]


def test_scaling_axes_never_mix_families():
    from codeperf.bench_rust import analysis

    sizes = grid.in_families((grid.Size(10, 2048), grid.Size(100, 2048)), ("own", "code"))
    lines = analysis.axes(sizes)
    assert [(a.label, {s.family for s in a.sizes}) for a in lines] == [
        ("responses-at-2KB", {"own"}), ("responses-at-2KB@code", {"code"})]


def test_cost_curve_sizes():
    from codeperf.bench_rust import cost_curve

    assert cost_curve.parse_responses(None, quick=False) == (1000, 3000, 10000)
    assert cost_curve.parse_responses(None, quick=True) == ()
    assert cost_curve.parse_responses("none", quick=False) == ()
    assert cost_curve.parse_responses("500, 100", quick=True) == (100, 500)
    for bad in ("x", "1"):
        with pytest.raises(ValueError):
            cost_curve.parse_responses(bad, quick=False)


def test_cost_curve_adds_the_memory_family_where_the_twin_runs():
    """`code` joins the reference family at the counts the twin runs (the memory at 1,000
    x 2 KB where it is least), only when the run chose it; counts above the twin's limit
    stay reference-only."""
    from codeperf.bench_rust import cost_curve

    labels = lambda sizes: [s.label for s in sizes]  # noqa: E731
    assert labels(cost_curve.sizes(cost_curve.FULL_RESPONSES, grid.FAMILIES)) == [
        "1000x2KB", "1000x2KB@code", "3000x2KB", "10000x2KB"]
    assert labels(cost_curve.sizes((1000,), ("own", "chat"))) == ["1000x2KB"]
    assert labels(cost_curve.sizes((1000,), ("code",))) == ["1000x2KB", "1000x2KB@code"]
    assert cost_curve.MEMORY_FAMILY in grid.FAMILIES


def test_full_plan_crosses_the_reference_family_and_times_others_at_the_reference():
    sizes = grid.full_sizes(grid.FAMILIES)
    own = [s for s in sizes if s.family == grid.REFERENCE_FAMILY]
    assert tuple(own) == tuple(sorted(grid.FULL_GRID))
    others = [s for s in sizes if s.family != grid.REFERENCE_FAMILY]
    assert {s.family for s in others} == set(grid.FAMILIES) - {grid.REFERENCE_FAMILY}
    assert all(s.at_reference for s in others)  # every family's targets are judged here
    # Without the reference family, no cross at all: only the reference shape per family.
    assert [s.label for s in grid.full_sizes(("code",))] == ["100x2KB@code"]


def test_full_plan_times_reference_only_ops_at_the_reference_and_fewer_processes_off_it(tmp_path):
    from codeperf.bench_rust import driver, timing

    config = driver.RustBenchConfig(
        ops=grid.ALL_OPS, sizes=grid.full_sizes(grid.FAMILIES), settings=timing.FULL,
        out=tmp_path, off_reference_settings=timing.FULL_OFF_REFERENCE,
        reference_only_ops=grid.REFERENCE_ONLY_OPS)
    pairs = config.pairs()
    pipeline = [size for op, size in pairs if op == "pipeline"]
    assert pipeline and all(size.at_reference for size in pipeline)
    assert len(pipeline) == len(grid.FAMILIES)
    off = [size for op, size in pairs if size is not None and not size.at_reference]
    assert {op for op, size in pairs if size in off} == set(grid.ENGINE_OPS) - {"pipeline"}
    assert config.settings_for(off[0]) == timing.FULL_OFF_REFERENCE
    assert config.settings_for(grid.REFERENCE) == timing.FULL
    assert config.settings_for(None) == timing.FULL  # the FFI case
    assert timing.FULL_OFF_REFERENCE.processes >= 2  # the bootstrap resamples process pairs
    assert config.to_dict()["pyperf_off_reference"]["processes"] == timing.FULL_OFF_REFERENCE.processes
    # Without the plan (--sizes, --quick), every op at every size with one setting.
    plain = driver.RustBenchConfig(ops=grid.ALL_OPS, sizes=grid.FULL_GRID, settings=timing.FULL,
                                   out=tmp_path)
    assert len(plain.pairs()) == len(grid.ENGINE_OPS) * len(grid.FULL_GRID) + 1
    assert plain.settings_for(grid.Size(10, 2048)) == timing.FULL


@pytest.mark.needs_rust  # the memory pass reads the extension's counting allocator
def test_memory_pass_traces_python_once_and_rust_each_repetition():
    from codeperf.bench_rust import memory_pass

    calls = {"python": 0, "rust": 0}

    def operation(op, backend):
        def call(data):
            calls[backend] += 1
            return [bytes(1000) for _ in range(10)]
        return call

    result = memory_pass.measure("analyze", "x", None, repetitions=3, operation=operation,
                                 python_repetitions=1)
    assert calls == {"python": 1, "rust": 3}
    assert len(result.python_peaks_bytes) == 1 and len(result.rust_heap_peaks_bytes) == 3
    assert result.python_peak_bytes >= 10_000  # the traced call's allocations were seen
