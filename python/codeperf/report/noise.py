"""The noise floor of wall-clock figures, from measured run-to-run variation.

A change smaller than what unchanged code shows between two runs is not a
change. The floor of each metric comes from A/A runs (the same build run
several times in a row, `scripts/aa_noise.py RUN RUN [RUN...]`), stored in
`aa_noise.json` beside this file: per mode (quick / full), suite, result id and
metric, the largest relative spread (max / min - 1, in percent) seen between the
runs. The comparison uses SAFETY times that spread, at least MIN_FLOOR_PCT. A
metric with no A/A data falls back to the command line's --noise-pct, and the
comparison says so in its detail ("default floor, no A/A data").
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

AA_NOISE_PATH = Path(__file__).with_name("aa_noise.json")
AA_VERSION = 1
SAFETY = 1.5  # a few A/A pairs see less than the worst case: keep a margin above them
MIN_FLOOR_PCT = 2.0


def mode_of(config: Mapping[str, Any] | None) -> str:
    return "quick" if (config or {}).get("quick") else "full"


@dataclass
class NoiseFloors:
    spreads: dict[str, dict[str, dict[str, dict[str, float]]]]  # mode -> suite -> id -> metric -> %
    source: str = ""
    pairs: int = 0

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
        return cls(data.get("spreads") or {}, str(path.name), int(data.get("runs", 0)))

    def floor(self, mode: str, suite: str, entry_id: str, metric: str,
              default_pct: float) -> tuple[float, str]:
        """(floor in percent, where it came from)."""
        spread = self.spreads.get(mode, {}).get(suite, {}).get(entry_id, {}).get(metric)
        if spread is None:
            return default_pct, f"default floor {default_pct:g} %, no A/A data"
        pct = max(MIN_FLOOR_PCT, SAFETY * float(spread))
        return pct, f"floor {pct:.3g} % (A/A spread {float(spread):.3g} % × {SAFETY:g})"


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
    return {"aa_version": AA_VERSION, "runs": len(runs), "spreads": spreads}


def merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the larger spread of each metric: more A/A data can only widen the floor."""
    merged = json.loads(json.dumps(old.get("spreads") or {}))
    for mode, suites in (new.get("spreads") or {}).items():
        for suite, ids in suites.items():
            for entry_id, metrics in ids.items():
                slot = merged.setdefault(mode, {}).setdefault(suite, {}).setdefault(entry_id, {})
                for key, spread in metrics.items():
                    slot[key] = max(spread, slot.get(key, 0.0))
    return {"aa_version": AA_VERSION, "runs": int(old.get("runs", 0)) + int(new.get("runs", 0)),
            "spreads": merged}
