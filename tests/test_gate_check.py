"""scripts/gate_check.py (make aa-gate, make seeded-regression): what each comparison prints and
the exit code, with a stand-in for run_perf (the real runs take minutes: they stay out of tests)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from codeperf import gate_check
from codeperf.report.metric_comparison import MetricComparison

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("gate_check_script", ROOT / "scripts" / "gate_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def metric(status: str, significant: bool = True, informational: bool = False, name: str = "m"):
    return MetricComparison("bench_rust", f"instructions/{name}", "instructions", "threshold",
                            100.0, 110.0 if status == "regressed" else 100.0,
                            1.1 if status == "regressed" else 1.0, significant, status,
                            informational=informational)


class FakeRuns:
    """run_perf's stand-in: writes bench_rust.json with instruction counts, returns a comparison.

    A seeded run (CODEPERF_SEED_REGRESSION=analyze in the environment, as the real suites
    see it) counts 10 % more analyze instructions and is compared as a regression."""

    def __init__(self, aa_metrics=None):
        self.calls: list[dict] = []
        self.aa_metrics = aa_metrics if aa_metrics is not None else [metric("unchanged")]

    def __call__(self, reports_dir, scripts_dir, quick, baseline, suites, charts):
        seeded = os.environ.get(gate_check.SEED_ENV) == gate_check.SEEDED_OP
        self.calls.append({"quick": quick, "baseline": baseline, "suites": tuple(suites),
                           "seeded": seeded})
        run_dir = Path(reports_dir) / f"run{len(self.calls)}"
        run_dir.mkdir(parents=True)
        count = 1_100_000 if seeded else 1_000_000
        (run_dir / "bench_rust.json").write_text(json.dumps({"results": [
            {"id": "instructions/analyze/rust/100x2KB", "kind": "instructions", "instructions": count},
            {"id": "instructions/aggregate/rust/100x2KB", "kind": "instructions",
             "instructions": 500_000 + len(self.calls)}]}))
        comparison = None
        if baseline is not None:
            metrics = [metric("regressed", name="analyze")] if seeded else self.aa_metrics
            comparison = SimpleNamespace(metrics=metrics, regressions=[
                m for m in metrics if m.status == "regressed" and m.significant and not m.informational])
        report = SimpleNamespace(verdict=SimpleNamespace(status="pass"), comparison=comparison)
        return SimpleNamespace(run_dir=run_dir, report=report, exit_code=0)


@pytest.fixture
def fake(monkeypatch):
    runs = FakeRuns()
    monkeypatch.setattr(gate_check, "run_perf", runs)
    monkeypatch.delenv(gate_check.SEED_ENV, raising=False)
    return runs


def test_aa_pairs_pass_and_print_instruction_diffs(fake, tmp_path):
    result = CliRunner().invoke(load_script().main, ["aa", "--count", "2", "--out", str(tmp_path / "gate-check" / "aa-x")])
    assert result.exit_code == 0, result.output
    assert len(fake.calls) == 4
    assert [c["baseline"] is None for c in fake.calls] == [True, False, True, False]
    assert all(c["quick"] and not c["seeded"] for c in fake.calls)
    assert "pair 2: gate pass (0 regression(s)); flagged 0 gated" in result.output
    assert "instructions/aggregate/rust/100x2KB: +0.0002 %" in result.output
    summary = json.loads(next(tmp_path.glob("gate-check/aa-*/gate_check.json")).read_text())
    assert [o["gate_failed"] for o in summary["outcomes"]] == [False, False]


@pytest.mark.parametrize("metrics, problem", [
    ([metric("regressed")], "gate failed on unchanged code"),
    ([metric("improved", name="a"), metric("improved", name="b")], "2 gated cases flagged"),
])
def test_aa_fails_on_a_gate_failure_or_too_many_flags(monkeypatch, tmp_path, metrics, problem):
    monkeypatch.setattr(gate_check, "run_perf", FakeRuns(metrics))
    result = CliRunner().invoke(load_script().main, ["aa", "--count", "1", "--out", str(tmp_path / "gate-check" / "aa-x")])
    assert result.exit_code == 1
    assert problem in result.output


def test_informational_changes_are_shown_not_counted(monkeypatch, tmp_path):
    monkeypatch.setattr(gate_check, "run_perf",
                        FakeRuns([metric("regressed", informational=True), metric("unchanged")]))
    result = CliRunner().invoke(load_script().main, ["aa", "--count", "1", "--out", str(tmp_path / "gate-check" / "aa-x")])
    assert result.exit_code == 0, result.output
    assert "flagged 0 gated, 1 informational" in result.output


def test_seeded_regression_caught_every_try_and_env_restored(fake, tmp_path):
    result = CliRunner().invoke(load_script().main,
                                ["seeded", "--count", "2", "--out", str(tmp_path / "gate-check" / "seeded-x")])
    assert result.exit_code == 0, result.output
    assert [c["seeded"] for c in fake.calls] == [False, True, True]
    assert all(c["suites"] == ("bench_rust",) for c in fake.calls)
    assert result.output.count("gate FAIL (1 regression(s))") == 2
    assert "instructions/analyze/rust/100x2KB: +10.0000 %" in result.output
    assert gate_check.SEED_ENV not in os.environ


def test_seeded_regression_missed_is_exit_1(monkeypatch, tmp_path):
    class Blind(FakeRuns):
        def __call__(self, *args, **kwargs):
            out = super().__call__(*args, **kwargs)
            if out.report.comparison is not None:
                out.report.comparison = SimpleNamespace(metrics=[], regressions=[])
            return out

    monkeypatch.setattr(gate_check, "run_perf", Blind())
    result = CliRunner().invoke(load_script().main, ["seeded", "--count", "1", "--out", str(tmp_path / "gate-check" / "seeded-x")])
    assert result.exit_code == 1
    assert "the gate did not catch the seeded regression" in result.output


def test_missing_comparison_is_not_a_pass(monkeypatch, tmp_path):
    class NoCompare(FakeRuns):
        def __call__(self, *args, **kwargs):
            out = super().__call__(*args, **kwargs)
            out.report.comparison = None
            return out

    monkeypatch.setattr(gate_check, "run_perf", NoCompare())
    result = CliRunner().invoke(load_script().main, ["aa", "--count", "1", "--out", str(tmp_path / "gate-check" / "aa-x")])
    assert result.exit_code == 1
    assert "NOT COMPARED" in result.output


def test_usage_error_is_exit_2(tmp_path):
    result = CliRunner().invoke(load_script().main, ["aa", "--count", "0"])
    assert result.exit_code == 2


def test_long_informational_lists_are_cut_on_screen_kept_in_the_summary(monkeypatch, tmp_path):
    noisy = [metric("improved", informational=True, name=f"n{i}") for i in range(12)]
    monkeypatch.setattr(gate_check, "run_perf", FakeRuns(noisy))
    result = CliRunner().invoke(load_script().main, ["aa", "--count", "1", "--out", str(tmp_path / "gate-check" / "aa-x")])
    assert result.exit_code == 0, result.output
    assert result.output.count("flagged (informational)") == 10
    assert "... and 2 more informational" in result.output
    summary = json.loads(next(tmp_path.glob("gate-check/aa-*/gate_check.json")).read_text())
    assert len(summary["outcomes"][0]["flagged_informational"]) == 12
