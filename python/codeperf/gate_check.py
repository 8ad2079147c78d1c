"""Does the regression gate work? The two checks of issue #15, one command each.

- A/A (`make aa-gate PAIRS=5`): pairs of quick runs of the same build; the second
  of each pair is compared with the first exactly as a pull request is gated
  (`--fail-on-regression`). Unchanged code must never fail the gate.
- Seeded regression (`make seeded-regression TRIES=5`): one unseeded quick run as
  the baseline, then TRIES runs with CODEPERF_SEED_REGRESSION=analyze (a ~10 %
  slower analyze_responses in both backends, crates/codeperf-py/src/seeded.rs and
  engine/analysis.py), each compared with it. The gate must fail every time.

Each run is a real `make perf-quick` (codeperf.perf_run) into its own run
directory under `reports/gate-check/<kind>-<stamp>/`, so `reports/latest` is left
alone. Per comparison it prints the gate result, the cases flagged (significant
changes in either direction, gated ones and informational ones apart) and the
largest instruction-count difference per engine operation. This module launches
suites, so it lives outside report/ (which only reads envelopes).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from codeperf.harness.suites import SUITES
from codeperf.perf_run import PerfResult, run_perf

SEED_ENV = "CODEPERF_SEED_REGRESSION"
SEEDED_OP = "analyze"
CHANGED = ("improved", "regressed")
INFORMATIONAL_SHOWN = 10


@dataclass
class GateOutcome:
    label: str
    baseline_dir: Path
    current_dir: Path
    verdict: str  # the current run's own verdict (targets, self-checks): shown, not the gate
    regressions: list[str] = field(default_factory=list)  # what failed the gate
    flagged: list[str] = field(default_factory=list)  # significant changes the gate judges
    flagged_informational: list[str] = field(default_factory=list)  # e.g. wall-clock speedups
    instruction_diff_pct: dict[str, float] = field(default_factory=dict)  # id -> current/base - 1
    usable: bool = True  # False: no comparison was made (a run did not write its envelopes)

    @property
    def gate_failed(self) -> bool:
        return bool(self.regressions)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "baseline": str(self.baseline_dir),
                "current": str(self.current_dir), "verdict": self.verdict,
                "gate_failed": self.gate_failed, "usable": self.usable,
                "regressions": self.regressions, "flagged": self.flagged,
                "flagged_informational": self.flagged_informational,
                "instruction_change_percent": self.instruction_diff_pct}


def instruction_counts(run_dir: Path) -> dict[str, int]:
    """`instructions/<op>/<backend>/<size>` -> count, from the run's bench_rust envelope."""
    path = Path(run_dir) / "bench_rust.json"
    if not path.is_file():
        return {}
    envelope = json.loads(path.read_text(encoding="utf-8"))
    return {e["id"]: e["instructions"] for e in envelope.get("results", [])
            if e.get("kind") == "instructions" and isinstance(e.get("instructions"), int)}


def instruction_diffs(baseline: dict[str, int], current: dict[str, int]) -> dict[str, float]:
    return {key: 100.0 * (current[key] / baseline[key] - 1.0)
            for key in sorted(baseline.keys() & current.keys()) if baseline[key] > 0}


def outcome_of(label: str, baseline: PerfResult, current: PerfResult) -> GateOutcome:
    report = current.report
    outcome = GateOutcome(label, baseline.run_dir, current.run_dir,
                          report.verdict.status if report else "no report")
    comparison = report.comparison if report else None
    if comparison is None:
        outcome.usable = False
        return outcome

    def name(m: Any) -> str:
        ratio = f" x{m.ratio:.3f}" if m.ratio is not None else ""
        return f"{m.suite} {m.id} {m.metric}: {m.status}{ratio}"

    outcome.regressions = [name(m) for m in comparison.regressions]
    significant = [m for m in comparison.metrics if m.significant and m.status in CHANGED]
    outcome.flagged = [name(m) for m in significant if not m.informational]
    outcome.flagged_informational = [name(m) for m in significant if m.informational]
    outcome.instruction_diff_pct = instruction_diffs(instruction_counts(baseline.run_dir),
                                                     instruction_counts(current.run_dir))
    return outcome


