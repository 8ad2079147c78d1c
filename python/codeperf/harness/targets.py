"""The targets file (`targets.toml` at the repository root): load and evaluate.

Each suite measures a dict of metric -> value and calls `evaluate(suite, measured)`;
every target of that suite comes back as an envelope `Target`, and one that was
not measured in this run is a failure, never a silent pass.
"""

from __future__ import annotations

import math
import operator
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from codeperf.harness.envelope import SUITES, TARGET_OPS, Target

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

    def evaluate(self, measured: float | None) -> Target:
        if measured is None or (isinstance(measured, float) and math.isnan(measured)):
            return Target(self.name, self.metric, self.op, self.threshold, self.unit,
                          None, False, "not measured in this run")
        value = float(measured)
        return Target(self.name, self.metric, self.op, self.threshold, self.unit,
                      value, bool(_OPS[self.op](value, self.threshold)))


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


def evaluate(suite: str, measured: Mapping[str, float | None],
             path: Path | None = None) -> list[Target]:
    """Every target of `suite`, evaluated against `measured` (metric -> value)."""
    return [spec.evaluate(measured.get(spec.metric)) for spec in load_specs(path)
            if spec.suite == suite]
