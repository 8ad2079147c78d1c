"""scripts/bench_rust.py end to end on tiny pyperf settings: files, envelope, the
correctness gate, the missing-build error and the baseline comparison.

Behaviour only: no assertion here depends on how fast anything ran.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pyperf
import pytest
from click.testing import CliRunner

from codeperf.bench_rust import cases
from codeperf.engine import backends
from codeperf.harness import envelope, exitcodes

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_rust_script", ROOT / "scripts" / "bench_rust.py")
bench_rust = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_rust)

needs_rust = pytest.mark.needs_rust  # skipped without a build, failed under CI=true (conftest)

# pyperf as small as it goes: 2 processes (the bootstrap resamples processes), 2 values,
# no warmup, no calibration process; the reference family only and no cost curve (the
# full mode's defaults), unless a test adds more.
TINY = ["--processes", "2", "--values", "2", "--warmups", "0", "--loops", "1",
        "--min-time", "0.001", "--no-instructions", "--corpus", "own", "--cost-curve", "none"]


@pytest.fixture()
def no_targets(tmp_path, monkeypatch):
    """A targets file without bench_rust entries: the tests' own targets stay out of the
    way (tiny sizes leave the real ones "not run": test_suite_contract.py)."""
    path = tmp_path / "targets.toml"
    path.write_text('[[target]]\nsuite = "load"\nname = "x"\nmetric = "x"\nop = "<"\n'
                    'threshold = 1\nunit = "ms"\n')
    monkeypatch.setenv("CODEPERF_TARGETS", str(path))


def invoke(*args: str):
    return CliRunner().invoke(bench_rust.main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny run shared by the tests that only read its output."""
    out = tmp_path_factory.mktemp("bench")
    targets = out / "targets.toml"
    targets.write_text("")
    mp = pytest.MonkeyPatch()
    mp.setenv("CODEPERF_TARGETS", str(targets))
    try:
        result = invoke("--bench", "analyze,consensus_jaccard", "--bench", "ffi",
                        "--sizes", "4x256B,8x256B", "--out", str(out), *TINY)
    finally:
        mp.undo()
    return SimpleNamespace(result=result, out=out,
                           data=envelope.load(out / "bench_rust.json") if result.exit_code in (0, 1) else None)


def _entries(data, kind):
    return [e for e in data["results"] if e["kind"] == kind]


@needs_rust
def test_tiny_run_succeeds_and_writes_a_valid_envelope(tiny_run):
    assert tiny_run.result.exit_code == exitcodes.OK, tiny_run.result.stderr
    data = tiny_run.data
    assert data["suite"] == "bench_rust" and data["complete"] is True
    assert data["errors"] == []
    assert all(v["ok"] for v in data["validity"])
    assert data["config"]["benches"] == ["analyze", "consensus_jaccard", "ffi_noop"]
    assert data["environment"]["rust_extension"]["available"] is True


@needs_rust
def test_every_case_is_gated_timed_and_labelled(tiny_run):
    cases_ = _entries(tiny_run.data, "bench_case")
    ids = {e["id"] for e in cases_}
    assert ids == {f"{op}/{b}/{s}" for op in ("analyze", "consensus_jaccard")
                   for b in ("python", "rust") for s in ("4x256B", "8x256B")} | {
        "ffi_noop/python/call", "ffi_noop/rust/call"}
    for entry in cases_:
        assert entry["correct"] is True and entry["timed"] is True
        assert entry["backend"] == entry["id"].split("/")[1]
        assert len(entry["samples"]) == 4  # 2 processes x 2 values
        assert [len(run) for run in entry["samples_by_process"]] == [2, 2]
        assert entry["summary"]["median_ms"] > 0
        assert entry["background_cpu_pct"] is None or entry["background_cpu_pct"] >= 0
        if entry["backend"] == "rust":
            assert entry["rust_threads"] >= 1  # reported by the pyperf worker itself
    checks = {v["check"] for v in tiny_run.data["validity"]}
    assert "correctness:consensus_jaccard/8x256B" in checks
    assert "timed input is the gated input" in checks


