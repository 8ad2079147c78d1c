"""Golden vectors: both backends reproduce the outputs recorded in tests/data/engine_golden.json
(regenerate with tests/data/make_engine_golden.py after an intended spec change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine_compare import assert_same, jsonable

CASES = json.loads((Path(__file__).parent / "data" / "engine_golden.json").read_text(encoding="utf-8"))


def test_golden_file_covers_every_operation():
    assert {c["op"] for c in CASES} == {"analyze_responses", "compute_consensus", "aggregate_responses"}
    assert {c["name"] for c in CASES} >= {"corpus", "unicode", "duplicates", "empty", "one"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['name']}-{c['op']}-{c['kwargs'].get('similarity', '')}")
def test_backend_reproduces_golden(backend, case):
    assert_same(jsonable(getattr(backend, case["op"])(case["responses"], **case["kwargs"])), case["expected"])
