"""bench_rust against a baseline: speedups by the paired bootstrap, all wall-clock, all informational.

Two synthetic bench_rust runs in the suite's real shape (samples by pyperf
process, Python and Rust processes in pairs that share the machine's load):
a machine twice as slow leaves the speedup unchanged, a Rust engine that got
slower shows as a lower speedup. Neither fails `--fail-on-regression`: the
engine's gate is its instruction counts (tests/test_report_gate.py), because
between runs on a shared machine wall-clock figures cry wolf.
"""

from __future__ import annotations

import importlib.util
import random
from statistics import median
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeperf.harness import stats
from codeperf.harness.envelope import Envelope, write_json_atomic
from codeperf.report import build_report
from codeperf.report.compare import REGRESSED, UNCHANGED

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "tests" / "data" / "report" / "targets.toml"
OP, SIZE = "consensus_cosine", "100x2KB"
PYTHON_S, RUST_S = 0.010, 0.0004


def _runs(rng: random.Random, center_s: float, machine: list[float]) -> list[list[float]]:
    return [[center_s * load * (1 + abs(rng.gauss(0, 0.02))) for _ in range(5)] for load in machine]


def write_run(directory: Path, seed: int, slowdown: float = 1.0, rust_slowdown: float = 1.0) -> dict:
    """A bench_rust run: `slowdown` slows the machine (both backends), `rust_slowdown` Rust only."""
    rng = random.Random(seed)
    # Process pair i ran back to back: both backends see that moment's load.
    machine = [slowdown * (1 + abs(rng.gauss(0, 0.05))) for _ in range(4)]
    python = _runs(rng, PYTHON_S, machine)
    rust = _runs(rng, RUST_S * rust_slowdown, machine)
    ci = stats.ratio_of_medians(python, rust, paired=True)
    env = Envelope(suite="bench_rust", run_id=f"run-{seed}", started_at="2026-11-29T12:00:00+00:00",
                   finished_at="2026-11-29T12:01:00+00:00", complete=True,
                   environment={"cpu_model": "Test CPU", "backend": "rust"}, config={})
    for backend, runs in (("python", python), ("rust", rust)):
        values = [v for run in runs for v in run]
        env.results.append({"id": f"{OP}/{backend}/{SIZE}", "kind": "bench_case", "op": OP,
                            "backend": backend, "correct": True,
                            "summary": {"median_ms": median(values) * 1e3,
                                        "values_count": len(values)},
                            "samples": values, "samples_by_process": runs})
    speedup = {"speedup_x": ci.ratio, "speedup_ci_low_x": ci.low, "speedup_ci_high_x": ci.high}
    env.results.append({"id": f"{OP}/{SIZE}", "kind": "speedup", "op": OP, "correct": True,
                        "summary": speedup})
    write_json_atomic(directory / "bench_rust.json", env.to_dict())
    return speedup


@pytest.fixture
def aggregate():
    spec = importlib.util.spec_from_file_location("aggregate_report",
                                                  ROOT / "scripts" / "aggregate_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _compare(tmp_path: Path, current: Path, baseline: Path):
    result = build_report(current, baseline_dir=baseline, out_dir=tmp_path / "out",
                          targets_path=TARGETS, charts=False)
    return {(m.id, m.metric): m for m in result.comparison.metrics}, result.comparison


def _fail_on_regression(aggregate, tmp_path: Path, current: Path, baseline: Path, monkeypatch) -> int:
    monkeypatch.setenv("CODEPERF_TARGETS", str(TARGETS))
    return CliRunner().invoke(aggregate, ["--out", str(current), "--baseline", str(baseline),
                                          "--report-dir", str(tmp_path / "cli"), "--no-charts",
                                          "--fail-on-regression"]).exit_code


def test_a_slower_machine_is_not_a_regression(tmp_path, aggregate, monkeypatch):
    (base := tmp_path / "base").mkdir()
    (cur := tmp_path / "cur").mkdir()
    write_run(base, seed=1)
    write_run(cur, seed=2, slowdown=2.0)  # the same code on a machine twice as busy
    metrics, comparison = _compare(tmp_path, cur, base)

    assert metrics[(f"{OP}/{SIZE}", "speedup_x")].status == UNCHANGED
    assert metrics[(f"{OP}/{SIZE}", "speedup_x")].method == "paired bootstrap"
    for backend in ("python", "rust"):
        time = metrics[(f"{OP}/{backend}/{SIZE}", "median_s")]
        # The times really did move (about 2x, significantly): shown, but not a verdict.
        assert time.status == REGRESSED and time.significant and time.ratio > 1.5
        assert time.informational
    assert comparison.regressions == []
    assert _fail_on_regression(aggregate, tmp_path, cur, base, monkeypatch) == 0


def test_a_real_speedup_drop_is_shown_but_gated_by_instruction_counts(tmp_path, aggregate,
                                                                        monkeypatch):
    (base := tmp_path / "base").mkdir()
    (cur := tmp_path / "cur").mkdir()
    then = write_run(base, seed=1)
    now = write_run(cur, seed=2, rust_slowdown=1.5)  # the Rust engine got slower
    assert now["speedup_ci_high_x"] < then["speedup_ci_low_x"]  # the CIs do not overlap
    metrics, comparison = _compare(tmp_path, cur, base)

    speedup = metrics[(f"{OP}/{SIZE}", "speedup_x")]
    assert speedup.status == REGRESSED and speedup.significant and speedup.ratio < 0.8
    assert speedup.informational and comparison.regressions == []
    assert _fail_on_regression(aggregate, tmp_path, cur, base, monkeypatch) == 0
