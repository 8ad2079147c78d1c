"""The `mcp-calls` and `mixed` load scenarios, on tiny sizes, through the scenario registry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from codeperf.engine import active_backend
from codeperf.load import registry
from codeperf.harness.envelope import Recorder
from codeperf.mcp.bench import launch

pytestmark = pytest.mark.timeout(120)


def _ctx(tmp_path: Path, **kw) -> registry.ScenarioContext:
    recorder = Recorder("load", tmp_path, {"test": True}, environment={})
    return registry.ScenarioContext(out_dir=tmp_path, quick=True, recorder=recorder,
                                    log=lambda line: None, **kw)


def test_scenarios_are_registered() -> None:
    assert registry.load_registered() == []
    known = registry.registered()
    assert {"mcp-calls", "mixed"} <= set(known)
    assert known["mcp-calls"].needs_experts is False and known["mixed"].needs_experts is True


def test_mcp_calls_makes_real_calls_over_every_server(tmp_path: Path) -> None:
    registry.load_registered()
    ctx = _ctx(tmp_path, options={"mcp_calls": 60, "mcp_concurrency": 4})
    ctx.current = "mcp-calls"
    entry = asyncio.run(registry.get("mcp-calls").run(ctx))
    assert entry["summary"]["requests_count"] == 60
    assert entry["summary"]["ok_count"] == 60 and entry["summary"]["errors_count"] == 0
    servers = {key.split("/")[0] for key in entry["per_tool"]}
    assert servers == {"files.stdio", "experts.stdio", "system.stdio", "utility.stdio"}
    assert not any(key.endswith(("/fail", "/consult")) for key in entry["per_tool"])
    assert entry["backend"] == active_backend()
    assert all(not launch.alive(pid) for pid in launch.seen_pids())


@pytest.mark.slow
def test_mixed_runs_expert_queries_and_mcp_calls_together(tmp_path: Path) -> None:
    from codeperf.experts.config import load
    from codeperf.experts.simulator import SimulatorConfig
    from codeperf.experts.simulator_process import SimulatorProcess

    registry.load_registered()
    experts = load()
    with SimulatorProcess(SimulatorConfig.from_dict(experts.simulator)) as sim:
        ctx = _ctx(tmp_path, experts=experts.with_simulator_url(sim.base_url),
                   simulator_url=sim.base_url, simulator_pids=list(sim.pids),
                   options={"mixed_duration_s": 2, "mixed_query_rps": 2, "mixed_mcp_rps": 20,
                            "max_lag_p99_ms": 1000, "mixed_servers_nice": 7})
        ctx.current = "mixed"
        outcome = asyncio.run(registry.get("mixed").run(ctx))
    combined, queries, calls = outcome.entries
    assert combined["summary"]["expert_queries_ok_count"] == queries["summary"]["ok_count"] > 0
    assert combined["summary"]["mcp_calls_ok_count"] == calls["summary"]["ok_count"] > 0
    assert outcome.metrics["combined_throughput_rps"] > 0
    assert queries["histogram"] != calls["histogram"]  # two histograms, one per workload
    # The warm-up is recorded and kept out of the timed figures: per-tool calls add up to
    # the timed part's calls only (20/s for 2 s), not the warm-up's round of the plan.
    warmup = combined["warmup"]
    assert warmup["mcp_calls_count"] > 0 and warmup["expert_queries_count"] == 1
    assert warmup["excluded_from_results"] is True and warmup["mcp_errors_count"] == 0
    assert sum(t["calls_count"] for t in calls["per_tool"].values()) == calls["summary"]["requests_count"]
    wait = combined["summary"]["generator_cpu_wait_ms"]
    if Path("/proc/thread-self/schedstat").exists():  # Linux: measured; elsewhere None
        assert isinstance(wait, float) and wait >= 0
        # The servers' CPU over the timed part: both did work (calls, queries).
        assert combined["summary"]["mcp_servers_cpu_ms"] > 0
        assert combined["summary"]["simulator_cpu_ms"] > 0
    else:
        assert wait is None
    # The MCP servers ran below the generator's priority, as asked, and say so.
    assert combined["summary"]["mcp_servers_nice"] == 7
    assert combined["mcp_servers_niceness"] == {label: 7 for label in (
        "files.stdio", "experts.stdio", "system.stdio", "utility.stdio")}
    # The run-queue wait and the number of sends stand beside the lag check, not judged.
    checks = {v["check"]: v for v in ctx.recorder.envelope.validity}
    notes = {name: next(c for c in checks[f"mixed.generator/{name}"]["detail"]
                        if c["check"] == "generator_cpu_wait")
             for name in ("expert-queries", "mcp-calls")}
    assert all(n["ok"] is True and n["judged"] is False for n in notes.values())
    assert f"over {calls['summary']['requests_count']} sends" in notes["mcp-calls"]["detail"]
    assert "fewer than 500" in notes["mcp-calls"]["detail"]  # 40 sends: p99 is near the max
    assert all(not launch.alive(pid) for pid in launch.seen_pids())


def test_mixed_runs_long_enough_for_its_lag_p99_to_be_a_p99() -> None:
    """The default timed part gives the MCP part >= 500 sends (5 above the p99 rank), so
    two late sends no longer fail the check; a duration that is asked for is kept."""
    import math

    from codeperf.load import mcp_scenarios as mixed

    for quick, rps in ((True, 50.0), (False, 100.0), (True, 20.0)):
        duration = mixed.mixed_duration_s(None, rps, quick)
        sends = round(duration * rps)
        assert sends >= mixed.MIN_SENDS_FOR_P99
        assert sends - math.ceil(0.99 * sends) >= 5
    assert mixed.mixed_duration_s(None, 50.0, True) == 10.0  # quick's default: 10 s
    assert mixed.mixed_duration_s(None, 100.0, False) == 20.0  # full keeps its 20 s
    assert mixed.mixed_duration_s(2.0, 50.0, True) == 2.0


def test_mixed_servers_nice_is_checked_before_anything_runs() -> None:
    registry.load_registered()
    assert registry.validate_options(["mixed"], {"mixed_servers_nice": 0}) == {
        "mixed_servers_nice": 0}
    for bad in (20, -1, 2.5):
        with pytest.raises(registry.OptionError, match="mixed_servers_nice"):
            registry.validate_options(["mixed"], {"mixed_servers_nice": bad})


def test_a_pool_started_with_nice_runs_its_servers_below_our_priority(tmp_path: Path) -> None:
    import os

    from codeperf.mcp.bench.pool import McpPool

    async def run() -> tuple[dict, dict]:
        async with McpPool(["utility"], tmp_path, nice=6) as pool:
            seen = {label: os.getpriority(os.PRIO_PROCESS, pid)
                    for label, pid in pool.pids.items()}
            return dict(pool.niceness), seen

    mine = os.nice(0)
    niceness, seen = asyncio.run(run())
    assert niceness == seen == {"utility.stdio": 6}
    assert os.nice(0) == mine  # the generator's own priority is untouched


def test_a_pool_without_nice_leaves_its_servers_alone(tmp_path: Path) -> None:
    import os

    from codeperf.mcp.bench.pool import McpPool

    async def run() -> tuple[dict, set]:
        async with McpPool(["utility"], tmp_path) as pool:
            return dict(pool.niceness), {os.getpriority(os.PRIO_PROCESS, pid)
                                         for pid in pool.pids.values()}

    niceness, seen = asyncio.run(run())
    assert niceness == {} and seen == {os.nice(0)}
