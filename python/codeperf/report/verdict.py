"""The targets table and the overall verdict of a run.

Every target in targets.toml gets a row: measured value beside threshold when
its suite evaluated it, "not run" when its suite did not run (or its file could
not be read) or ran on a subset that did not ask for it (codeperf.report.requested);
a target of something the run did ask for that the suite did not report fails. A target the suite reported but targets.toml no longer lists is
still shown, from the envelope, so nothing measured disappears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codeperf.report.loading import FAILING_STATES, Run
from codeperf.report.requested import asked_for

PASS, FAIL, NOT_RUN = "pass", "fail", "not run"


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

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Verdict:
    status: str  # pass, fail, incomplete
    reasons: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == PASS


def _find(targets: list[dict[str, Any]], metric: str, name: str) -> dict[str, Any] | None:
    for target in targets:
        if target.get("metric") == metric:
            return target
    for target in targets:
        if target.get("name") == name:
            return target
    return None


def target_rows(run: Run, baseline: Run | None = None) -> list[TargetRow]:
    rows: list[TargetRow] = []
    used: dict[str, list[int]] = {}
    for spec in run.specs:
        data = run.suites.get(spec.suite)
        envelope_targets = (data.envelope or {}).get("targets", []) if data else []
        found = _find(envelope_targets, spec.metric, spec.name)
        row = TargetRow(spec.suite, spec.name, spec.metric, spec.op, spec.threshold, spec.unit,
                        NOT_RUN, seed=spec.seed)
        if data is None or data.envelope is None:
            row.note = f"{spec.suite}: {data.state if data else 'not run'}"
        elif found is None:
            asked = asked_for(spec.suite, data.envelope.get("config"), spec.metric)
            if asked.requested is False:  # a subset run: this target's part was not asked for
                row.note = asked.detail
            else:
                row.state, row.note = FAIL, "not reported by the suite"
        else:
            used.setdefault(spec.suite, []).append(envelope_targets.index(found))
            row.measured = found.get("measured")
            row.state = PASS if found.get("passed") else FAIL
            row.note = found.get("note", "")
        rows.append(row)
    for suite, data in run.suites.items():
        for i, target in enumerate((data.envelope or {}).get("targets", [])):
            if i in used.get(suite, []):
                continue
            rows.append(TargetRow(suite, target["name"], target["metric"], target["op"],
                                  target["threshold"], target["unit"],
                                  PASS if target.get("passed") else FAIL,
                                  target.get("measured"),
                                  target.get("note") or "not in targets.toml"))
    if baseline is not None:
        for row in rows:
            data = baseline.suites.get(row.suite)
            found = _find((data.envelope or {}).get("targets", []) if data else [],
                          row.metric, row.name)
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
    # Targets of a suite that ran, but on a subset that left them out.
    skipped = [r for r in rows if r.state == NOT_RUN and run.suites.get(r.suite)
               and run.suites[r.suite].envelope is not None]
    if skipped:
        names = ", ".join(r.name for r in skipped[:4])
        more = f" and {len(skipped) - 4} more" if len(skipped) > 4 else ""
        reasons.append(f"{len(skipped)} target(s) not run (not requested in this run): "
                       f"{names}{more}")
    if run.record_error:
        reasons.append(run.record_error)
    if failing:
        return Verdict("fail", reasons)
    if skipped or any(d.state == "not run" for d in run.suites.values()):
        return Verdict("incomplete", reasons)
    return Verdict(PASS, reasons)