def describe(outcome: GateOutcome) -> list[str]:
    if not outcome.usable:
        return [f"{outcome.label}: NOT COMPARED (no baseline comparison; see "
                f"{outcome.current_dir}/report.md)"]
    lines = [f"{outcome.label}: gate {'FAIL' if outcome.gate_failed else 'pass'} "
             f"({len(outcome.regressions)} regression(s)); flagged {len(outcome.flagged)} gated, "
             f"{len(outcome.flagged_informational)} informational; run verdict "
             f"{outcome.verdict.upper()}"]
    lines += [f"    regressed: {r}" for r in outcome.regressions]
    lines += [f"    flagged: {f}" for f in outcome.flagged if f not in outcome.regressions]
    # Wall-clock noise on a shared machine flags dozens of these; the summary file has them all.
    shown = outcome.flagged_informational[:INFORMATIONAL_SHOWN]
    lines += [f"    flagged (informational): {f}" for f in shown]
    if len(outcome.flagged_informational) > len(shown):
        lines.append(f"    ... and {len(outcome.flagged_informational) - len(shown)} more "
                     f"informational (gate_check.json)")
    if outcome.instruction_diff_pct:
        worst = max(abs(v) for v in outcome.instruction_diff_pct.values())
        lines.append(f"    instruction counts: largest difference {worst:.4f} %")
        lines += [f"      {key}: {value:+.4f} %" for key, value in outcome.instruction_diff_pct.items()]
    else:
        lines.append("    instruction counts: none in both runs (valgrind missing?)")
    return lines


Runner = Callable[..., PerfResult]


@dataclass
class GateCheck:
    """Runs quick suites under `root` and compares them; `runner` is run_perf (tests pass a fake)."""
    root: Path
    scripts_dir: Path
    suites: Sequence[str] = SUITES
    runner: Runner | None = None  # None: run_perf, looked up when called (tests replace it)
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)

    def _run(self, baseline: Path | None = None, seeded: bool = False) -> PerfResult:
        previous = os.environ.pop(SEED_ENV, None)
        if seeded:
            os.environ[SEED_ENV] = SEEDED_OP
        try:
            runner = self.runner or run_perf
            return runner(self.root, self.scripts_dir, quick=True, baseline=baseline,
                          suites=self.suites, charts=False)  # as `make perf-quick` runs
        finally:
            os.environ.pop(SEED_ENV, None)
            if previous is not None:
                os.environ[SEED_ENV] = previous

    def aa_pairs(self, pairs: int) -> list[GateOutcome]:
        outcomes = []
        for i in range(1, pairs + 1):
            self.say(f"[gate-check] A/A pair {i}/{pairs}: run A")
            first = self._run()
            self.say(f"[gate-check] A/A pair {i}/{pairs}: run B, compared with A")
            second = self._run(baseline=first.run_dir)
            outcomes.append(outcome_of(f"pair {i}", first, second))
        return outcomes

    def seeded(self, tries: int) -> list[GateOutcome]:
        self.say("[gate-check] baseline: unseeded run")
        baseline = self._run()
        outcomes = []
        for i in range(1, tries + 1):
            self.say(f"[gate-check] try {i}/{tries}: {SEED_ENV}={SEEDED_OP}, compared with the baseline")
            outcomes.append(outcome_of(f"try {i}", baseline, self._run(baseline.run_dir, seeded=True)))
        return outcomes


def summary_path(root: Path) -> Path:
    return Path(root) / "gate_check.json"


def write_summary(root: Path, kind: str, outcomes: list[GateOutcome]) -> Path:
    path = summary_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"kind": kind, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                           time.gmtime()),
                                "outcomes": [o.to_dict() for o in outcomes]}, indent=2) + "\n",
                    encoding="utf-8")
    return path


# The acceptance figures (#15, "Benchmarks"): judged here so the command says PASS/FAIL.
AA_MAX_FLAGGED = 1
AA_MAX_INSTRUCTION_DIFF_PCT = 1.0


def aa_problems(outcome: GateOutcome) -> list[str]:
    """Why an A/A comparison falls short of the issue's figures (empty: it meets them)."""
    problems = []
    if not outcome.usable:
        problems.append("not compared")
    if outcome.gate_failed:
        problems.append(f"gate failed on unchanged code ({len(outcome.regressions)} regressions)")
    if len(outcome.flagged) > AA_MAX_FLAGGED:
        problems.append(f"{len(outcome.flagged)} gated cases flagged (at most {AA_MAX_FLAGGED})")
    if not outcome.instruction_diff_pct:
        problems.append("no instruction counts to compare")
    elif max(abs(v) for v in outcome.instruction_diff_pct.values()) >= AA_MAX_INSTRUCTION_DIFF_PCT:
        problems.append(f"instruction counts differ by >= {AA_MAX_INSTRUCTION_DIFF_PCT:g} %")
    return problems


def seeded_problems(outcome: GateOutcome) -> list[str]:
    if not outcome.usable:
        return ["not compared"]
    return [] if outcome.gate_failed else ["the gate did not catch the seeded regression"]