@needs_rust
def test_speedups_memory_and_scaling_are_reported(tiny_run):
    speedups = {e["id"]: e for e in _entries(tiny_run.data, "speedup")}
    assert set(speedups) == {"analyze/4x256B", "analyze/8x256B", "consensus_jaccard/4x256B",
                             "consensus_jaccard/8x256B", "ffi_noop/call"}
    for entry in speedups.values():
        s = entry["summary"]
        assert s["speedup_ci_low_x"] <= s["speedup_x"] <= s["speedup_ci_high_x"]
        assert isinstance(entry["significant"], bool)
    memory = _entries(tiny_run.data, "memory")
    assert len(memory) == 4  # not for the FFI baseline
    for entry in memory:
        assert entry["summary"]["python_peak_bytes"] > 0
        assert entry["summary"]["rust_heap_peak_bytes"] > 0  # the counting allocator saw work
        assert entry["summary"]["memory_reduction_pct"] is not None
    scaling = {e["id"]: e for e in _entries(tiny_run.data, "scaling")}
    assert set(scaling) == {"analyze/scaling/responses-at-256B",
                            "consensus_jaccard/scaling/responses-at-256B"}
    for entry in scaling.values():
        assert entry["x"] == [4, 8]
        assert "verdict" in entry["crossover"]


