"""`scripts/memory_profile.py` end to end in quick mode: every component, the envelope, exit codes,
interruption."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeperf.harness import envelope as envelope_mod
from codeperf.harness import exitcodes
from codeperf.harness.envelope import Interrupted
from codeperf.memory import suite
from codeperf.memory.components import Component, registry
from _availability import unavailable

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "memory_profile.py"
# Components that share a simulator run together; each group is one CLI run.
GROUPS = {"controls": ("controls",), "engine": ("engine",), "leaks": ("leaks",),
          "experts": ("experts", "concurrency", "lineprof"), "mcp": ("mcp",)}


def load_script():
    spec = importlib.util.spec_from_file_location("memory_profile", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One quick run of the script per group, cached for the module: (exit code, envelope).

    Each run is its own process, as users run it: the leak and heap figures trace every
    thread of the process, and threads other tests leave behind in the pytest process
    (Ray's, servers') would otherwise be measured as the suite's own growth."""
    cache: dict[str, tuple[int, dict]] = {}

    def get(group: str) -> tuple[int, dict]:
        if group not in cache:
            out = tmp_path_factory.mktemp(f"memory-{group}")
            args = [sys.executable, str(SCRIPT), "--quick", "--out", str(out)]
            for name in GROUPS[group]:
                args += ["--component", name]
            done = subprocess.run(args, capture_output=True, text=True, timeout=600)
            assert (out / "memory.json").exists(), done.stderr[-2000:]
            cache[group] = (done.returncode, envelope_mod.load(out / "memory.json"))
        return cache[group]

    return get


def entries(env: dict, kind: str) -> list[dict]:
    return [r for r in env["results"] if r.get("kind") == kind]


def expected_exit(env: dict) -> int:
    # The suite contract's rule: a failed target (not one that was not run), a failed
    # check or any error fails the run.
    bad = ([t for t in env["targets"] if t["state"] == "fail"] or
           [v for v in env["validity"] if not v["ok"]] or env["errors"])
    return exitcodes.FAILED if bad else exitcodes.OK


def measured_targets(env: dict) -> dict[str, dict]:
    return {t["metric"]: t for t in env["targets"] if t["state"] != "not run"}


@pytest.mark.parametrize("group", list(GROUPS))
def test_each_group_writes_a_complete_valid_envelope(runs, group):
    code, env = runs(group)
    assert env["suite"] == "memory" and env["complete"] is True
    assert code == expected_exit(env)
    assert env["config"]["components"] == list(GROUPS[group])
    timeline = entries(env, "timeline")
    assert len(timeline) == 1 and timeline[0]["summary"]["samples_count"] > 0
    # Each component that ran has its GC figures (real collections, not gc.get_count()).
    ran = {r["id"] for r in entries(env, "skipped")}
    for name in GROUPS[group]:
        if name not in ran:
            assert any(r["id"] == f"gc/{name}" for r in entries(env, "gc")), name


def test_controls_are_validity_checks(runs):
    code, env = runs("controls")
    checks = {v["check"]: v for v in env["validity"]}
    assert checks["leak-control/positive/python_heap/flagged"]["ok"]
    assert checks["leak-control/positive/python_heap/rate-within-20pct"]["ok"]
    assert checks["leak-control/negative/not-flagged"]["ok"]
    # Controls measure no target: each is stored as not run, with the reason.
    assert env["targets"] and all(t["state"] == "not run" and "needs component" in t["note"]
                                  for t in env["targets"])
    assert code == exitcodes.OK


def test_engine_reports_each_heap_and_the_comparison(runs):
    code, env = runs("engine")
    peaks = {r["id"]: r for r in entries(env, "peak")}
    ref = peaks["engine/consensus_cosine/python/100x2KB"]
    assert ref["backend"] == "python"
    assert ref["summary"]["python_heap_peak_bytes"] > 0
    comparisons = {r["id"]: r for r in entries(env, "comparison")}
    assert "engine/analyze/rust_vs_python/100x2KB" in comparisons
    targets = measured_targets(env)
    assert set(targets) == {"peak_rss_mb", "rust_reduction_pct.min"}
    rust_skipped = any(r["id"] == "engine/rust" and r["kind"] == "skipped" for r in env["results"])
    if not rust_skipped:  # Rust built: the reduction is measured and the outputs were compared
        assert "engine/analyze/rust/100x2KB" in peaks
        assert peaks["engine/analyze/rust/100x2KB"]["summary"]["rust_heap_peak_bytes"] > 0
        assert targets["rust_reduction_pct.min"]["measured"] is not None
        assert all(v["ok"] for v in env["validity"] if v["check"].startswith("engine-outputs-match"))
    else:  # not built: said so, and the target is not passed
        assert targets["rust_reduction_pct.min"]["passed"] is False
    assert targets["peak_rss_mb"]["measured"] > 0


