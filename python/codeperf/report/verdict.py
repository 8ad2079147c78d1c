"""The targets table and the overall verdict of a run, from the envelopes alone.

Every row shows the target as the suite stored it when it judged it (op,
threshold, unit, measured, the statistic compared, pass / fail / not run), so
an edit of targets.toml after the run cannot turn "15 < 20" into a pass; a row
says when targets.toml has changed since. Rows are matched to targets.toml by
metric only (never by name). A targets.toml entry the run has no row for is
"not run" when its suite did not run, and a failure when the suite ran and did
not report it (a suite reports a target it was not asked for as "not run").
A part a suite skipped (a result of kind "skipped") makes the verdict
"incomplete" and is named, like a target that was not run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codeperf.harness.contract import judge, target_state
from codeperf.report.loading import FAILING_STATES, Run

PASS, FAIL, NOT_RUN = "pass", "fail", "not run"
NOT_REPORTED = "not reported by the suite (or added to targets.toml since the run)"


@dataclass
class TargetRow:
    suite: str
    name: str
    metric: str
    op: str
    threshold: float
    unit: str
    state: str  # pass, fail, not run
    measured: float | None = None
    note: str = ""
    seed: str = ""
    baseline: float | None = None  # the same target's measured value in the baseline run
    statistic: str = "value"  # what was compared with the threshold, e.g. ci95_low
    error_rate: dict[str, Any] | None = None  # a latency target's scenario error rate
    changed_since: str = ""  # what targets.toml says now, when it differs from the run

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Verdict:
    status: str  # pass, fail, incomplete
    reasons: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == PASS


def _find(targets: list[dict[str, Any]], metric: str) -> dict[str, Any] | None:
    for target in targets:
        if target.get("metric") == metric:
            return target
    return None


def _changed(spec: Any, target: dict[str, Any]) -> str:
    if (spec.op, spec.threshold, spec.unit) == (target.get("op"), target.get("threshold"),
                                               target.get("unit")):
        return ""
    return f"targets.toml now says {spec.op} {spec.threshold:g} {spec.unit}"


def target_rows(run: Run, baseline: Run | None = None) -> list[TargetRow]:
    rows: list[TargetRow] = []
    specs = {(s.suite, s.metric): s for s in run.specs}
    reported: set[tuple[str, str]] = set()
    for suite, data in run.suites.items():
        for target in (data.envelope or {}).get("targets", []):
            key = (suite, target["metric"])
            if key in reported:
                continue
            reported.add(key)
            spec = specs.get(key)
            row = TargetRow(suite, target["name"], target["metric"], target["op"],
                            target["threshold"], target["unit"], target_state(target),
                            target.get("measured"), target.get("note", ""),
                            seed=spec.seed if spec else "",
                            statistic=target.get("statistic") or "value",
                            error_rate=target.get("error_rate"))
            row.changed_since = _changed(spec, target) if spec else "no longer in targets.toml"
            rows.append(row)
    for spec in run.specs:
        if (spec.suite, spec.metric) in reported:
            continue
        data = run.suites.get(spec.suite)
        row = TargetRow(spec.suite, spec.name, spec.metric, spec.op, spec.threshold, spec.unit,
                        NOT_RUN, seed=spec.seed)
        if data is None or data.envelope is None:
            row.note = f"{spec.suite}: {data.state if data else 'not run'}"
        else:
            # A suite evaluates every target of its suite in targets.toml, so a missing row
            # is a target it did not report, or one targets.toml gained since: say both.
            row.state, row.note = FAIL, NOT_REPORTED
        rows.append(row)
    order = {(s.suite, s.metric): i for i, s in enumerate(run.specs)}
    rows.sort(key=lambda r: order.get((r.suite, r.metric), len(order)))
    if baseline is not None:
        for row in rows:
            data = baseline.suites.get(row.suite)
            found = _find((data.envelope or {}).get("targets", []) if data else [], row.metric)
            row.baseline = found.get("measured") if found else None
    return rows


def verdict(run: Run, rows: list[TargetRow]) -> Verdict:
    reasons: list[str] = []
    failing = False
    for data in run.suites.values():
        state = data.state
        if state in FAILING_STATES:
            failing = True
            detail = data.load_error or ""
            if not detail and data.failed_validity:
                detail = "failed checks: " + ", ".join(str(v.get("check"))
                                                       for v in data.failed_validity)
            errors = [e for e in data.errors if e.get("kind") != "interrupted"]
            if not detail and errors:
                shown = [f"{e.get('kind')}: {e.get('message')}" for e in errors[:3]]
                more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
                detail = "errors: " + "; ".join(shown) + more
            if not detail and data.process and state in ("crashed", "failed", "set-up error",
                                                         "missing script", "timed out",
                                                         "interrupted"):
                code = data.process.exit_code
                detail = f"exit code {code}" if code is not None else ""
            if state != "targets failed":
                reasons.append(f"suite {data.suite}: {state}" + (f" ({detail})" if detail else ""))
        elif state == "not run":
            reasons.append(f"suite {data.suite}: not run")
    failed_targets = [r for r in rows if r.state == FAIL]
    if failed_targets:
        failing = True
        names = ", ".join(r.name for r in failed_targets[:4])
        more = f" and {len(failed_targets) - 4} more" if len(failed_targets) > 4 else ""
        reasons.insert(0, f"{len(failed_targets)} target(s) failed: {names}{more}")
    # Targets of a suite that ran, whose part was not requested or was skipped here:
    # named with the reason the suite stored (e.g. "skipped: component mcp (...)").
    skipped = [r for r in rows if r.state == NOT_RUN and run.suites.get(r.suite)
               and run.suites[r.suite].envelope is not None]
    if skipped:
        names = "; ".join(f"{r.name} ({r.note})" if r.note else r.name for r in skipped[:4])
        more = f" and {len(skipped) - 4} more" if len(skipped) > 4 else ""
        reasons.append(f"{len(skipped)} target(s) not run: {names}{more}")
    # Parts a suite skipped here (a memory component whose import is missing, the Rust
    # leak run without a Rust build...): "not run", named, never a silent pass.
    parts = [f"{data.suite} {part['id']}" + (f" ({part['reason']})" if part["reason"] else "")
             for data in run.present for part in judge(data.envelope or {}).parts_not_run]
    if parts:
        more = f" and {len(parts) - 4} more" if len(parts) > 4 else ""
        reasons.append(f"{len(parts)} part(s) skipped, not run: " + "; ".join(parts[:4]) + more)
    if run.record_error:
        reasons.append(run.record_error)
    if failing:
        return Verdict("fail", reasons)
    if skipped or parts or any(d.state == "not run" for d in run.suites.values()):
        return Verdict("incomplete", reasons)
    return Verdict(PASS, reasons)