@needs_rust
def test_pyperf_files_are_pyperf_readable(tiny_run):
    files = sorted((tiny_run.out / "pyperf").glob("*.json"))
    assert len(files) == 10
    for path in files:
        bench = pyperf.Benchmark.load(str(path))
        assert bench.get_nvalue() == 4
        assert bench.get_metadata()["codeperf_input_sha256"]
    # Python and Rust files share the benchmark name, so compare_to pairs them.
    py, rs = (tiny_run.out / "pyperf" / f"analyze__{b}__8x256B.json" for b in ("python", "rust"))
    out = subprocess.run([sys.executable, "-m", "pyperf", "compare_to", str(py), str(rs)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "analyze" in out.stdout


@needs_rust
def test_table_goes_to_stderr_and_nothing_to_stdout(tiny_run):
    assert tiny_run.result.stdout == ""
    assert "speedup" in tiny_run.result.stderr
    assert "consensus_jaccard/8x256B" in tiny_run.result.stderr


@needs_rust
def test_forced_mismatch_fails_the_gate_and_skips_timing(tmp_path, monkeypatch, no_targets):
    real = cases.operation

    def tampered(op, backend_name):
        fn = real(op, backend_name)
        if op == "consensus_jaccard" and backend_name == "rust":
            return lambda data: {**fn(data), "agreement": -1.0}
        return fn

    monkeypatch.setattr(cases, "operation", tampered)
    result = invoke("--bench", "consensus_jaccard,analyze", "--sizes", "4x256B",
                    "--out", str(tmp_path), *TINY)
    assert result.exit_code == exitcodes.FAILED
    assert "correctness gate FAILED" in result.stderr
    data = envelope.load(tmp_path / "bench_rust.json")
    by_id = {e["id"]: e for e in data["results"]}
    assert by_id["consensus_jaccard/rust/4x256B"]["correct"] is False
    assert by_id["consensus_jaccard/rust/4x256B"]["timed"] is False
    assert by_id["consensus_jaccard/4x256B"]["verdict"].startswith("not timed")
    assert by_id["analyze/rust/4x256B"]["timed"] is True  # the other case still ran
    failed = [v for v in data["validity"] if not v["ok"]]
    assert [v["check"] for v in failed] == ["correctness:consensus_jaccard/4x256B"]
    names = {p.name for p in (tmp_path / "pyperf").glob("*.json")}
    assert not any(n.startswith("consensus_jaccard") for n in names)


@needs_rust
def test_timed_input_that_is_not_the_gated_input_fails_the_run(tmp_path, monkeypatch, no_targets):
    # The gate (this process) now fingerprints a different input than the pyperf
    # workers (subprocesses, unpatched) timed: the check must catch it.
    monkeypatch.setattr(cases, "input_fingerprint", lambda data: "0" * 64)
    result = invoke("--bench", "analyze", "--sizes", "4x256B", "--no-memory",
                    "--out", str(tmp_path), *TINY)
    assert result.exit_code == exitcodes.FAILED, result.stderr
    data = envelope.load(tmp_path / "bench_rust.json")
    check = next(v for v in data["validity"] if v["check"] == "timed input is the gated input")
    assert check["ok"] is False
    assert sorted(check["detail"]["mismatched_cases"]) == ["analyze/python/4x256B",
                                                           "analyze/rust/4x256B"]
    gated = {e["input_sha256"] for e in _entries(data, "bench_case")}
    assert gated == {"0" * 64}


def test_missing_rust_build_is_a_setup_error(tmp_path, monkeypatch):
    monkeypatch.setattr(backends, "rust_status",
                        lambda: backends.RustStatus(False, "codeperf._rust is not built (test)"))
    result = invoke("--quick", "--out", str(tmp_path))
    assert result.exit_code == exitcodes.USAGE
    assert "cannot benchmark Rust against Python" in result.stderr
    assert "not built" in result.stderr
    assert not (tmp_path / "bench_rust.json").exists()  # no Python numbers labelled Rust


def test_rust_build_without_the_bench_api_is_a_setup_error(tmp_path, monkeypatch):
    partial = SimpleNamespace(analyze_responses=None, compute_consensus=None,
                              aggregate_responses=None)
    monkeypatch.setattr(backends, "rust_status", lambda: backends.RustStatus(True, "ok", partial))
    result = invoke("--quick", "--out", str(tmp_path))
    assert result.exit_code == exitcodes.USAGE
    assert "allocation_stats" in result.stderr and "noop" in result.stderr


def test_bad_arguments_are_usage_errors(tmp_path):
    assert invoke("--bench", "nope", "--out", str(tmp_path)).exit_code == exitcodes.USAGE
    assert invoke("--sizes", "100", "--out", str(tmp_path)).exit_code == exitcodes.USAGE
    bad_family = invoke("--corpus", "poetry", "--out", str(tmp_path))
    assert bad_family.exit_code == exitcodes.USAGE and "unknown corpus family 'poetry'" in bad_family.output
    bad_curve = invoke("--cost-curve", "ten", "--out", str(tmp_path))
    assert bad_curve.exit_code == exitcodes.USAGE and "--cost-curve" in bad_curve.output
    help_text = invoke("--help").output
    assert "--bench" in help_text and "Exit codes" in help_text and "100x2KB" in help_text


@needs_rust
def test_sizes_without_the_reference_leave_its_targets_not_run(tmp_path):
    """Every target is judged at 100x2KB: a run of other sizes deselected them (not run, exit 0),
    it did not fail them; the reason names what ran."""
    result = invoke("--bench", "ffi,analyze", "--sizes", "4x256B", "--no-memory",
                    "--out", str(tmp_path), *TINY)
    assert result.exit_code == exitcodes.OK, result.output
    data = envelope.load(tmp_path / "bench_rust.json")
    assert data["targets"] and all(t["state"] == "not run" for t in data["targets"])
    not_run = {t["metric"]: t["note"] for t in data["targets"]}
    assert not_run["speedup.analyze"] == "reference size 100x2KB not requested; ran 4x256B"
    assert not_run["throughput_mb_s.analyze"].startswith("reference size 100x2KB not requested")
    assert not_run["speedup.aggregate"].startswith("benchmark aggregate not requested")


@needs_rust
def test_baseline_comparison_reports_each_case(tiny_run, tmp_path, no_targets):
    result = invoke("--bench", "ffi", "--out", str(tmp_path), "--baseline",
                    str(tiny_run.out / "bench_rust.json"), *TINY)
    assert result.exit_code == exitcodes.OK, result.stderr
    data = envelope.load(tmp_path / "bench_rust.json")
    comparison = _entries(data, "baseline_comparison")[0]
    assert comparison["summary"]["compared_count"] == 1  # one speedup: ffi_noop/call
    assert comparison["summary"]["time_compared_count"] == 2  # its two backend cases
    assert comparison["baseline_run_id"] == tiny_run.data["run_id"]
    # Both runs loaded the very same extension file in this session.
    assert comparison["same_rust_build"] is True
    # Which way the timings moved is the machine's business; the status must follow
    # from the recorded interval and noise floor, whatever they are.
    for entry in _entries(data, "bench_case"):
        change = entry["baseline"]
        assert change["status"] == _expected_status(change, "slower", "faster"), change
    speedup = _entries(data, "speedup")[0]
    assert speedup["baseline"]["status"] == _expected_status(speedup["baseline"], "rust gained",
                                                             "rust lost"), speedup["baseline"]
    assert speedup["baseline"]["ci_low_x"] <= speedup["baseline"]["ratio_x"] <= speedup["baseline"]["ci_high_x"]
    assert "others_then_pct" in speedup["baseline"] and "others_now_pct" in speedup["baseline"]
    assert "vs baseline" in result.stderr


def _expected_status(change, up, down):
    """The status a baseline change must carry, derived from its own numbers."""
    excludes_one = change["ci_low_x"] > 1.0 or change["ci_high_x"] < 1.0
    assert change["ci_excludes_one"] == excludes_one
    significant = excludes_one and abs(change["ratio_x"] - 1.0) * 100 >= change["noise_pct"]
    assert change["changed"] == significant
    if not significant:
        return "unchanged"
    return up if change["ratio_x"] > 1.0 else down


def test_baseline_must_be_a_bench_rust_envelope(tmp_path):
    other = tmp_path / "load.json"
    other.write_text(json.dumps({"schema_version": 99}))
    result = invoke("--bench", "ffi", "--out", str(tmp_path / "o"), "--baseline", str(other))
    assert result.exit_code == exitcodes.USAGE
    assert "schema_version" in result.stderr


@needs_rust
def test_rust_threads_reach_the_pyperf_workers(tmp_path, monkeypatch, no_targets):
    monkeypatch.setenv("RAYON_NUM_THREADS", "")  # restored after the test; the driver sets it
    result = invoke("--bench", "ffi", "--rust-threads", "1", "--out", str(tmp_path), *TINY)
    assert result.exit_code == exitcodes.OK, result.stderr
    data = envelope.load(tmp_path / "bench_rust.json")
    rust = next(e for e in _entries(data, "bench_case") if e["backend"] == "rust")
    assert rust["rust_threads"] == 1
    assert data["config"]["rust_threads"] == 1


@needs_rust
def test_families_get_their_own_rows_scaling_and_targets(tmp_path, monkeypatch):
    """Two families at the reference shape and one smaller size: per-family speedups and
    scaling lines, and each target judged on the least family's CI lower bound."""
    path = tmp_path / "targets.toml"
    path.write_text('[[target]]\nsuite = "bench_rust"\nname = "s"\nmetric = "speedup.analyze"\n'
                    'op = ">="\nthreshold = 0.001\nunit = "x"\n'
                    '[[target]]\nsuite = "bench_rust"\nname = "t"\nmetric = "throughput_mb_s.analyze"\n'
                    'op = ">="\nthreshold = 0.001\nunit = "MB/s"\n')
    monkeypatch.setenv("CODEPERF_TARGETS", str(path))
    out = tmp_path / "run"
    result = invoke("--bench", "analyze", "--sizes", "10x2KB,100x2KB", "--corpus", "code",
                    "--no-memory", "--out", str(out), *TINY)
    assert result.exit_code == exitcodes.OK, result.output
    data = envelope.load(out / "bench_rust.json")
    assert data["config"]["corpus"] == ["own", "code"]
    speedups = {e["id"]: e for e in _entries(data, "speedup")}
    assert set(speedups) == {"analyze/10x2KB", "analyze/100x2KB", "analyze/10x2KB@code",
                             "analyze/100x2KB@code"}
    assert speedups["analyze/100x2KB@code"]["size"]["family"] == "code"
    assert speedups["analyze/100x2KB@code"]["reference"] is True
    scaling = {e["id"]: e for e in _entries(data, "scaling")}
    assert set(scaling) == {"analyze/scaling/responses-at-2KB", "analyze/scaling/responses-at-2KB@code"}
    assert scaling["analyze/scaling/responses-at-2KB@code"]["family"] == "code"
    target = {t["metric"]: t for t in data["targets"]}["speedup.analyze"]
    lows = {f: speedups[f"analyze/100x2KB{s}"]["summary"]["speedup_ci_low_x"]
            for f, s in (("own", ""), ("code", "@code"))}
    assert target["measured"] == pytest.approx(min(lows.values()))
    assert "least family" in target["note"] and "own:" in target["note"] and "code:" in target["note"]
    assert "100x2KB@code" in result.stderr


@needs_rust
def test_cost_curve_reports_both_backends_where_both_run(tmp_path, no_targets):
    result = invoke("--bench", "consensus_cosine", "--sizes", "4x256B", "--out", str(tmp_path),
                    *TINY, "--cost-curve", "3,5")
    assert result.exit_code == exitcodes.OK, result.output
    data = envelope.load(tmp_path / "bench_rust.json")
    curve = _entries(data, "cost_curve")
    assert [e["responses"] for e in curve] == [3, 5]
    for e in curve:
        s = e["summary"]
        assert e["correct"] is True and s["python_s"] > 0 and s["rust_s"] > 0
        assert s["python_peak_bytes"] > 0 and s["rust_heap_peak_bytes"] > 0
        assert s["memory_reduction_pct"] is not None
    assert "cost curve" in result.stderr and "consensus_cosine/cost/5x2KB" in result.stderr


@needs_rust
def test_cost_curve_runs_the_memory_family_where_the_twin_runs(tmp_path, no_targets, monkeypatch):
    """With `code` chosen, the twin's points run on it too (`@code` entries, both backends
    compared and traced); counts above the twin's limit (3 here) stay on the reference
    family."""
    from codeperf.bench_rust import cost_curve

    monkeypatch.setattr(cost_curve, "PYTHON_MAX_RESPONSES", 3)
    out = tmp_path / "run"
    result = invoke("--bench", "consensus_cosine", "--sizes", "4x256B", "--out", str(out),
                    *TINY, "--corpus", "code", "--cost-curve", "3,5")
    assert result.exit_code == exitcodes.OK, result.output
    data = envelope.load(out / "bench_rust.json")
    curve = {e["id"]: e for e in _entries(data, "cost_curve")}
    assert list(curve) == [f"consensus_cosine/cost/{s}" for s in ("3x2KB", "3x2KB@code", "5x2KB")]
    assert data["config"]["cost_curve_sizes"] == ["3x2KB", "3x2KB@code", "5x2KB"]
    code = curve["consensus_cosine/cost/3x2KB@code"]
    assert code["family"] == "code" and code["correct"] is True
    assert code["summary"]["python_peak_bytes"] > 0 and code["summary"]["memory_reduction_pct"] is not None
    assert curve["consensus_cosine/cost/5x2KB"]["summary"]["python_s"] is None
    assert "consensus_cosine/cost/3x2KB@code" in result.stderr and "cost curve: " in result.stderr


@needs_rust
def test_memory_target_is_judged_at_the_cost_curves_points_too(tmp_path, monkeypatch):
    """Issue #14's memory goal holds at 100 AND at 1,000 x 2 KB: the target takes the least
    reduction over the reference shape's families and the cost curve's traced points (here
    3 responses, the twin's limit patched down), and its note names the case."""
    from codeperf.bench_rust import cost_curve

    monkeypatch.setattr(cost_curve, "PYTHON_MAX_RESPONSES", 3)
    path = tmp_path / "targets.toml"
    path.write_text('[[target]]\nsuite = "bench_rust"\nname = "m"\n'
                    'metric = "memory_reduction_pct.consensus_cosine"\n'
                    'op = ">="\nthreshold = -1000000\nunit = "%"\n')
    monkeypatch.setenv("CODEPERF_TARGETS", str(path))
    out = tmp_path / "run"
    result = invoke("--bench", "consensus_cosine", "--sizes", "100x2KB", "--out", str(out),
                    *TINY, "--corpus", "code", "--cost-curve", "3")
    assert result.exit_code == exitcodes.OK, result.output
    data = envelope.load(out / "bench_rust.json")
    cases_ = {e["size"]["family"]: e["summary"]["memory_reduction_pct"] for e in _entries(data, "memory")}
    points = {e["id"].split("/cost/")[1]: e["summary"]["memory_reduction_pct"]
              for e in _entries(data, "cost_curve")}
    assert set(points) == {"3x2KB", "3x2KB@code"} and set(cases_) == {"own", "code"}
    every = {**cases_, **points}
    target = {t["metric"]: t for t in data["targets"]}["memory_reduction_pct.consensus_cosine"]
    assert target["state"] == "pass"
    assert target["measured"] == pytest.approx(min(every.values()))
    assert "cost curve's points" in target["note"]
    assert all(f"{case}:" in target["note"] for case in every)
    worst = min(every, key=every.__getitem__)
    assert (f"least family {worst}" if worst in cases_ else f"least case {worst} (cost curve)") in target["note"]


def test_full_mode_default_plan_reaches_the_driver(tmp_path, monkeypatch):
    """Without --sizes the full mode runs the plan (the cross on the reference family, the
    reference shape on the others, pipeline there only, 2 pyperf processes off it); --sizes,
    --processes and --quick each turn its parts off. The driver is replaced: nothing runs."""
    from codeperf.bench_rust import driver, grid, timing

    seen = []
    monkeypatch.setattr(driver, "run", lambda config: seen.append(config) or exitcodes.OK)
    assert invoke("--out", str(tmp_path / "a")).exit_code == exitcodes.OK
    full = seen[-1]
    assert full.sizes == grid.full_sizes(grid.FAMILIES)
    assert full.reference_only_ops == grid.REFERENCE_ONLY_OPS
    assert full.off_reference_settings == timing.FULL_OFF_REFERENCE and full.settings == timing.FULL
    assert invoke("--processes", "4", "--out", str(tmp_path / "b")).exit_code == exitcodes.OK
    assert seen[-1].off_reference_settings is None and seen[-1].settings.processes == 4
    assert invoke("--sizes", "10x2KB,100x2KB", "--corpus", "own,code",
                  "--out", str(tmp_path / "c")).exit_code == exitcodes.OK
    assert [s.label for s in seen[-1].sizes] == ["10x2KB", "100x2KB", "10x2KB@code", "100x2KB@code"]
    assert seen[-1].reference_only_ops == ()
    assert invoke("--quick", "--out", str(tmp_path / "d")).exit_code == exitcodes.OK
    quick = seen[-1]
    assert quick.sizes == grid.QUICK_GRID and quick.off_reference_settings is None
    assert quick.settings == timing.QUICK
