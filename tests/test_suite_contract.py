"""The one suite contract (codeperf.harness.contract): the rule for "failed", the
outcome stored in the envelope, exit codes, SetupError and a signal during start-up;
and the target rules every suite shares (codeperf.harness.targets)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codeperf.harness import exitcodes
from codeperf.harness.contract import SetupError, judge, run_script
from codeperf.harness.envelope import Interrupted, Recorder, Target, load
from codeperf.harness.suites import REGISTRY, SUITES
from codeperf.harness.targets import evaluate

ROOT = Path(__file__).resolve().parents[1]


def _envelope(**extra):
    base = {"complete": True, "errors": [], "validity": [], "targets": []}
    return {**base, **extra}


def _target(state: str, **extra):
    return {"name": "t", "metric": "m", "op": "<", "threshold": 1.0, "unit": "ms",
            "measured": 0.5, "passed": state == "pass", "state": state, **extra}


@pytest.mark.parametrize("envelope, status, code", [
    (_envelope(), "ok", exitcodes.OK),
    (_envelope(errors=[{"kind": "scenario", "message": "burst: RuntimeError"}]), "failed", 1),
    (_envelope(validity=[{"check": "gate", "ok": False}]), "failed", 1),
    (_envelope(targets=[_target("fail")]), "failed", 1),
    (_envelope(targets=[_target("not run", note="--no-floor")]), "ok", 0),
    (_envelope(complete=False), "incomplete", 1),
    (_envelope(complete=False, errors=[{"kind": "crash", "message": "boom"}]), "crashed", 1),
    (_envelope(complete=False, errors=[{"kind": "interrupted", "message": "SIGTERM"}]),
     "interrupted", exitcodes.INTERRUPTED),
])
def test_one_rule_for_failed(envelope, status, code):
    outcome = judge(envelope)
    assert (outcome.status, outcome.exit_code) == (status, code)


def test_not_run_targets_are_named_in_the_outcome():
    outcome = judge(_envelope(targets=[_target("pass"), _target("not run", name="floor",
                                                                 note="--no-floor")]))
    assert outcome.status == "ok"
    assert outcome.targets_not_run == [{"name": "floor", "metric": "m", "reason": "--no-floor"}]


def test_skipped_parts_are_named_in_the_outcome_and_do_not_fail_the_run():
    outcome = judge(_envelope(results=[{"id": "engine/rust", "kind": "skipped",
                                        "reason": "not built"}, {"id": "x", "kind": "peak"}]))
    assert (outcome.status, outcome.exit_code) == ("ok", exitcodes.OK)
    assert outcome.parts_not_run == [{"id": "engine/rust", "reason": "not built"}]


def test_an_old_target_without_state_is_judged_by_passed():
    old = {k: v for k, v in _target("fail").items() if k != "state"}
    assert judge(_envelope(targets=[old])).status == "failed"


def test_the_recorder_stores_the_outcome_in_the_envelope(tmp_path):
    with Recorder("load", tmp_path, {}, environment={}) as rec:
        rec.add_error("scenario", "burst: RuntimeError: lag")
        rec.mark_complete()
    data = load(tmp_path / "load.json")
    assert data["outcome"]["status"] == "failed" and data["outcome"]["exit_code"] == 1
    assert data["outcome"]["reasons"] == ["error (scenario): burst: RuntimeError: lag"]
    assert rec.exit_code == exitcodes.FAILED


def test_run_script_exit_codes(tmp_path):
    def setup_error() -> int:
        raise SetupError("bad experts file")

    assert run_script("load", tmp_path, setup_error) == exitcodes.USAGE
    assert not (tmp_path / "load.json").exists()  # nothing measured, nothing written

    def interrupted_in_recorder() -> int:
        with Recorder("memory", tmp_path, {}, environment={}):
            raise Interrupted("SIGTERM")

    assert run_script("memory", tmp_path, interrupted_in_recorder) == exitcodes.INTERRUPTED
    data = load(tmp_path / "memory.json")
    assert data["complete"] is False and data["outcome"]["status"] == "interrupted"


def test_ctrl_c_before_the_recorder_still_writes_a_partial_envelope(tmp_path):
    def starting() -> int:
        raise KeyboardInterrupt

    assert run_script("mcp", tmp_path, starting) == exitcodes.INTERRUPTED
    data = load(tmp_path / "mcp.json")
    assert data["complete"] is False
    assert data["errors"][0]["kind"] == "interrupted"
    assert "during start-up" in data["errors"][0]["message"]
    assert data["outcome"] == {"status": "interrupted", "exit_code": 130,
                               "reasons": ["interrupted"], "targets_not_run": [],
                               "parts_not_run": []}


def test_sigterm_during_start_up_exits_130_with_a_partial_envelope(tmp_path):
    """A real process: SIGTERM while the suite is still starting (no Recorder yet)."""
    script = tmp_path / "starting.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT / 'python')!r})
        from codeperf.harness.contract import run_script

        def body():
            print("ready", flush=True)
            time.sleep(60)  # a slow start-up: imports, a server that takes its time
            return 0

        sys.exit(run_script("load", {str(tmp_path)!r}, body))
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == exitcodes.INTERRUPTED
    data = load(tmp_path / "load.json")
    assert data["complete"] is False and data["outcome"]["exit_code"] == 130


def test_one_registry_of_suites():
    assert SUITES == ("bench_rust", "load", "memory", "mcp")
    for suite in REGISTRY:
        assert (ROOT / "scripts" / suite.script).is_file(), suite
    from codeperf.report.loading import SUITE_SCRIPTS, SUITE_TITLES

    assert SUITE_SCRIPTS == {s.name: s.script for s in REGISTRY}
    assert SUITE_TITLES == {s.name: s.title for s in REGISTRY}


def test_one_setup_error_for_every_suite():
    from codeperf.bench_rust import driver
    from codeperf.load import suite as load_suite
    from codeperf.mcp.bench import suite as mcp_suite
    from codeperf.memory import suite as memory_suite

    assert driver.SetupError is load_suite.SetupError is mcp_suite.SetupError is SetupError
    assert memory_suite.SetupError is SetupError
    with pytest.raises(SetupError, match="unknown component"):
        memory_suite.run_suite(Path("unused"), ["nope"])


def test_report_imports_no_suite_code():
    """report/ reads envelopes only: no import of a suite package."""
    offenders = []
    for path in (ROOT / "python" / "codeperf" / "report").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for suite_pkg in ("codeperf.bench_rust", "codeperf.memory", "codeperf.mcp.bench",
                          "codeperf.load"):
            if f"from {suite_pkg}" in text or f"import {suite_pkg}" in text:
                offenders.append(f"{path.name}: {suite_pkg}")
    assert offenders == []


# -- targets: stored whole, judged with the error rate, not run --------------------------

TARGETS = """
[[target]]
suite = "load"
name = "Single AI query average"
metric = "single-query.mean_ms"
op = "<"
threshold = 2000
unit = "ms"

