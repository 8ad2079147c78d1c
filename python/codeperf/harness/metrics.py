"""Which way is better, declared for every metric the suites produce.

The baseline comparison (codeperf.report.compare) classifies a change as
improved or regressed only by this registry: it never guesses from a name.
A metric is declared either exactly (names a rule would misread: a worse
`sdk_overhead_x` is a *higher* one) or by a suffix rule below. A key with no
declaration is "not classified", and `tests/test_report_gate.py` fails
when a summary key produced by the package has none, so a new metric must be
declared where it is added.

Error counts (`ERRORS`) are lower-is-better but compared as rates (errors per
attempt, `ERROR_DENOMINATORS`): ten errors in 1000 calls and ten in 100 are not
the same result.
"""

from __future__ import annotations

HIGHER, LOWER, NEUTRAL, ERRORS = 1, -1, 0, "errors"

# Attempt counts an error count is divided by, first present wins.
ERROR_DENOMINATORS = ("requests_count", "calls_count", "queries_count", "planned_count")

EXACT: dict[str, int | str] = {
    # ratios named *_x: no rule, each says which way is better
    "speedup_x": HIGHER, "speedup_ci_low_x": HIGHER, "speedup_ci_high_x": HIGHER,
    "sdk_overhead_x": LOWER,  # what the MCP SDK costs over raw JSON-RPC
    "sdk_mean_over_raw_mean_x": LOWER,
    "spike_vs_baseline_p50_x": LOWER,  # latency in a burst over the quiet latency
    "ours_vs_wrk_x": HIGHER,  # our generator's rate over wrk's on the same endpoint
    "aiohttp_vs_wrk_x": HIGHER,  # the same through aiohttp, the scenarios' client
    # load-scale's alternated rounds: each side's max/min over its rounds (the noise).
    "minimal_spread_x": NEUTRAL, "wrk_spread_x": NEUTRAL,
    "agreement_mean_x": NEUTRAL, "ratio_x": NEUTRAL, "ci_low_x": NEUTRAL, "ci_high_x": NEUTRAL,
    "floor_ratio": NEUTRAL, "min_send_ratio": HIGHER,
    # percentages: no rule either
    "error_rate_pct": LOWER, "fixed_error_pct": LOWER,
    "memory_reduction_pct": HIGHER, "rust_reduction_min_pct": HIGHER,
    "rust_reductions_pct": HIGHER, "reuse_ratio_pct": HIGHER,
    "cpu_pct": LOWER, "process_cpu_pct": LOWER, "server_cpu_util_pct": LOWER,
    "generator_cpu_pct": LOWER, "closed_generator_cpu_pct": LOWER,
    "closed_aiohttp_generator_cpu_pct": LOWER, "max_loop_cpu_pct": LOWER,
    "share_of_time_pct": NEUTRAL, "background_cpu_pct": NEUTRAL, "full_core_pct": NEUTRAL,
    "others_then_pct": NEUTRAL, "others_now_pct": NEUTRAL, "noise_pct": NEUTRAL,
    "baseline_noise_pct": NEUTRAL,
    # rates that are the configuration (what was offered), not a result
    "offered_rps": NEUTRAL, "rate_rps": NEUTRAL, "paced_rate_rps": NEUTRAL, "start_rps": NEUTRAL,
    "end_rps": NEUTRAL, "baseline_rps": NEUTRAL, "stall_rate_rps": NEUTRAL,
    "lag_rate_rps": NEUTRAL, "wrk_rps": NEUTRAL,
    # counts that are results (most counts are sizes: NEUTRAL by the rule below)
    "max_in_flight_ok_count": HIGHER, "max_ok_connections_count": HIGHER,
    "max_held_connections_count": HIGHER, "peak_in_flight_count": HIGHER, "max_ok": HIGHER,
    "max_in_flight_ok": HIGHER, "max_ok_connections": HIGHER,
    # concurrency seen from both ends (load.wiretrace and the endpoint's own peak)
    "confirmed_concurrent_queries_count": HIGHER, "queries_on_wire_max_count": HIGHER,
    "endpoint_requests_max_count": HIGHER, "endpoint_queries_min_count": HIGHER,
    # connection-pool: the pool limit from which errors appear is a limit, not an error
    # count (the error-word rule below would compare it as a rate); the hold is the model's
    "errors_from_limit_count": NEUTRAL, "hold_ms": NEUTRAL,
    # durations that are configured, not measured
    "duration_s": NEUTRAL, "interval_s": NEUTRAL, "warmup_s": NEUTRAL, "bucket_s": NEUTRAL,
    "sweep_duration_s": NEUTRAL, "sweep_cooldown_s": NEUTRAL,
    # the LLM sweep (load.sweep_scenario, experts.slo): goodput and the SLO share are
    # results (higher is better); the knee is a rate (HIGHER by the _rps rule), token
    # timing (ttft/itl/tpot *_ms) LOWER by the _ms rule; the capacity model's theory and
    # the measured knee against it describe the setup, not a better or worse result
    "goodput_qps": HIGHER, "max_goodput_qps": HIGHER, "slo_met_pct": HIGHER,
    "theoretical_knee_rps": NEUTRAL, "knee_vs_theory_pct": NEUTRAL,
    "token_expected_interval_ms": NEUTRAL, "token_expected_ttft_ms": NEUTRAL,
    # the engine's deterministic cost (callgrind): gated separately (report.instructions)
    "instructions": LOWER,
}

# Words that make a count an error count (compared as a rate).
_ERROR_WORDS = ("error", "failed", "slow", "not_sent", "uncollectable", "timeout")

# (suffix, direction), first match wins; exact names above win over these.
SUFFIX_RULES: tuple[tuple[str, int], ...] = (
    ("_rps", HIGHER), ("_per_s", HIGHER),
    ("_bytes_per_op", LOWER), ("_bytes_per_call", LOWER), ("_per_100_ops", LOWER),
    ("_bytes", LOWER), ("_mb", LOWER),
    ("_ms", LOWER), ("_us", LOWER), ("_ns", LOWER), ("_s", LOWER),
    ("_count", NEUTRAL),  # sizes and echoes of the configuration; error counts above
)


def direction(key: str) -> int | str | None:
    """HIGHER, LOWER, NEUTRAL, ERRORS (a lower-is-better count compared as a rate), or
    None when the metric is not declared (then it is not classified)."""
    if key in EXACT:
        return EXACT[key]
    if key.endswith("_count") and any(word in key for word in _ERROR_WORDS):
        return ERRORS
    for suffix, sense in SUFFIX_RULES:
        if key.endswith(suffix):
            return sense
    return None


def error_denominator(summary: dict) -> str | None:
    for key in ERROR_DENOMINATORS:
        value = summary.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return key
    return None
