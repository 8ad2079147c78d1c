"""Input validation (docs/algorithms.md, "Input"): the same checks, order and
messages as crates/codeperf-py/src/convert.rs, so both backends raise the same
ValueError for the same bad input."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

_MISSING = object()
MAX_TOKENS = 2**63 - 1
# A response's text must be shorter than this many code points: the Rust engine keeps
# byte offsets within a response as u32, and 2**30 code points are under 2**32 bytes of
# UTF-8 (at most 4 bytes each). Checked on both backends, with the same message.
MAX_CONTENT_CHARS = 2**30
# compute_consensus refuses inputs whose similarity matrix (n (n - 1) / 2 float64) would
# exceed this many bytes unless the caller passes another `matrix_budget_bytes`:
# 512 MiB admits up to 11,585 responses (10,000 need 400 MB).
DEFAULT_MATRIX_BUDGET_BYTES = 512 * 1024 * 1024
# Items that cannot be a response: reported as such, not as a missing first field.
_NOT_RESPONSES = (type(None), bool, int, float, complex, str, bytes, bytearray, list, tuple,
                  set, frozenset)


@dataclass(frozen=True, slots=True)
class Response:
    """A validated response, fields in the engine's order."""

    expert: str
    model: str
    content: str
    confidence: float
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def _fail(i: int, field: str, reason: str) -> ValueError:
    return ValueError(f"responses[{i}].{field}: {reason}")


def _text(i: int, field: str, value: Any) -> str:
    if value is _MISSING:
        raise _fail(i, field, "missing")
    if not isinstance(value, str):
        raise _fail(i, field, "must be a string")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _fail(i, field, "must be valid Unicode (no lone surrogates)") from None
    return value


def _number(i: int, field: str, value: Any) -> float:
    if value is _MISSING:
        raise _fail(i, field, "missing")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(i, field, "must be a number")
    try:
        return float(value)
    except OverflowError:  # an int too large for a double
        raise _fail(i, field, "must be a finite number") from None


def _count(i: int, field: str, value: Any) -> int:
    if value is _MISSING:
        raise _fail(i, field, "missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(i, field, "must be an integer")
    if value < 0:
        raise _fail(i, field, "must be >= 0")
    if value > MAX_TOKENS:
        raise _fail(i, field, "must be < 2**63")
    return int(value)


def validate_params(threshold: Any, similarity: Any) -> tuple[float, str]:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ValueError("threshold: must be a number in [0, 1]")
    try:
        threshold = float(threshold)
    except OverflowError:  # an int too large for a double
        raise ValueError("threshold: must be a number in [0, 1]") from None
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold: must be a number in [0, 1]")
    if similarity not in ("cosine", "jaccard"):
        raise ValueError("similarity: must be 'cosine' or 'jaccard'")
    return threshold, similarity


def matrix_bytes(n: int) -> int:
    """Bytes of the condensed similarity matrix of n responses: n (n - 1) / 2 float64."""
    return n * (n - 1) // 2 * 8


def validate_matrix_budget(budget: Any) -> int:
    if budget is None:
        return DEFAULT_MATRIX_BUDGET_BYTES
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise ValueError("matrix_budget_bytes: must be an integer >= 0")
    return int(budget)


def check_matrix_budget(n: int, budget: int) -> None:
    needed = matrix_bytes(n)
    if needed > budget:
        raise ValueError(
            f"responses: the similarity matrix of {n} responses needs {needed} bytes "
            f"(n*(n-1)/2 float64), over the budget of {budget} bytes; pass fewer responses "
            f"or a larger matrix_budget_bytes")


def validate(responses: Sequence[Any]) -> list[Response]:
    if not isinstance(responses, (list, tuple)):
        raise TypeError("responses: must be a list of dicts or ExpertResponse objects")
    out = []
    for i, item in enumerate(responses):
        if isinstance(item, _NOT_RESPONSES):
            raise ValueError(f"responses[{i}]: must be a dict or an object with the response "
                             f"fields, not {type(item).__name__}")
        if isinstance(item, dict):
            get = item.get
        else:
            def get(name: str, default: Any, _item: Any = item) -> Any:
                return getattr(_item, name, default)
        expert = _text(i, "expert", get("expert", _MISSING))
        model = _text(i, "model", get("model", _MISSING))
        content = _text(i, "content", get("content", _MISSING))
        if len(content) >= MAX_CONTENT_CHARS:
            raise _fail(i, "content", "must be shorter than 2**30 characters")
        confidence = _number(i, "confidence", get("confidence", _MISSING))
        if not 0.0 <= confidence <= 1.0:  # NaN fails too
            raise _fail(i, "confidence", "must be in [0, 1]")
        latency = _number(i, "latency_ms", get("latency_ms", _MISSING))
        if not (math.isfinite(latency) and latency >= 0.0):
            raise _fail(i, "latency_ms", "must be finite and >= 0")
        prompt_tokens = _count(i, "prompt_tokens", get("prompt_tokens", _MISSING))
        completion_tokens = _count(i, "completion_tokens", get("completion_tokens", _MISSING))
        cost = _number(i, "cost_usd", get("cost_usd", _MISSING))
        if not (math.isfinite(cost) and cost >= 0.0):
            raise _fail(i, "cost_usd", "must be finite and >= 0")
        out.append(Response(expert, model, content, confidence, latency,
                            prompt_tokens, completion_tokens, cost))
    return out