[[target]]
suite = "load"
name = "Error rate under load"
metric = "sustained.error_rate_pct"
op = "<"
threshold = 5
unit = "%"

[[target]]
suite = "bench_rust"
name = "speedup"
metric = "speedup.jaccard"
op = ">="
threshold = 20
unit = "x"

[[target]]
suite = "mcp"
name = "floor"
metric = "protocol_floor.s"
op = "<"
threshold = 1
unit = "s"
"""


@pytest.fixture
def targets_file(tmp_path):
    path = tmp_path / "targets.toml"
    path.write_text(TARGETS)
    return path


def test_a_latency_over_one_success_in_twenty_does_not_pass(targets_file):
    # 1 success in 20: its mean is fast, its error rate is 95 %.
    (target,) = [t for t in evaluate("load", {"single-query.mean_ms": 300.0,
                                              "single-query.error_rate_pct": 95.0},
                                     targets_file) if t.metric == "single-query.mean_ms"]
    assert target.state == "fail" and not target.passed
    assert target.measured == 300.0
    assert target.error_rate == {"metric": "single-query.error_rate_pct", "measured": 95.0,
                                 "op": "<", "threshold": 5.0, "passed": False}
    assert target.note.startswith("error rate 95 % is not < 5 %")


def test_a_latency_without_its_error_rate_does_not_pass(targets_file):
    (target,) = [t for t in evaluate("load", {"single-query.mean_ms": 300.0}, targets_file)
                 if t.metric == "single-query.mean_ms"]
    assert target.state == "fail" and "not measured" in target.note


def test_a_latency_with_few_errors_passes_and_carries_its_error_rate(targets_file):
    (target,) = [t for t in evaluate("load", {"single-query.mean_ms": 300.0,
                                              "single-query.error_rate_pct": 0.0},
                                     targets_file) if t.metric == "single-query.mean_ms"]
    assert target.state == "pass" and target.error_rate["passed"] is True


def test_a_speedup_is_judged_on_its_ci_lower_end(targets_file):
    # Point 23.5x, 95 % CI [17.8, 27.6]: ">= 20x" is not shown.
    (target,) = evaluate("bench_rust", {"speedup.jaccard": 17.8}, targets_file,
                         statistics={"speedup.jaccard": "ci95_low"})
    assert target.state == "fail" and target.statistic == "ci95_low"


def test_a_part_not_requested_is_not_run(targets_file):
    (target,) = evaluate("mcp", {}, targets_file,
                         not_run={"protocol_floor.s": "protocol floor not requested (--no-floor)"})
    assert target.state == "not run" and target.measured is None
    assert judge({"complete": True, "targets": [json.loads(json.dumps(target.__dict__))]}
                 ).exit_code == exitcodes.OK


def test_mcp_no_floor_marks_the_floor_target_not_run():
    from codeperf.mcp.bench.runner import McpBenchConfig
    from codeperf.mcp.bench.suite import not_requested

    assert "protocol_floor.stdio_1000_calls_c10_s" in not_requested(McpBenchConfig(floor=False))
    assert not_requested(McpBenchConfig()) == {}


def test_bench_rust_sizes_without_the_reference_leave_its_targets_not_run(targets_file,
                                                                         monkeypatch):
    # `--sizes 4x256B` (a part deselected): the targets are judged at 100 x 2 KB only.
    from codeperf.bench_rust.driver import not_requested
    from codeperf.bench_rust.grid import parse_sizes

    monkeypatch.setenv("CODEPERF_TARGETS", str(targets_file))
    tiny = not_requested(("consensus_jaccard",), parse_sizes(["4x256B"]), True)
    assert tiny == {"speedup.jaccard": "benchmark jaccard not requested; ran consensus_jaccard"}
    text = targets_file.read_text().replace("speedup.jaccard", "speedup.consensus_jaccard")
    targets_file.write_text(text)
    tiny = not_requested(("consensus_jaccard",), parse_sizes(["4x256B"]), True)
    assert tiny == {"speedup.consensus_jaccard": "reference size 100x2KB not requested; ran 4x256B"}
    assert not_requested(("consensus_jaccard",), parse_sizes(["4x256B", "100x2KB"]), True) == {}
    (target,) = evaluate("bench_rust", {}, targets_file, not_run=tiny)
    assert target.state == "not run"


def test_a_skipped_memory_component_makes_its_targets_not_run():
    from codeperf.memory.suite import not_run_targets

    reasons = not_run_targets(["engine", "leaks", "mcp"], {"mcp": "mcp extra not installed"})
    assert reasons["peak_rss_mb"] == "skipped: component mcp (mcp extra not installed)"
    assert reasons["leak.max_bytes_per_100_ops"].startswith("skipped: component mcp")
    assert "rust_reduction_pct.min" not in reasons  # engine ran


def test_unmeasured_target_is_a_failure(targets_file):
    (target,) = evaluate("bench_rust", {}, targets_file)
    assert target.state == "fail" and target.note == "not measured in this run"
    assert Target("n", "m", "<", 1.0, "ms", None, False).state == "fail"


def test_targets_file_env_is_respected(targets_file, monkeypatch):
    monkeypatch.setenv("CODEPERF_TARGETS", str(targets_file))
    assert {t.metric for t in evaluate("load", {})} == {"single-query.mean_ms",
                                                        "sustained.error_rate_pct"}
    assert os.environ["CODEPERF_TARGETS"] == str(targets_file)


def test_mcp_error_rate_covers_every_tool_but_the_deliberate_failures():
    from codeperf.mcp.bench.runner import _tool_error_rate

    rows = [{"summary": {"calls_count": 10, "ok_count": 1}},   # 9 errors: counts
            {"summary": {"calls_count": 10, "ok_count": 10}},
            {"summary": {"calls_count": 10, "ok_count": 0}},   # never worked: counts too
            {"summary": {"calls_count": 10, "ok_count": 0}, "errors_expected": True}]
    assert _tool_error_rate(rows) == pytest.approx(100 * 19 / 30)
    assert _tool_error_rate(rows[3:]) is None  # only deliberate failures: no rate


def test_sigterm_while_the_script_still_imports_exits_130_with_a_partial_envelope(tmp_path):
    """trap_startup_signals, called first in each suite script: the window before run_script."""
    script = tmp_path / "importing.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT / 'python')!r})
        from codeperf.harness.contract import trap_startup_signals
        trap_startup_signals("mcp")
        print("ready", flush=True)
        time.sleep(60)  # heavy imports (the MCP SDK...) still running
    """))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(script), "--quick", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == exitcodes.INTERRUPTED
    data = load(out / "mcp.json")
    assert data["complete"] is False and "during start-up" in data["errors"][0]["message"]


def test_every_suite_script_traps_signals_before_its_imports():
    for suite in REGISTRY:
        text = (ROOT / "scripts" / suite.script).read_text()
        trap = text.index(f'trap_startup_signals("{suite.name}")')
        heavy = [text.index(m) for m in ("from codeperf.bench_rust", "from codeperf.mcp",
                                         "from codeperf.memory", "from codeperf.load.suite",
                                         "from codeperf.experts") if m in text]
        assert heavy and trap < min(heavy), suite.script