def test_leaks_find_none_in_the_engine(runs):
    code, env = runs("leaks")
    leaks = entries(env, "leak")
    assert leaks and all(not r["summary"]["leak_detected"] for r in leaks), [
        (r["id"], r["summary"]) for r in leaks if r["summary"]["leak_detected"]]
    target = next(t for t in env["targets"] if t["metric"] == "leak.max_bytes_per_100_ops")
    assert target["measured"] is not None and target["passed"]


def test_experts_concurrency_and_line_profiles(runs):
    code, env = runs("experts")
    if any(r["kind"] == "skipped" and r["id"] == "experts" for r in env["results"]):
        unavailable("experts orchestrator not importable")
    ids = {r["id"]: r for r in env["results"]}
    query = ids["experts/query/end_to_end"]
    assert query["summary"]["python_heap_peak_bytes"] > 0
    assert ids["leaks/experts_query"]["series"]["simulator_rss"]["retained_bytes"][0] > 0
    sweep = ids["concurrency/per_in_flight_query"]["summary"]
    assert sweep["peak_in_flight_count"] == 100
    assert sweep["heaps_peak_sum_per_query_bytes"] is not None
    assert ids["concurrency/queries/100"]["summary"]["failed_count"] == 0
    twin = next(r for r in env["results"] if r["id"].startswith("lineprof/engine_twin"))
    assert twin["lines"]["lines_count"] > 50
    assert {"line", "increment_bytes", "occurrences_count"} <= set(twin["lines"]["top_lines"][0])
    assert ids["lineprof/query_path"]["lines"]["functions_count"] >= 1
    checks = {v["check"]: v["ok"] for v in env["validity"]}
    assert checks["experts/queries-ok"] and checks["concurrency/all-in-flight"]


def test_mcp_client_and_server_memory(runs):
    code, env = runs("mcp")
    if any(r["kind"] == "skipped" and r["id"] == "mcp" for r in env["results"]):
        unavailable("MCP SDK or servers not importable")
    assert not env["errors"], env["errors"]
    peak = next(r for r in entries(env, "peak") if r["id"].startswith("mcp/"))
    assert peak["server_pid"] and peak["summary"]["server_rss_bytes"] > 0
    leak = next(r for r in entries(env, "leak") if r["id"].startswith("leaks/mcp_client"))
    assert leak["series"]["server_rss"]["fit"] is not None
    assert not leak["series"]["python_heap"]["leak"]


def test_unknown_component_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(load_script().main, ["--component", "nope", "--out", str(tmp_path)])
    assert result.exit_code == exitcodes.USAGE
    assert not (tmp_path / "memory.json").exists()


def test_help_lists_components_and_exit_codes():
    result = CliRunner().invoke(load_script().main, ["-h"])
    assert result.exit_code == 0
    assert "--component" in result.output and "Exit codes" in result.output


def test_interruption_writes_partial_results(tmp_path, monkeypatch):
    real = registry()

    def interrupt(ctx):
        raise KeyboardInterrupt

    monkeypatch.setattr(suite, "registry", lambda: {
        "controls": real["controls"],
        "engine": Component("engine", "interrupted on purpose", interrupt)})
    code = suite.run_suite(tmp_path, ["controls", "engine"], quick=True, log=lambda _: None)
    assert code == exitcodes.INTERRUPTED
    data = json.loads((tmp_path / "memory.json").read_text())
    envelope_mod.validate(data)
    assert data["complete"] is False
    assert any(e["kind"] == "interrupted" for e in data["errors"])
    assert any(r["id"].startswith("controls/") for r in data["results"])  # kept
    assert any(r["kind"] == "timeline" for r in data["results"])
    assert any(v["check"].startswith("leak-control") for v in data["validity"])


def test_a_failing_component_is_recorded_and_fails_the_run(tmp_path, monkeypatch):
    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(suite, "registry", lambda: {
        "controls": Component("controls", "broken on purpose", broken)})
    code = suite.run_suite(tmp_path, ["controls"], quick=True, log=lambda _: None)
    data = envelope_mod.load(tmp_path / "memory.json")
    assert code == exitcodes.FAILED
    assert data["complete"] is True
    assert any(e["kind"] == "component" and "boom" in e["message"] for e in data["errors"])


