"""Every failure in an envelope reaches the report's verdict, from the envelopes alone.

Each test starts from the passing fixture run (tests/data/report/run_pass) and
changes one thing the way a real run would write it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from codeperf.report import build_report

DATA = Path(__file__).parent / "data" / "report"
TARGETS = DATA / "targets.toml"


def passing_run(dest: Path) -> Path:
    shutil.copytree(DATA / "run_pass", dest)
    return dest


def edit(run: Path, suite: str, change) -> None:
    path = run / f"{suite}.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def verdict_of(run: Path, tmp_path: Path, targets: Path = TARGETS):
    return build_report(run, out_dir=tmp_path / "out", targets_path=targets, charts=False)


def test_the_fixture_run_passes(tmp_path):
    assert verdict_of(passing_run(tmp_path / "run"), tmp_path).verdict.status == "pass"


def test_a_scenario_exception_in_load_fails_the_verdict(tmp_path):
    # Calibration, burst and mcp-calls have no targets: only the error shows the crash.
    run = passing_run(tmp_path / "run")
    edit(run, "load", lambda d: d["errors"].append(
        {"kind": "scenario", "message": "burst: RuntimeError: schedule lag", "scenario": "burst"}))
    report = verdict_of(run, tmp_path)
    assert report.verdict.status == "fail"
    assert report.run.suites["load"].state == "errors"
    assert any("suite load: errors" in r and "burst: RuntimeError" in r
               for r in report.verdict.reasons)


def test_a_failed_memory_component_fails_the_verdict(tmp_path):
    run = passing_run(tmp_path / "run")
    edit(run, "memory", lambda d: d["errors"].append(
        {"kind": "component", "message": "lineprof: ImportError: no module", "component": "lineprof"}))
    report = verdict_of(run, tmp_path)
    assert report.verdict.status == "fail"
    assert any("lineprof: ImportError" in r for r in report.verdict.reasons)


def test_a_timing_error_at_another_size_fails_the_verdict(tmp_path):
    run = passing_run(tmp_path / "run")
    edit(run, "bench_rust", lambda d: d["errors"].append(
        {"kind": "timing", "message": "pyperf worker died", "case": "analyze/10x2KB"}))
    assert verdict_of(run, tmp_path).verdict.status == "fail"


def test_a_stale_run_json_does_not_lend_ok(tmp_path):
    run = passing_run(tmp_path / "run")
    edit(run, "load", lambda d: d["errors"].append({"kind": "scenario", "message": "x: boom"}))
    (run / "run.json").write_text(json.dumps({
        "run_id": "20200101T000000Z-old", "quick": False,
        "suites": [{"suite": s, "status": "ok", "exit_code": 0} for s in
                   ("bench_rust", "load", "memory", "mcp")]}))
    report = verdict_of(run, tmp_path)
    assert report.verdict.status == "fail"
    assert report.run.suites["load"].process is None  # another run's record: ignored


def test_a_stale_run_json_cannot_fail_a_good_envelope_either(tmp_path):
    run = passing_run(tmp_path / "run")
    (run / "run.json").write_text(json.dumps({
        "run_id": "20200101T000000Z-old", "quick": False,
        "suites": [{"suite": "mcp", "status": "crashed", "exit_code": -11}]}))
    assert verdict_of(run, tmp_path).verdict.status == "pass"


def test_the_same_runs_record_of_a_crash_after_writing_still_fails(tmp_path):
    run = passing_run(tmp_path / "run")
    run_id = json.loads((run / "mcp.json").read_text())["run_id"]
    (run / "run.json").write_text(json.dumps({
        "run_id": run_id, "quick": False,
        "suites": [{"suite": "mcp", "status": "crashed", "exit_code": -11}]}))
    report = verdict_of(run, tmp_path)
    assert report.verdict.status == "fail" and report.run.suites["mcp"].state == "failed"


def test_an_edited_threshold_shows_what_the_run_was_judged_on(tmp_path):
    run = passing_run(tmp_path / "run")
    edited = tmp_path / "targets.toml"
    text = TARGETS.read_text()
    assert 'threshold = 2000\nunit = "ms"' in text
    edited.write_text(text.replace('threshold = 2000\nunit = "ms"',
                                   'threshold = 100\nunit = "ms"', 1))
    report = verdict_of(run, tmp_path, edited)
    row = next(r for r in report.rows if r.metric == "single-query.mean_ms")
    # The stored target: 318.6 ms < 2000 ms passed in the run; the edit does not rewrite it.
    assert (row.op, row.threshold, row.state) == ("<", 2000.0, "pass")
    assert row.changed_since == "targets.toml now says < 100 ms"
    text = report.markdown_path.read_text()
    assert "targets.toml now says &lt; 100 ms (changed since the run)" in text


def test_a_failed_target_stays_failed_after_the_threshold_is_loosened(tmp_path):
    run = passing_run(tmp_path / "run")

    def fail_speedup(d):
        for t in d["targets"]:
            if t["metric"] == "speedup.analyze":
                t.update(measured=8.0, passed=False, state="fail")  # as a suite stores it
    edit(run, "bench_rust", fail_speedup)
    loosened = tmp_path / "targets.toml"
    loosened.write_text(TARGETS.read_text().replace('metric = "speedup.analyze"\nop = ">="\n'
                                                    'threshold = 10', 'metric = "speedup.analyze"'
                                                    '\nop = ">="\nthreshold = 5'))
    report = verdict_of(run, tmp_path, loosened)
    row = next(r for r in report.rows if r.metric == "speedup.analyze")
    assert row.state == "fail" and row.threshold == 10.0 and "now says >= 5" in row.changed_since
    assert report.verdict.status == "fail"


def test_targets_are_matched_by_metric_never_by_name(tmp_path):
    run = passing_run(tmp_path / "run")

    def rename_metric(d):
        for t in d["targets"]:
            if t["metric"] == "tool_calls.mean_ms":
                t["metric"] = "tool_calls.something_else"
    edit(run, "mcp", rename_metric)
    report = verdict_of(run, tmp_path)
    row = next(r for r in report.rows if r.metric == "tool_calls.mean_ms")
    assert row.state == "fail" and row.note == "not reported by the suite (or added to targets.toml since the run)"


def test_a_skipped_component_is_not_run_and_named_never_a_pass(tmp_path):
    run = passing_run(tmp_path / "run")

    def skip(d):
        d["results"].append({"id": "mcp", "kind": "skipped", "reason": "mcp extra missing"})
        for t in d["targets"]:
            if t["metric"] == "peak_rss_mb":
                t.update(measured=None, passed=False, state="not run",
                         note="skipped: component mcp (mcp extra missing)")
    edit(run, "memory", skip)
    report = verdict_of(run, tmp_path)
    row = next(r for r in report.rows if r.metric == "peak_rss_mb")
    assert row.state == "not run"
    assert report.verdict.status == "incomplete"  # not a pass, not a failure
    assert any("skipped: component mcp" in r for r in report.verdict.reasons)


def test_a_skipped_component_without_targets_is_still_named_never_a_pass(tmp_path):
    # lineprof (and the Rust heap's positive control, the Rust leak run) feed no target:
    # skipped, they left no "not run" target behind, and the run must still not pass.
    run = passing_run(tmp_path / "run")
    edit(run, "memory", lambda d: d["results"].append(
        {"id": "lineprof", "kind": "skipped", "reason": "memory_profiler not importable"}))
    report = verdict_of(run, tmp_path)
    assert report.run.suites["memory"].state == "ok"  # a part not run is not a failure
    assert report.verdict.status == "incomplete"
    assert "1 part(s) skipped, not run: memory lineprof (memory_profiler not importable)" \
        in report.verdict.reasons
    assert "memory lineprof (memory_profiler not importable)" in report.markdown_path.read_text()


def test_a_part_not_requested_is_not_run_not_fail(tmp_path):
    run = passing_run(tmp_path / "run")

    def no_floor(d):
        for t in d["targets"]:
            if t["metric"] == "tool_calls.completed":
                t.update(measured=None, passed=False, state="not run",
                         note="handled run not requested (--handled-calls 0)")
    edit(run, "mcp", no_floor)
    report = verdict_of(run, tmp_path)
    assert report.verdict.status == "incomplete"
    assert report.run.suites["mcp"].state == "ok"


def test_a_latency_target_shows_its_error_rate(tmp_path):
    run = passing_run(tmp_path / "run")

    def with_rate(d):
        for t in d["targets"]:
            if t["metric"] == "single-query.mean_ms":
                t.update(passed=False, state="fail", note="error rate 95 % is not < 5 %: a "
                         "latency over the successes alone is no answer",
                         error_rate={"metric": "single-query.error_rate_pct", "measured": 95.0,
                                     "op": "<", "threshold": 5.0, "passed": False})
    edit(run, "load", with_rate)
    report = verdict_of(run, tmp_path)
    assert report.verdict.status == "fail"
    text = report.markdown_path.read_text()
    assert "error rate 95 % (&lt; 5 % NOT met)" in text


def test_an_interrupted_suite_fails_the_verdict(tmp_path):
    run = passing_run(tmp_path / "run")

    def interrupted(d):
        d["complete"] = False
        d["errors"].append({"kind": "interrupted", "message": "SIGTERM during start-up, "
                            "before measuring"})
    edit(run, "mcp", interrupted)
    report = verdict_of(run, tmp_path)
    assert report.verdict.status == "fail" and report.run.suites["mcp"].state == "interrupted"


# -- end to end: the real memory suite writes the envelope, the report judges it ----------

def _memory_run_with_lineprof(tmp_path: Path, monkeypatch, lineprof) -> Path:
    from codeperf.memory import suite
    from codeperf.memory.components import Component

    monkeypatch.setattr(suite, "registry", lambda: {
        "lineprof": Component("lineprof", "stands in for the line profiles", lineprof)})
    out = tmp_path / "memory_run"
    suite.run_suite(out, ["lineprof"], quick=True, log=lambda _: None)
    return out


def test_a_lineprof_component_that_raises_fails_the_verdict_end_to_end(tmp_path, monkeypatch):
    def broken(ctx):
        raise ImportError("memory_profiler is broken")

    run = _memory_run_with_lineprof(tmp_path, monkeypatch, broken)
    report = verdict_of(run, tmp_path)
    assert report.run.suites["memory"].state == "errors"
    assert report.verdict.status == "fail"
    assert any("lineprof: ImportError: memory_profiler is broken" in r
               for r in report.verdict.reasons)


def test_a_skipped_lineprof_component_is_not_run_end_to_end(tmp_path, monkeypatch):
    from codeperf.memory.context import ComponentSkipped

    def skipped(ctx):
        raise ComponentSkipped("memory_profiler not installed")

    run = _memory_run_with_lineprof(tmp_path, monkeypatch, skipped)
    report = verdict_of(run, tmp_path)
    assert report.run.suites["memory"].state == "ok"
    assert report.verdict.status == "incomplete"  # never a pass
    assert any("memory lineprof (memory_profiler not installed)" in r
               for r in report.verdict.reasons)
