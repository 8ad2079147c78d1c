"""Golden tests: report.md from the fixture runs in tests/data/report/, byte for byte.

After an intended change to the report, regenerate with
`CODEPERF_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_report_golden.py`
and review the diff of tests/data/report/golden/. The fixtures themselves come
from tests/data/report/make_fixtures.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from codeperf.report import build_report

DATA = Path(__file__).parent / "data" / "report"
GOLDEN = DATA / "golden"
TARGETS = DATA / "targets.toml"
# A/A spreads for the baseline comparison: a few metrics, so the report shows both a
# measured floor and the default one (the committed floors are the real machine's).
AA_NOISE = DATA / "aa_noise.json"


def copy_run(name: str, dest: Path) -> Path:
    shutil.copytree(DATA / name, dest)
    return dest


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.md"
    if os.environ.get("CODEPERF_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with CODEPERF_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"report differs from {path}"


def report(run_dir: Path, tmp_path: Path, baseline: Path | None = None):
    result = build_report(run_dir, baseline_dir=baseline, out_dir=tmp_path / "out",
                          targets_path=TARGETS, aa_noise_path=AA_NOISE)
    return result, result.markdown_path.read_text(encoding="utf-8")


def test_all_suites(tmp_path):
    result, text = report(DATA / "run_pass", tmp_path)
    check_golden("all_suites", text)
    assert result.verdict.status == "pass"
    assert {c.kind for cs in result.charts.values() for c in cs} == {
        "speedups", "scaling", "latency", "timelines", "sweep", "load_timelines"}
    assert "### Rate sweep: sweep/summary" in text and "| knee |" in text
    assert "![Rate sweep (sweep/summary)](charts/load_sweep.png)" in text
    assert "![Load over time](charts/load_load_timelines.png)" in text
    for chart in (c for cs in result.charts.values() for c in cs):
        assert (tmp_path / "out" / chart.file).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_suite(tmp_path):
    run = copy_run("run_pass", tmp_path / "run")
    (run / "mcp.json").unlink()
    result, text = report(run, tmp_path)
    check_golden("missing_suite", text)
    assert result.verdict.status == "incomplete"
    not_run = [r.name for r in result.rows if r.state == "not run"]
    assert not_run == ["MCP tool call average latency", "MCP tool calls handled"]


def test_malformed_files_are_named_and_the_rest_reported(tmp_path):
    run = copy_run("run_pass", tmp_path / "run")
    (run / "memory.json").write_text("{ not json", encoding="utf-8")
    mcp = json.loads((run / "mcp.json").read_text())
    mcp["schema_version"] = 99
    (run / "mcp.json").write_text(json.dumps(mcp))
    result, text = report(run, tmp_path)
    check_golden("malformed", text)
    assert result.verdict.status == "fail"
    assert result.problems == [
        "memory.json: not valid JSON: Expecting property name enclosed in double quotes at line 1",
        "mcp.json: schema_version 99 is not known to this codeperf (it reads version 1)"]
    assert result.run.suites["load"].state == "ok"
    assert str(tmp_path) not in text


def test_failing_targets_invalid_and_interrupted_suites(tmp_path):
    result, text = report(DATA / "run_fail", tmp_path)
    check_golden("failing", text)
    states = {s: d.state for s, d in result.run.suites.items()}
    assert states == {"bench_rust": "targets failed", "load": "invalid",
                      "memory": "interrupted", "mcp": "missing script"}
    failed = {r.name for r in result.rows if r.state == "fail"}
    assert "Rust speedup: compute_consensus (cosine)" in failed
    assert "Error rate under load" in failed
    assert result.verdict.status == "fail"


def test_baseline_regression_improvement_and_unchanged(tmp_path):
    result, text = report(DATA / "run_pass", tmp_path, baseline=DATA / "baseline")
    check_golden("baseline", text)
    comparison = result.comparison
    by_key = {(m.id, m.metric): m for m in comparison.metrics}
    # bench_rust's wall-clock figures are shown (speedups by the paired bootstrap) but
    # informational: the engine's gate is its instruction counts (none in these fixtures).
    assert by_key[("consensus_cosine/100x2KB", "speedup_x")].status == "regressed"
    assert by_key[("consensus_cosine/100x2KB", "speedup_x")].method == "paired bootstrap"
    assert by_key[("consensus_cosine/100x2KB", "speedup_x")].informational
    assert by_key[("analyze/100x2KB", "speedup_x")].status == "improved"
    # The baseline ran aggregate on a busier machine: both times moved, the speedup did not.
    assert by_key[("aggregate/100x2KB", "speedup_x")].status == "unchanged"
    assert by_key[("aggregate/rust/100x2KB", "median_s")].informational
    assert by_key[("aggregate/rust/100x2KB", "median_s")].status == "improved"
    assert by_key[("consensus_cosine/rust/100x2KB", "median_s")].informational
    assert comparison.regressions == []
    assert by_key[("sustained/open-60rps", "p99_ms")].status == "improved"
    assert by_key[("sustained/open-60rps", "p50_ms")].status == "unchanged"
    # p90 moved 23 %, inside its measured A/A floor (40 % spread x 1.5): unchanged.
    p90 = by_key[("sustained/open-60rps", "p90_ms")]
    assert p90.status == "unchanged" and "A/A spread 40 %" in p90.detail
    # 50 values beyond p90 are too few to compare a tail: not comparable, not "unchanged".
    assert by_key[("single-query/sequential", "p99_ms")].status == "not comparable"
    assert [d.field for d in comparison.drift] == ["rustc"]
    assert "Drift" in text


def test_html_is_self_contained(tmp_path):
    result, _ = report(DATA / "run_pass", tmp_path)
    html = result.html_path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<table>" in html and "<style>" in html
    assert html.count('src="data:image/png;base64,') == sum(len(c) for c in result.charts.values())
    assert 'src="charts/' not in html and "<link" not in html and "<script" not in html
    assert "<summary>Configuration</summary>\n<pre><code" in html  # Markdown inside <details>
    assert "&lt;frozen importlib._bootstrap&gt;:241" in html  # not swallowed as a tag


def test_summary_json(tmp_path):
    result, _ = report(DATA / "run_pass", tmp_path, baseline=DATA / "baseline")
    summary = json.loads(result.summary_path.read_text())
    assert summary["verdict"]["status"] == "pass"
    assert len(summary["targets"]) == 20
    assert set(summary["suites"]) == {"bench_rust", "load", "memory", "mcp"}
    assert summary["suites"]["load"]["results"][0]["id"] == "single-query/sequential"
    assert summary["comparison"]["significant_regressions"] == len(result.comparison.regressions)
    assert summary["comparison"]["metrics"]


@pytest.mark.parametrize("run", ["run_pass", "run_fail", "baseline"])
def test_fixture_envelopes_validate(run):
    from codeperf.harness.envelope import iter_envelopes, load

    paths = list(iter_envelopes(DATA / run))
    assert paths
    for path in paths:
        load(path)


# What each suite stores for a target whose part was not requested (the suites'
# own not-requested rules: load_suite.not_requested, memory.suite.not_run_targets,
# bench.driver._targets): state "not run" and the reason, in the envelope itself.
SUBSET_REASONS = {
    "load": lambda m: f"scenario {m.split('.', 1)[0]} not requested; ran sustained",
    "memory": lambda m: {"rust_reduction_pct.min": "needs component engine; ran leaks"}.get(
        m, "needs component concurrency or engine or experts or mcp; ran leaks"),
    "bench_rust": lambda m: ("memory pass not requested (--no-memory)"
                             if m.startswith("memory_") and m.endswith("consensus_cosine")
                             else f"benchmark {m.split('.', 1)[-1]} not requested; "
                                  "ran consensus_cosine"),
}


def subset_run(dest: Path, drop_metric: str | None = None) -> Path:
    """run_pass as if each suite had been run on a subset (`make load SCENARIO=sustained`...)."""
    run = copy_run("run_pass", dest)
    keep = {  # suite -> (config it was asked with, result ids kept, target metrics kept)
        "load": ({"scenarios": ["sustained"]}, ("sustained/",), ("sustained.",)),
        "memory": ({"components": ["leaks"]}, ("leak/", "timeline/"), ("leak.",)),
        "bench_rust": ({"benches": ["consensus_cosine"], "memory_pass": False},
                       ("consensus_cosine/",), ("speedup.consensus_cosine",)),
    }
    for suite, (config, results, targets) in keep.items():
        path = run / f"{suite}.json"
        envelope = json.loads(path.read_text())
        envelope["config"].update(config)
        envelope["results"] = [r for r in envelope["results"] if r["id"].startswith(results)]
        kept = []
        for t in envelope["targets"]:
            if t["metric"] == drop_metric:
                continue  # a requested target the suite failed to report
            if not t["metric"].startswith(targets):
                t = {**t, "measured": None, "passed": False, "state": "not run", "error_rate": None,
                     "note": SUBSET_REASONS[suite](t["metric"])}
            kept.append(t)
        envelope["targets"] = kept
        path.write_text(json.dumps(envelope))
    return run


def test_subset_run_shows_targets_not_asked_for_as_not_run(tmp_path):
    result, text = report(subset_run(tmp_path / "run"), tmp_path)
    check_golden("subset", text)
    assert result.verdict.status == "incomplete"
    states = {r.metric: (r.state, r.note) for r in result.rows}
    assert states["sustained.p95_ms"][0] == "pass"
    assert states["batch.queries_per_s"] == (
        "not run", "scenario batch not requested; ran sustained")
    assert states["rust_reduction_pct.min"] == (
        "not run", "needs component engine; ran leaks")
    assert states["peak_rss_mb"][0] == "not run"
    assert states["leak.max_bytes_per_100_ops"][0] == "pass"
    assert states["speedup.analyze"] == (
        "not run", "benchmark analyze not requested; ran consensus_cosine")
    assert states["memory_reduction_pct.consensus_cosine"] == (
        "not run", "memory pass not requested (--no-memory)")
    assert not [r for r in result.rows if r.state == "fail"]


def test_subset_run_still_fails_a_requested_target_the_suite_did_not_report(tmp_path):
    result, _ = report(subset_run(tmp_path / "run", drop_metric="sustained.p95_ms"), tmp_path)
    failed = [(r.metric, r.note) for r in result.rows if r.state == "fail"]
    assert failed == [("sustained.p95_ms", "not reported by the suite (or added to targets.toml since the run)")]
    assert result.verdict.status == "fail"
