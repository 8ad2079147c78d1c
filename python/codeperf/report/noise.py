"""The noise floor of wall-clock figures, from measured run-to-run variation.

A change smaller than what unchanged code shows between two runs is not a
change. The floor of each metric comes from A/A runs (the same build run
several times in a row, `scripts/aa_noise.py RUN RUN [RUN...]`), stored in
`aa_noise.json` beside this file: per mode (quick / full), suite, result id and
metric, the largest relative spread (max / min - 1, in percent) seen between the
runs. A metric with no A/A data falls back to the command line's --noise-pct,
and the comparison says so in its detail ("default floor, no A/A data").

The floor is the spread times a factor that depends on how many runs it came
from: the range of n runs underestimates run-to-run variation when n is small
(its expectation is d2(n) standard deviations: 1.13 for 2 runs, 1.69 for 3, the
control-chart constants), and the difference of two future runs should stay
inside the floor at three standard deviations of a difference (3 * sqrt(2)).
So the factor is 3 * sqrt(2) / d2(n): 3.8 from 2 runs, 2.5 from 3, 1.8 from 5.
At least MIN_FLOOR_PCT.

A wall-clock metric gates `--fail-on-regression` only when its floor comes from
at least MIN_RUNS_TO_GATE A/A runs; otherwise it is shown, informational. On the
shared 2-core machine, floors from 2 runs still let unchanged code "regress" in
23-29 metrics of a third run (docs/report.md): too few runs to judge.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

AA_NOISE_PATH = Path(__file__).with_name("aa_noise.json")
AA_VERSION = 1
MIN_FLOOR_PCT = 2.0
MIN_RUNS_TO_GATE = 5
# d2(n): the expected range of n draws from a normal distribution, in standard deviations.
_D2 = {2: 1.128, 3: 1.693, 4: 2.059, 5: 2.326, 6: 2.534, 7: 2.704, 8: 2.847, 9: 2.970,
       10: 3.078}


def safety(runs: int) -> float:
    """How many times the measured spread the floor is (see the module docstring)."""
    d2 = _D2.get(max(2, min(runs, 10)), _D2[10])
    return 3.0 * math.sqrt(2.0) / d2


def mode_of(config: Mapping[str, Any] | None) -> str:
    return "quick" if (config or {}).get("quick") else "full"


@dataclass
class NoiseFloors:
    spreads: dict[str, dict[str, dict[str, dict[str, float]]]]  # mode -> suite -> id -> metric -> %
    source: str = ""
    runs_per_set: int = 2  # how many runs each spread was measured over (the fewest)
    runs: int = 0  # A/A runs behind the file in all

    @classmethod
    def load(cls, path: Path | None = None) -> "NoiseFloors":
        """The stored floors; CODEPERF_AA_NOISE names another file (tests, other machines)."""
        path = Path(path or os.environ.get("CODEPERF_AA_NOISE") or AA_NOISE_PATH)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls({})
        if not isinstance(data, dict) or data.get("aa_version") != AA_VERSION:
            return cls({})
        return cls(data.get("spreads") or {}, str(path.name), int(data.get("runs_per_set", 2)),
                   int(data.get("runs", 0)))

    def gates(self, mode: str, suite: str, entry_id: str, metric: str) -> bool:
        """May this metric fail --fail-on-regression? Only with a well-measured floor."""
        known = metric in self.spreads.get(mode, {}).get(suite, {}).get(entry_id, {})
        return known and self.runs >= MIN_RUNS_TO_GATE

    def floor(self, mode: str, suite: str, entry_id: str, metric: str,
              default_pct: float) -> tuple[float, str]:
        """(floor in percent, where it came from)."""
        spread = self.spreads.get(mode, {}).get(suite, {}).get(entry_id, {}).get(metric)
        if spread is None:
            return default_pct, f"default floor {default_pct:g} %, no A/A data"
        factor = safety(self.runs_per_set)
        pct = max(MIN_FLOOR_PCT, factor * float(spread))
        return pct, (f"floor {pct:.3g} % (A/A spread {float(spread):.3g} % over "
                     f"{self.runs_per_set} runs × {factor:.2g})")


def _numeric_summary(entry: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in (entry.get("summary") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            out[key] = float(value)
    return out


def measure(runs: Iterable[Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """A/A spreads from several runs of unchanged code: each run maps suite -> envelope."""
    runs = list(runs)
    spreads: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    values: dict[tuple[str, str, str, str], list[float]] = {}
    for run in runs:
        for suite, envelope in run.items():
            mode = mode_of(envelope.get("config"))
            for entry in envelope.get("results") or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                    continue
                for key, value in _numeric_summary(entry).items():
                    values.setdefault((mode, suite, entry["id"], key), []).append(value)
    for (mode, suite, entry_id, key), seen in values.items():
        if len(seen) < 2:
            continue
        spread = (max(seen) / min(seen) - 1.0) * 100.0
        spreads.setdefault(mode, {}).setdefault(suite, {}).setdefault(entry_id, {})[key] = \
            round(spread, 3)
    return {"aa_version": AA_VERSION, "runs": len(runs), "runs_per_set": len(runs),
            "spreads": spreads}


def merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the larger spread of each metric: more A/A data can only widen the floor."""
    merged = json.loads(json.dumps(old.get("spreads") or {}))
    for mode, suites in (new.get("spreads") or {}).items():
        for suite, ids in suites.items():
            for entry_id, metrics in ids.items():
                slot = merged.setdefault(mode, {}).setdefault(suite, {}).setdefault(entry_id, {})
                for key, spread in metrics.items():
                    slot[key] = max(spread, slot.get(key, 0.0))
    # The factor must suit the smallest set a spread may come from.
    per_set = min(int(old.get("runs_per_set", 2)), int(new.get("runs_per_set", 2)))
    return {"aa_version": AA_VERSION, "runs": int(old.get("runs", 0)) + int(new.get("runs", 0)),
            "runs_per_set": per_set, "spreads": merged}
