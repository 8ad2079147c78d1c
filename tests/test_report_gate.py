"""The regression gate: instruction counts for the engine, measured noise floors,
like with like, error counts as rates, declared directions, unusable baselines."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeperf.harness import metrics as registry
from codeperf.harness.envelope import Envelope, write_json_atomic
from codeperf.report import build_report, instructions
from codeperf.report.compare import (IMPROVED, NOT_COMPARABLE, REGRESSED, UNCHANGED,
                                     compare_entries)
from codeperf.report.noise import NoiseFloors, measure, merge, safety

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "report"
TARGETS = DATA / "targets.toml"
OPS = ("analyze", "consensus_cosine", "consensus_jaccard", "aggregate")


def counts_entry(op: str, backend: str, instructions_count: int) -> dict:
    # The exact shape bench_rust writes (issue 15, item 5).
    return {"id": f"instructions/{op}/{backend}/100x2KB", "kind": "instructions", "op": op,
            "backend": backend, "scale": 100, "size_bytes": 2048,
            "instructions": instructions_count, "tool": "valgrind-callgrind 3.19.0"}


def bench_run(directory: Path, counts: dict[str, int], quick: bool = True) -> Path:
    directory.mkdir(parents=True)
    env = Envelope(suite="bench_rust", run_id=directory.name, started_at="2026-12-01T10:00:00+00:00",
                   finished_at="2026-12-01T10:02:00+00:00", complete=True,
                   environment={"cpu_model": "Test CPU"}, config={"quick": quick})
    for key, value in counts.items():
        op, backend = key.split("/")
        env.results.append(counts_entry(op, backend, value))
    write_json_atomic(directory / "bench_rust.json", env.to_dict())
    return directory


BASE_COUNTS = {f"{op}/{b}": (40_000_000 if b == "python" else 2_000_000) + i * 1000
               for i, op in enumerate(OPS) for b in ("python", "rust")}


@pytest.fixture
def aggregate():
    spec = importlib.util.spec_from_file_location("aggregate_report",
                                                  ROOT / "scripts" / "aggregate_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def gate(aggregate, tmp_path: Path, run: Path, baseline: Path, monkeypatch):
    monkeypatch.setenv("CODEPERF_TARGETS", str(TARGETS))
    return CliRunner().invoke(aggregate, ["--out", str(run), "--baseline", str(baseline),
                                          "--report-dir", str(tmp_path / "cli"), "--no-charts",
                                          "--fail-on-regression"])


def compare(tmp_path: Path, run: Path, baseline: Path):
    return build_report(run, baseline_dir=baseline, out_dir=tmp_path / "out",
                        targets_path=TARGETS, charts=False).comparison


# -- instruction counts ------------------------------------------------------------------

def test_unchanged_counts_pass_the_gate(tmp_path, aggregate, monkeypatch):
    base = bench_run(tmp_path / "base", BASE_COUNTS)
    # A/A: callgrind counts of the same build move by a few hundred instructions.
    run = bench_run(tmp_path / "run", {k: v + 300 for k, v in BASE_COUNTS.items()})
    comparison = compare(tmp_path, run, base)
    counts = [m for m in comparison.metrics if m.metric == "instructions"]
    assert len(counts) == 8 and all(m.status == UNCHANGED for m in counts)
    assert not any(m.informational for m in counts)
    result = gate(aggregate, tmp_path, run, base, monkeypatch)
    assert result.exit_code == 0, result.output


def test_a_ten_percent_slower_operation_fails_the_gate(tmp_path, aggregate, monkeypatch):
    base = bench_run(tmp_path / "base", BASE_COUNTS)
    slower = dict(BASE_COUNTS)
    slower["consensus_jaccard/rust"] = int(slower["consensus_jaccard/rust"] * 1.10)
    run = bench_run(tmp_path / "run", slower)
    comparison = compare(tmp_path, run, base)
    assert [(m.id, m.status) for m in comparison.regressions] == [
        ("instructions/consensus_jaccard/rust/100x2KB", REGRESSED)]
    assert comparison.regressions[0].detail.startswith("+10.00 %")
    result = gate(aggregate, tmp_path, run, base, monkeypatch)
    assert result.exit_code == 1
    assert "instructions/consensus_jaccard/rust/100x2KB" in result.output


def test_a_run_without_instruction_counts_cannot_pass_the_engine_gate(tmp_path, aggregate,
                                                                     monkeypatch):
    # valgrind missing in the pull request's run: the gate has nothing to judge the engine on.
    base = bench_run(tmp_path / "base", BASE_COUNTS)
    run = bench_run(tmp_path / "run", {})
    path = run / "bench_rust.json"
    data = json.loads(path.read_text())
    data["results"].append({"id": "instructions/not-run", "kind": "not_run",
                            "part": "instructions", "reason": "valgrind is not installed"})
    path.write_text(json.dumps(data))
    result = gate(aggregate, tmp_path, run, base, monkeypatch)
    assert result.exit_code == 2, result.output
    assert ("cannot compare bench_rust instruction counts (not run in this run: valgrind is "
            "not installed)") in result.output
    report = build_report(run, out_dir=tmp_path / "v", targets_path=TARGETS, charts=False)
    assert any("bench_rust instructions/not-run (valgrind is not installed)" in r
               for r in report.verdict.reasons)  # and the verdict names the part not run


def test_the_threshold_is_one_setting(tmp_path):
    base = bench_run(tmp_path / "base", {"analyze/rust": 1_000_000})
    run = bench_run(tmp_path / "run", {"analyze/rust": 1_015_000})  # +1.5 %
    (m,) = instructions.compare_instructions("bench_rust", json.loads(
        (base / "bench_rust.json").read_text())["results"], json.loads(
        (run / "bench_rust.json").read_text())["results"], threshold_pct=1.0)
    assert m.status == REGRESSED
    assert instructions.THRESHOLD_PCT == 2.0


def test_fewer_instructions_is_an_improvement_and_missing_is_not_comparable(tmp_path):
    base = bench_run(tmp_path / "base", {"analyze/rust": 2_000_000, "aggregate/rust": 1_000_000})
    run = bench_run(tmp_path / "run", {"analyze/rust": 1_500_000, "consensus_cosine/rust": 9})
    by_id = {m.id: m for m in compare(tmp_path, run, base).metrics if m.metric == "instructions"}
    assert by_id["instructions/analyze/rust/100x2KB"].status == IMPROVED
    assert by_id["instructions/aggregate/rust/100x2KB"].status == NOT_COMPARABLE
    assert by_id["instructions/consensus_cosine/rust/100x2KB"].status == NOT_COMPARABLE


def test_wall_clock_bench_figures_never_gate(tmp_path):
    """bench_rust speedups and times are shown, informational; the gate is the counts."""
    from test_report_compare_speedup import write_run

    (base := tmp_path / "base").mkdir()
    (cur := tmp_path / "cur").mkdir()
    write_run(base, seed=1)
    write_run(cur, seed=2, rust_slowdown=1.5)
    comparison = compare(tmp_path, cur, base)
    speedup = next(m for m in comparison.metrics if m.metric == "speedup_x")
    assert speedup.status == REGRESSED and speedup.informational
    assert comparison.regressions == []


# -- like with like, noise floors, error rates, tails ---------------------------------------

def test_a_quick_run_is_not_compared_with_a_full_baseline(tmp_path):
    base = shutil.copytree(DATA / "run_pass", tmp_path / "base")  # full mode
    run = shutil.copytree(DATA / "run_pass", tmp_path / "run")
    for path in run.glob("*.json"):
        data = json.loads(path.read_text())
        data["config"]["quick"] = True
        path.write_text(json.dumps(data))
    comparison = compare(tmp_path, run, base)
    assert {m.status for m in comparison.metrics} == {NOT_COMPARABLE}
    assert all("quick run against a full baseline" in m.detail for m in comparison.metrics)
    assert comparison.regressions == []


def test_the_noise_floor_comes_from_a_a_data(tmp_path):
    runs = [{"load": {"config": {"quick": True},
                      "results": [{"id": "sustained/x", "summary": {"throughput_rps": v}}]}}
            for v in (100.0, 104.0)]
    data = measure(runs)
    assert data["spreads"]["quick"]["load"]["sustained/x"]["throughput_rps"] == 4.0
    path = tmp_path / "aa.json"
    path.write_text(json.dumps(data))
    floors = NoiseFloors.load(path)
    # The range of 2 runs underestimates the spread: 3 * sqrt(2) / d2(2) = 3.76 times it.
    assert floors.floor("quick", "load", "sustained/x", "throughput_rps", 10.0)[0] == \
        pytest.approx(4.0 * 3.0 * 2 ** 0.5 / 1.128)
    assert safety(3) < safety(2) and safety(10) == pytest.approx(1.378, abs=1e-3)
    # Two A/A runs are too few to fail a build on: shown, informational.
    assert not floors.gates("quick", "load", "sustained/x", "throughput_rps")
    data["runs"] = 5
    path.write_text(json.dumps(data))
    assert NoiseFloors.load(path).gates("quick", "load", "sustained/x", "throughput_rps")
    assert not NoiseFloors.load(path).gates("quick", "load", "sustained/x", "p99_ms")
    pct, why = floors.floor("full", "load", "sustained/x", "throughput_rps", 10.0)
    assert pct == 10.0 and "no A/A data" in why
    assert merge(data, measure([{"load": {"config": {"quick": True}, "results": [
        {"id": "sustained/x", "summary": {"throughput_rps": v}}]}} for v in (100.0, 101.0)])
    )["spreads"]["quick"]["load"]["sustained/x"]["throughput_rps"] == 4.0


def _load_run(directory: Path, rps: float, p: float = 10.0) -> Path:
    directory.mkdir()
    env = Envelope(suite="load", run_id=directory.name, started_at="2026-12-01T10:00:00+00:00",
                   finished_at="2026-12-01T10:01:00+00:00", complete=True, config={"quick": True},
                   results=[{"id": "sustained/x", "kind": "scenario",
                             "summary": {"throughput_rps": rps}}])
    write_json_atomic(directory / "load.json", env.to_dict())
    return directory


def test_wall_clock_gates_only_with_floors_from_enough_a_a_runs(tmp_path):
    base = _load_run(tmp_path / "base", 100.0)
    run = _load_run(tmp_path / "run", 50.0)  # half the throughput
    floors = tmp_path / "aa.json"
    for runs, gated in ((2, False), (5, True)):
        floors.write_text(json.dumps({"aa_version": 1, "runs": runs, "runs_per_set": runs,
                                      "spreads": {"quick": {"load": {"sustained/x": {
                                          "throughput_rps": 3.0}}}}}))
        comparison = build_report(run, baseline_dir=base, out_dir=tmp_path / f"o{runs}",
                                  targets_path=TARGETS, charts=False,
                                  aa_noise_path=floors).comparison
        (m,) = comparison.metrics
        assert m.status == REGRESSED
        assert (comparison.regressions == [m]) is gated, runs


def test_a_change_inside_the_measured_floor_is_unchanged():
    def floor(entry_id, metric):
        return 25.0, "floor 25 % (A/A)"
    base = {"id": "s/x", "summary": {"throughput_rps": 100.0}}
    cur = {"id": "s/x", "summary": {"throughput_rps": 80.0}}
    (m,), _, _ = compare_entries("load", base, cur, floor)
    assert m.status == UNCHANGED and "A/A" in m.detail
    (m,), _, _ = compare_entries("load", base, cur, 10.0)
    assert m.status == REGRESSED


def test_error_counts_are_compared_as_rates():
    base = {"id": "s/x", "summary": {"errors_count": 10, "requests_count": 1000}}
    same_rate = {"id": "s/x", "summary": {"errors_count": 20, "requests_count": 2000}}
    worse = {"id": "s/x", "summary": {"errors_count": 10, "requests_count": 100}}
    (m,), _, _ = compare_entries("load", base, same_rate, 10.0)
    assert m.status == UNCHANGED and m.method == "error rate"
    (m,), _, _ = compare_entries("load", base, worse, 10.0)
    assert m.status == REGRESSED
    new_errors = {"id": "s/x", "summary": {"errors_count": 3, "calls_count": 100}}
    (m,), _, _ = compare_entries("mcp", {"id": "s/x", "summary": {"errors_count": 0,
                                                                  "calls_count": 100}},
                                 new_errors, 10.0)
    assert m.status == REGRESSED  # errors appearing are a regression


def test_overheads_named_x_are_lower_is_better():
    base = {"id": "floor", "summary": {"sdk_overhead_x": 2.0, "spike_vs_baseline_p50_x": 1.5}}
    cur = {"id": "floor", "summary": {"sdk_overhead_x": 3.0, "spike_vs_baseline_p50_x": 1.0}}
    metrics, _, _ = compare_entries("mcp", base, cur, 10.0)
    status = {m.metric: m.status for m in metrics}
    assert status == {"sdk_overhead_x": REGRESSED, "spike_vs_baseline_p50_x": IMPROVED}


# -- unusable baselines ----------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda d: None,  # empty directory
    lambda d: (d / "load.json").write_text("{not json"),
    lambda d: (d / "mcp.json").write_text(json.dumps({"schema_version": 99})),
])
def test_an_unusable_baseline_with_fail_on_regression_is_exit_2(tmp_path, aggregate,
                                                                monkeypatch, make):
    base = tmp_path / "base"
    base.mkdir()
    make(base)
    result = gate(aggregate, tmp_path, DATA / "run_pass", base, monkeypatch)
    assert result.exit_code == 2
    assert "nothing to compare with" in result.output


@pytest.mark.parametrize("make", [
    lambda d: (d / "mcp.json").unlink(),  # the baseline never ran mcp (or died unrecorded)
    lambda d: (d / "mcp.json").write_text("{not json"),
])
def test_a_suite_the_baseline_cannot_compare_is_exit_2_not_a_pass(tmp_path, aggregate,
                                                                  monkeypatch, make):
    # The other three suites are comparable: without this, mcp would pass the gate unseen.
    base = shutil.copytree(DATA / "run_pass", tmp_path / "base")
    make(base)
    result = gate(aggregate, tmp_path, DATA / "run_pass", base, monkeypatch)
    assert result.exit_code == 2, result.output
    assert "cannot compare mcp (" in result.output
    assert (tmp_path / "cli" / "report.md").exists()  # the report is written all the same
    summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert [s.split(" ")[0] for s in summary["comparison"]["uncompared_suites"]] == ["mcp"]


def test_a_baseline_with_every_suite_of_the_run_passes_the_gate(tmp_path, aggregate, monkeypatch):
    base = shutil.copytree(DATA / "run_pass", tmp_path / "base")
    result = gate(aggregate, tmp_path, DATA / "run_pass", base, monkeypatch)
    assert result.exit_code == 0, result.output


def test_an_unusable_baseline_without_the_gate_still_writes_the_report(tmp_path, aggregate,
                                                                       monkeypatch):
    (base := tmp_path / "base").mkdir()
    monkeypatch.setenv("CODEPERF_TARGETS", str(TARGETS))
    result = CliRunner().invoke(aggregate, ["--out", str(DATA / "run_pass"), "--baseline",
                                            str(base), "--report-dir", str(tmp_path / "o"),
                                            "--no-charts"])
    assert result.exit_code == 0
    assert "report written without a comparison" in result.output
    assert (tmp_path / "o" / "report.md").exists()


def test_perf_with_an_unusable_baseline_and_the_gate_stops_before_running(tmp_path):
    from codeperf.perf_run import run_perf

    (base := tmp_path / "base").mkdir()
    result = run_perf(tmp_path / "reports", tmp_path / "scripts", baseline=base,
                      fail_on_regression=True, charts=False)
    assert result.exit_code == 2 and result.outcomes == []


# -- every produced metric declares its direction -----------------------------------------

# Summary keys are written as string literals where they are produced.
_KEY = re.compile(r'"([a-z][a-z0-9_]*_(?:ms|s|us|ns|rps|qps|per_s|bytes|mb|pct|x|count|ratio|per_100_ops))"')


def produced_keys() -> set[str]:
    keys = set()
    for path in (ROOT / "python" / "codeperf").rglob("*.py"):
        keys |= set(_KEY.findall(path.read_text(encoding="utf-8")))
    for path in DATA.glob("*/*.json"):
        data = json.loads(path.read_text())
        for entry in data.get("results", []) if isinstance(data, dict) else []:
            if isinstance(entry, dict):
                keys |= {k for k, v in (entry.get("summary") or {}).items()
                         if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return keys


def test_every_produced_metric_has_a_declared_direction():
    undeclared = sorted(k for k in produced_keys() if registry.direction(k) is None)
    assert undeclared == [], ("declare these in codeperf/harness/metrics.py: "
                              + ", ".join(undeclared))


def test_the_check_sees_an_undeclared_metric():
    assert registry.direction("made_up_pct") is None
    assert registry.direction("made_up_x") is None


@pytest.mark.parametrize("key, sense", [
    ("p99_ms", registry.LOWER), ("throughput_rps", registry.HIGHER),
    ("errors_count", registry.ERRORS), ("failed_count", registry.ERRORS),
    ("requests_count", registry.NEUTRAL), ("offered_rps", registry.NEUTRAL),
    ("sdk_overhead_x", registry.LOWER), ("speedup_x", registry.HIGHER),
    ("memory_reduction_pct", registry.HIGHER), ("error_rate_pct", registry.LOWER),
    ("instructions", registry.LOWER), ("errors_from_limit_count", registry.NEUTRAL),
    ("mcp_errors_count", registry.ERRORS),
])
def test_directions(key, sense):
    assert registry.direction(key) == sense


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_aa_noise_script_writes_and_merges_floors(tmp_path):
    runs = []
    for i, rps in enumerate((100.0, 110.0)):
        run = tmp_path / f"run{i}"
        run.mkdir()
        env = Envelope(suite="load", run_id=f"r{i}", started_at="2026-12-01T10:00:00+00:00",
                       finished_at="2026-12-01T10:01:00+00:00", complete=True,
                       config={"quick": True},
                       results=[{"id": "sustained/x", "kind": "scenario",
                                 "summary": {"throughput_rps": rps}}])
        write_json_atomic(run / "load.json", env.to_dict())
        runs.append(str(run))
    out = tmp_path / "aa.json"
    main = _script("aa_noise")
    result = CliRunner().invoke(main, [*runs, "--floors", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["spreads"]["quick"]["load"]["sustained/x"]["throughput_rps"] == 10.0
    assert data["runs"] == 2
    again = CliRunner().invoke(main, [*runs, "--floors", str(out)])
    assert again.exit_code == 0 and json.loads(out.read_text())["runs"] == 4
    assert CliRunner().invoke(main, [runs[0], "--floors", str(out)]).exit_code == 2
    (empty := tmp_path / "empty").mkdir()
    assert CliRunner().invoke(main, [runs[0], str(empty), "--floors", str(out)]).exit_code == 2
    old = CliRunner().invoke(main, [*runs, "--out", str(out)])  # its old name, for one release
    assert old.exit_code == 0 and "warning: --out is deprecated" in old.stderr
    assert json.loads(out.read_text())["runs"] == 6
