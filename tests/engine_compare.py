"""Comparison of engine results across backends: floats within 1e-9 relative,
everything else (types, keys and their order, lengths, strings, ints) identical."""

from __future__ import annotations

import math
from array import array
from typing import Any

REL_TOL = 1e-9


def differences(a: Any, b: Any, path: str = "$") -> list[str]:
    if isinstance(a, float) and isinstance(b, float):
        if a == b or math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0):
            return []
        return [f"{path}: {a!r} != {b!r}"]
    if type(a) is not type(b):
        return [f"{path}: type {type(a).__name__} != {type(b).__name__}"]
    if isinstance(a, array):
        if a.typecode != b.typecode:
            return [f"{path}: array typecode {a.typecode} != {b.typecode}"]
        return differences(a.tolist(), b.tolist(), path)
    if isinstance(a, dict):
        if list(a) != list(b):
            return [f"{path}: keys {list(a)} != {list(b)}"]
        return [d for k in a for d in differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def jsonable(value: Any) -> Any:
    """The value with every array replaced by a list of its items (golden files are JSON)."""
    if isinstance(value, array):
        return value.tolist()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def assert_same(a: Any, b: Any) -> None:
    diffs = differences(a, b)
    assert not diffs, "results differ:\n" + "\n".join(diffs[:20])
