"""The load suite: the generator, arrival schedules, the scenario registry and its scenarios.

    loadgen          closed and open load models, LoadResult and its self-checks
    schedules        constant, poisson, ramp, burst: the open model's send times
    registry         the @scenario decorator, options, ScenarioContext, run_scenarios
    catalog          every scenario module, imported in run order
    suite            the driver behind scripts/load_scenarios.py
    expert_scenarios, sweep_scenario, mcp_scenarios   the scenarios
    calibration, querystats, pooltrace, wiretrace, sweep   what the scenarios measure with
    loadgen_selftest the generator's own speed (scripts/loadgen_selftest.py)

The product (codeperf.experts, codeperf.mcp servers) never imports this package;
what it shares with it (request error kinds, the loopback guard) is in
codeperf.harness.
"""
