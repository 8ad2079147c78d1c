"""The targets file (`targets.toml` at the repository root): load and evaluate.

Each suite measures a dict of metric -> value and calls `evaluate(suite, measured)`;
every target of that suite comes back as an envelope `Target`, stored whole (op,
threshold, unit, measured, the statistic judged, state), so the report shows the
values the run was judged on. The rules live here, once for every suite:

- a target that was not measured in this run fails, never a silent pass;
- a target whose part was not requested or was skipped (`not_run`) is "not run";
- a latency target (unit "ms") is judged together with its scenario's error rate
  (`<prefix>.error_rate_pct`, against the error-rate target): a scenario over the
  error target cannot pass a latency target (a mean over 1 success in 20 is no
  answer), and an error rate that was not measured fails it too.
"""

from __future__ import annotations

import math
import operator
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from codeperf.harness.envelope import TARGET_OPS, Target
from codeperf.harness.suites import SUITES

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
assert set(_OPS) == set(TARGET_OPS)

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "targets.toml"


@dataclass(frozen=True)
class TargetSpec:
    suite: str
    name: str
    metric: str
    op: str
    threshold: float
    unit: str
    seed: str = ""
    goal: str = ""

    def evaluate(self, measured: float | None, statistic: str = "value") -> Target:
        if measured is None or (isinstance(measured, float) and math.isnan(measured)):
            return Target(self.name, self.metric, self.op, self.threshold, self.unit,
                          None, False, "not measured in this run", statistic=statistic)
        value = float(measured)
        return Target(self.name, self.metric, self.op, self.threshold, self.unit,
                      value, bool(_OPS[self.op](value, self.threshold)), statistic=statistic)

    def not_run(self, reason: str) -> Target:
        return Target(self.name, self.metric, self.op, self.threshold, self.unit, None, False,
                      reason, state="not run")

    @property
    def is_latency(self) -> bool:
        return self.unit == "ms" and "." in self.metric

    @property
    def error_metric(self) -> str:
        """The error rate this latency target is judged with: its scenario's."""
        return self.metric.rsplit(".", 1)[0] + "." + ERROR_RATE_KEY


ERROR_RATE_KEY = "error_rate_pct"


def targets_path() -> Path:
    return Path(os.environ.get("CODEPERF_TARGETS", DEFAULT_PATH))


def load_specs(path: Path | None = None) -> list[TargetSpec]:
    path = Path(path) if path is not None else targets_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: targets file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    specs = []
    for i, entry in enumerate(data.get("target", [])):
        where = f"{path}: target[{i}]"
        missing = [k for k in ("suite", "name", "metric", "op", "threshold", "unit") if k not in entry]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        if entry["suite"] not in SUITES:
            raise ValueError(f"{where}: suite {entry['suite']!r} is not one of {', '.join(SUITES)}")
        if entry["op"] not in _OPS:
            raise ValueError(f"{where}: op {entry['op']!r} is not one of {' '.join(_OPS)}")
        if not isinstance(entry["threshold"], (int, float)) or isinstance(entry["threshold"], bool):
            raise ValueError(f"{where}: threshold must be a number")
        specs.append(TargetSpec(suite=entry["suite"], name=entry["name"], metric=entry["metric"],
                                op=entry["op"], threshold=float(entry["threshold"]),
                                unit=entry["unit"], seed=entry.get("seed", ""),
                                goal=entry.get("goal", "")))
    return specs


def _error_limit(spec: TargetSpec, specs: list[TargetSpec]) -> TargetSpec | None:
    """The error-rate target a latency target's scenario must meet: the scenario's own,
    else its suite's, else any suite's (the seed has one: "< 5 % under load")."""
    candidates = [s for s in specs if s.metric.endswith("." + ERROR_RATE_KEY)]
    for match in ([s for s in candidates if s.metric == spec.error_metric],
                  [s for s in candidates if s.suite == spec.suite], candidates):
        if match:
            return match[0]
    return None


def _with_error_rate(target: Target, spec: TargetSpec, specs: list[TargetSpec],
                     measured: Mapping[str, float | None]) -> Target:
    limit = _error_limit(spec, specs)
    if limit is None:
        return target
    rate = measured.get(spec.error_metric)
    checked = limit.evaluate(rate)
    target.error_rate = {"metric": spec.error_metric, "measured": checked.measured,
                         "op": limit.op, "threshold": limit.threshold,
                         "passed": checked.passed}
    if target.state == "pass" and not checked.passed:
        target.passed, target.state = False, "fail"
        why = ("not measured" if checked.measured is None
               else f"{checked.measured:.3g} % is not {limit.op} {limit.threshold:g} %")
        target.note = (f"error rate {why}: a latency over the successes alone is no answer"
                       + (f"; {target.note}" if target.note else ""))
    return target


def evaluate(suite: str, measured: Mapping[str, float | None], path: Path | None = None, *,
             statistics: Mapping[str, str] | None = None,
             not_run: Mapping[str, str] | None = None) -> list[Target]:
    """Every target of `suite`, evaluated against `measured` (metric -> value).

    `statistics` names what a metric's value is when it is not the plain value
    (e.g. "ci95_low"); `not_run` maps a metric to why its part did not run here.
    """
    specs = load_specs(path)
    out = []
    for spec in specs:
        if spec.suite != suite:
            continue
        if not_run and spec.metric in not_run:
            out.append(spec.not_run(not_run[spec.metric]))
            continue
        target = spec.evaluate(measured.get(spec.metric),
                               (statistics or {}).get(spec.metric, "value"))
        if spec.is_latency:
            target = _with_error_rate(target, spec, specs, measured)
        out.append(target)
    return out
