"""Did anything change since a previous run? Case by case against a baseline envelope.

The verdict is on the **speedup** of each (operation, size): its ratio now /
then, with the paired two-stage bootstrap of each run. Python and Rust ran in
interleaved pairs, so the Python twin is the control for the machine: a
machine that is 2x slower today (other jobs on a shared 2-core box) slows
both sides and leaves the speedup alone, while a change in either engine
moves it. A case counts as changed only when the interval excludes 1 *and*
the change is at least `noise_pct` percent.

Absolute times (`bench_case`, current / baseline, above 1 is slower) are
compared too and reported, but not used for the verdict: between two runs
they measure the machine's load as much as the code. An A/A run (twice on
unchanged code) shows how often each cries wolf.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeperf.harness import envelope as envelope_mod
from codeperf.harness import stats

DEFAULT_NOISE_PCT = 10.0
BUILD_CHECK = "rust build unchanged during the run"  # its detail holds the build's sha256


@dataclass
class CaseChange:
    id: str
    ci: stats.RatioCI
    noise_pct: float
    kind: str = "time"  # "time": current / baseline time; "speedup": current / baseline speedup
    # CPU used by other processes while the case ran, then and now: a changed speedup
    # with very different values here may be the machine, not the code.
    others_then_pct: float | None = None
    others_now_pct: float | None = None

    @property
    def changed(self) -> bool:
        return self.ci.significant_change(self.noise_pct)

    @property
    def status(self) -> str:
        if not self.changed:
            return "unchanged"
        if self.kind == "speedup":
            return "rust gained" if self.ci.ratio > 1.0 else "rust lost"
        return "slower" if self.ci.ratio > 1.0 else "faster"

    def to_dict(self) -> dict[str, Any]:
        return {"ratio_x": self.ci.ratio, "ci_low_x": self.ci.low, "ci_high_x": self.ci.high,
                "ci_excludes_one": self.ci.excludes_one, "changed": self.changed,
                "status": self.status, "noise_pct": self.noise_pct,
                "others_then_pct": self.others_then_pct, "others_now_pct": self.others_now_pct}


@dataclass
class Baseline:
    path: Path
    run_id: str
    groups: dict[str, list[list[float]]]  # bench_case id -> samples by process
    environment: dict[str, Any] = field(default_factory=dict)
    rust_build_sha256: str | None = None
    background: dict[str, float | None] = field(default_factory=dict)  # speedup id -> others' CPU %

    @classmethod
    def load(cls, path: Path) -> "Baseline":
        data = envelope_mod.load(path)  # EnvelopeError names the file
        if data["suite"] != "bench_rust":
            raise envelope_mod.EnvelopeError(f"{path}: a {data['suite']} envelope, not bench_rust")
        groups = {}
        background = {e["id"]: e.get("background_cpu_pct") for e in data["results"]
                      if isinstance(e, dict) and e.get("kind") == "speedup"}
        for entry in data["results"]:
            if not isinstance(entry, dict) or entry.get("kind") != "bench_case":
                continue
            runs = entry.get("samples_by_process") or ([entry["samples"]] if entry.get("samples") else None)
            if runs:
                groups[entry["id"]] = runs
        build = next((v.get("detail") or {} for v in data["validity"]
                      if v.get("check") == BUILD_CHECK), {})
        return cls(Path(path), data["run_id"], groups, data.get("environment", {}),
                   build.get("sha256_at_start") if isinstance(build, dict) else None, background)

    def compare(self, case_id: str, runs: list[list[float]],
                noise_pct: float = DEFAULT_NOISE_PCT) -> CaseChange | None:
        """Absolute time of one bench_case: current / baseline."""
        old = self.groups.get(case_id)
        if not old or not runs:
            return None
        return CaseChange(case_id, stats.ratio_of_medians(runs, old), noise_pct)

    def compare_speedup(self, op: str, size_label: str, python_runs: list[list[float]],
                        rust_runs: list[list[float]], noise_pct: float = DEFAULT_NOISE_PCT,
                        background_now_pct: float | None = None) -> CaseChange | None:
        """Speedup of one (op, size): current / baseline (above 1: Rust gained on Python)."""
        old_py = self.groups.get(f"{op}/python/{size_label}")
        old_rs = self.groups.get(f"{op}/rust/{size_label}")
        if not (old_py and old_rs and python_runs and rust_runs):
            return None
        paired = len(python_runs) == len(rust_runs) and len(old_py) == len(old_rs)
        ci = stats.ratio_of_ratios(python_runs, rust_runs, old_py, old_rs, paired=paired)
        case_id = f"{op}/{size_label}"
        return CaseChange(case_id, ci, noise_pct, kind="speedup",
                          others_then_pct=self.background.get(case_id),
                          others_now_pct=background_now_pct)


def summary_entry(baseline: Baseline, speedups: list[CaseChange], times: list[CaseChange],
                  noise_pct: float, rust_build_sha256: str | None) -> dict[str, Any]:
    changed = [c for c in speedups if c.changed]
    return {
        "id": "baseline/comparison", "kind": "baseline_comparison",
        "baseline_file": str(baseline.path), "baseline_run_id": baseline.run_id,
        # An A/A comparison is only one when both runs timed the same Rust build.
        "same_rust_build": (baseline.rust_build_sha256 == rust_build_sha256
                            if baseline.rust_build_sha256 and rust_build_sha256 else None),
        "summary": {"compared_count": len(speedups), "changed_count": len(changed),
                    "ci_excludes_one_count": sum(c.ci.excludes_one for c in speedups),
                    "time_compared_count": len(times),
                    "time_changed_count": sum(c.changed for c in times)},
        "noise_pct": noise_pct,
        "changed": [{"id": c.id, **c.to_dict()} for c in changed],
        "time_changed": [{"id": c.id, **c.to_dict()} for c in times if c.changed],
    }