def test_a_component_cut_short_keeps_what_it_measured(tmp_path, monkeypatch):
    """One entry recorded, then a leak run that fails in its third batch: both entries
    and the gc entry are kept, marked partial, beside the component error."""
    from codeperf.memory.components.engine import partial_leak
    from codeperf.memory.leaks import LeakPlan, detect_leak

    def half_done(ctx):
        ctx.add_result({"id": "half/first", "kind": "peak", "summary": {"x_bytes": 1}})
        calls = 0

        def op():
            nonlocal calls
            calls += 1
            if calls > 2 * 10:
                raise RuntimeError("boom in batch 3")

        detect_leak(op, LeakPlan(warmup_calls=0, batches=6, calls_per_batch=10),
                    on_stop=partial_leak(ctx, "half/leak"))

    monkeypatch.setattr(suite, "registry", lambda: {
        "engine": Component("engine", "fails half-way on purpose", half_done)})
    code = suite.run_suite(tmp_path, ["engine"], quick=True, log=lambda _: None)
    data = envelope_mod.load(tmp_path / "memory.json")
    assert code == exitcodes.FAILED
    by_id = {r["id"]: r for r in data["results"]}
    assert by_id["half/first"]["partial"] is True
    assert by_id["half/leak"]["partial"] is True
    assert by_id["half/leak"]["summary"]["batches_count"] == 2
    assert by_id["gc/engine"]["partial"] is True
    assert any(e["kind"] == "component" and "batch 3" in e["message"] for e in data["errors"])
    # The reduction target needs every operation: a component cut short does not pass it.
    assert suite.target_metrics(_ctx_with_reductions({"analyze": 70.0}))[
        "rust_reduction_pct.min"] is None


def test_an_interrupted_leak_run_is_kept_as_partial(tmp_path, monkeypatch):
    from codeperf.memory.components.engine import partial_leak
    from codeperf.memory.leaks import LeakPlan, detect_leak

    def interrupted(ctx):
        calls = 0

        def op():
            nonlocal calls
            calls += 1
            if calls > 4 * 5:
                raise Interrupted("SIGTERM")  # what the Recorder raises on SIGTERM

        detect_leak(op, LeakPlan(warmup_calls=0, batches=8, calls_per_batch=5),
                    on_stop=partial_leak(ctx, "leaks/interrupted"))

    monkeypatch.setattr(suite, "registry", lambda: {
        "leaks": Component("leaks", "interrupted on purpose", interrupted)})
    code = suite.run_suite(tmp_path, ["leaks"], quick=True, log=lambda _: None)
    assert code == exitcodes.INTERRUPTED
    data = json.loads((tmp_path / "memory.json").read_text())
    envelope_mod.validate(data)
    assert data["complete"] is False
    leak = next(r for r in data["results"] if r["id"] == "leaks/interrupted")
    assert leak["partial"] is True and leak["summary"]["batches_count"] == 4
    assert leak["series"]["python_heap"]["fit"] is not None  # four batches: fitted


def _ctx_with_reductions(reductions):
    from codeperf.memory.context import MemoryContext

    ctx = MemoryContext(quick=True, rust=None, sampler=None, out_dir=Path("."))  # type: ignore[arg-type]
    ctx.rust_reductions.update(reductions)
    return ctx


def test_target_metrics_come_from_measurements():
    from codeperf.memory.context import MemoryContext

    ctx = MemoryContext(quick=True, rust=None, sampler=None, out_dir=Path("."))  # type: ignore[arg-type]
    assert suite.target_metrics(ctx)["peak_rss_mb"] is None  # nothing measured, nothing claimed
    ctx.normal_load_rss_peaks.update({"a": 200_000_000, "b": 600_000_000})
    ctx.leak_rates.update({"x": -5.0, "y": 2_000_000.0})
    ctx.rust_reductions.update({"analyze": 70.0, "aggregate": None})
    metrics = suite.target_metrics(ctx)
    assert metrics["peak_rss_mb"] == 600.0
    assert metrics["leak.max_bytes_per_100_ops"] == 2_000_000.0
    assert metrics["rust_reduction_pct.min"] is None  # one operation unmeasured: no minimum
    targets = {t.metric: t for t in suite.evaluate("memory", metrics)}
    assert not targets["peak_rss_mb"].passed and not targets["leak.max_bytes_per_100_ops"].passed


@pytest.mark.parametrize("line,key", [('timeout_s = "10"', "timeout_s"), ("stream = 1", "stream"),
                                      ("confidence = nan", "confidence")])
def test_a_wrong_experts_key_is_a_usage_error_naming_file_and_key(tmp_path, line, key):
    experts = tmp_path / "typed.toml"
    experts.write_text(f'[[expert]]\nname = "a"\nbase_url = "simulator"\nmodel = "m"\n{line}\n')
    result = CliRunner().invoke(load_script().main, ["--experts", str(experts), "--quick",
                                                     "--out", str(tmp_path / "out")])
    assert result.exit_code == exitcodes.USAGE, result.output
    assert str(experts) in result.output and f"{key} must be" in result.output
    assert not (tmp_path / "out" / "memory.json").exists()
