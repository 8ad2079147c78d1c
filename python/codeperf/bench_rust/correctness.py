"""The correctness gate: both backends on exactly the input about to be timed.

A speedup is only a speedup if both sides computed the same thing. Floats are
compared with a tight relative tolerance (summation order may legitimately
differ in the last bits); everything else must be equal, including dict keys,
list lengths and types (an int is not a float, a bool is not an int).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import Any, Callable

from codeperf.bench_rust import cases
from codeperf.bench_rust.grid import FFI_OP, Size

REL_TOL = 1e-9
ABS_TOL = 1e-12


def first_difference(expected: Any, actual: Any, path: str = "$") -> str | None:
    """Where `actual` departs from `expected` (a JSON-path-like string and both values), or None."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        if type(expected) is not type(actual) or expected != actual:
            return f"{path}: python {expected!r} != rust {actual!r}"
        return None
    if isinstance(expected, float) or isinstance(actual, float):
        if not (isinstance(expected, (int, float)) and isinstance(actual, (int, float))):
            return f"{path}: python {expected!r} != rust {actual!r}"
        if type(expected) is not type(actual):
            return f"{path}: python {type(expected).__name__} {expected!r} != rust {type(actual).__name__} {actual!r}"
        if math.isnan(expected) and math.isnan(actual):
            return None
        if not math.isclose(expected, actual, rel_tol=REL_TOL, abs_tol=ABS_TOL):
            return f"{path}: python {expected!r} != rust {actual!r}"
        return None
    if isinstance(expected, array) or isinstance(actual, array):
        # The consensus matrix: the same array type, then element by element as floats.
        if type(expected) is not type(actual) or expected.typecode != actual.typecode:
            return f"{path}: python {type(expected).__name__} != rust {type(actual).__name__}"
        return first_difference(expected.tolist(), actual.tolist(), path)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: python dict != rust {type(actual).__name__}"
        if set(expected) != set(actual):
            only_py = sorted(map(str, set(expected) - set(actual)))
            only_rs = sorted(map(str, set(actual) - set(expected)))
            return f"{path}: keys differ (only python: {only_py}, only rust: {only_rs})"
        for key in expected:
            diff = first_difference(expected[key], actual[key], f"{path}.{key}")
            if diff:
                return diff
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)):
            return f"{path}: python list != rust {type(actual).__name__}"
        if len(expected) != len(actual):
            return f"{path}: python has {len(expected)} items, rust {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            diff = first_difference(e, a, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if type(expected) is not type(actual) or expected != actual:
        return f"{path}: python {expected!r} != rust {actual!r}"
    return None


@dataclass
class GateResult:
    op: str
    size_label: str
    correct: bool
    detail: str
    input_sha256: str

    @property
    def check(self) -> str:
        return f"correctness:{self.op}/{self.size_label}"


def run_gate(op: str, size: Size | None, seed: int, data: Any,
             operation: Callable[[str, str], Callable[[Any], Any]] = cases.operation) -> GateResult:
    """Run both backends on `data` and compare. An exception on either side fails the gate."""
    label = size.label if size is not None else "call"
    fingerprint = cases.input_fingerprint(data)
    outputs = {}
    for backend_name in ("python", "rust"):
        try:
            outputs[backend_name] = operation(op, backend_name)(data)
        except Exception as exc:  # a crash is a failed gate, reported with its cause
            return GateResult(op, label, False, f"{backend_name} raised {type(exc).__name__}: {exc}",
                              fingerprint)
    if op == FFI_OP:
        ok = all(type(out) is type(data) and out == data for out in outputs.values())
        detail = "both return their argument" if ok else "noop did not return its argument"
        return GateResult(op, label, ok, detail, fingerprint)
    diff = first_difference(outputs["python"], outputs["rust"])
    return GateResult(op, label, diff is None, diff or "outputs equal", fingerprint)
