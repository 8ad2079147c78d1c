#!/usr/bin/env python3
"""Regenerate tests/data/engine_golden.json: engine inputs and the outputs the spec
(docs/algorithms.md) gives for them. Run after an intended change to the spec:

    .venv/bin/python tests/data/make_engine_golden.py

Outputs come from the Python twin and are written only when the Rust backend agrees,
so the file never records one backend's bug as the truth.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codeperf.engine import backend  # noqa: E402
from codeperf.engine.corpus import generate_responses  # noqa: E402
from engine_compare import differences, jsonable  # noqa: E402

OUT = Path(__file__).with_name("engine_golden.json")


def r(content, expert="e", confidence=0.8, model="m", latency_ms=100.0, prompt=10, completion=20,
      cost=0.001):
    return {"expert": expert, "model": model, "content": content, "confidence": confidence,
            "latency_ms": latency_ms, "prompt_tokens": prompt, "completion_tokens": completion,
            "cost_usd": cost}


def inputs() -> dict[str, list[dict]]:
    corpus = [dataclasses.asdict(x) for x in generate_responses(6, 700, seed=11)]
    unicode = [
        r("Ünïcödé TEXT: ÀÉÎÕÜ × Þ — naïve café. 東京で pool を使う！\n- Use POOL\u00a0now", "ü", 0.9),
        r("- use pool now\r\n- Ça va? Oui!\x0bFin. 😀emoji😀 ẞ ß İ ǅ", "ß", 0.6),
        r("```RUST  extra\nfn main() {}\n```\n  ```\nunclosed\n", "x", 0.3),
    ]
    duplicates = [r("- Cache results in Redis\n- Use a pool", "a", 0.9),
                  r("- Cache results in Redis\n- Use a pool", "b", 0.7),
                  r("- cache redis results\n1. Use pool for database", "c", 0.5),
                  r("", "d", 0.0)]
    return {"corpus": corpus, "unicode": unicode, "duplicates": duplicates, "empty": [],
            "one": [r("You should definitely use a pool. It might help.")]}


CASES = [
    ("analyze_responses", {}),
    ("compute_consensus", {"threshold": 0.7, "similarity": "cosine"}),
    ("compute_consensus", {"threshold": 0.3, "similarity": "jaccard"}),
    ("aggregate_responses", {}),
]


def main() -> int:
    py, rs = backend("python"), backend("rust")
    cases = []
    for name, responses in inputs().items():
        for op, kwargs in CASES:
            expected = getattr(py, op)(responses, **kwargs)
            diffs = differences(expected, getattr(rs, op)(responses, **kwargs))
            if diffs:
                print(f"{name}/{op}: backends disagree, not written:\n" + "\n".join(diffs[:10]))
                return 1
            cases.append({"name": name, "op": op, "kwargs": kwargs, "responses": responses,
                          "expected": jsonable(expected)})
    OUT.write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
