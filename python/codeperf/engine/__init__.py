"""The engine under test: response analysis, consensus and aggregation.

Two backends compute the same results: `rust` (the compiled `codeperf._rust`)
and `python` (the pure-Python twin in this package). `backend(name)` returns
either one; the module-level functions use the active backend, which is Rust
when the extension imports, unless `CODEPERF_BACKEND=python|rust` forces one.
Asking for Rust when it is not built, or when the build is stale, raises
`BackendUnavailable`: never a silent substitute.
"""

from __future__ import annotations

import os
from array import array
from typing import Any, Sequence

from codeperf.engine.backends import (
    BACKENDS,
    Backend,
    BackendUnavailable,
    PythonBackend,
    backend,
    rust_status,
)
from codeperf.engine.models import ExpertResponse

__all__ = [
    "BACKENDS", "Backend", "BackendUnavailable", "ExpertResponse", "PythonBackend",
    "active_backend", "aggregate_responses", "analyze_responses", "backend",
    "compute_consensus", "jsonable", "rust_status",
]

ENV_VAR = "CODEPERF_BACKEND"


def active_backend() -> str:
    """The name of the backend the module-level functions use right now."""
    forced = os.environ.get(ENV_VAR, "").strip().lower()
    if forced:
        if forced not in BACKENDS:
            raise BackendUnavailable(
                f"{ENV_VAR}={forced!r} is not a backend; use one of {', '.join(BACKENDS)}")
        if forced == "rust":
            backend("rust")  # raises with the reason when it is not usable
        return forced
    return "rust" if rust_status().usable else "python"


def _active() -> Backend:
    return backend(active_backend())


def analyze_responses(responses: Sequence[Any]) -> dict[str, Any]:
    return _active().analyze_responses(responses)


def compute_consensus(responses: Sequence[Any], threshold: float = 0.7,
                      similarity: str = "cosine",
                      matrix_budget_bytes: int | None = None) -> dict[str, Any]:
    """`matrix`: the condensed upper triangle as array('d') (docs/algorithms.md); inputs
    whose matrix would exceed `matrix_budget_bytes` (default 512 MiB) raise ValueError."""
    return _active().compute_consensus(responses, threshold=threshold, similarity=similarity,
                                       matrix_budget_bytes=matrix_budget_bytes)


def aggregate_responses(responses: Sequence[Any]) -> dict[str, Any]:
    return _active().aggregate_responses(responses)


def jsonable(result: Any) -> Any:
    """A result with the consensus matrix (an array('d')) as a list of floats, for JSON
    writers that do not know arrays (json, pydantic). Everything else is returned as is."""
    if isinstance(result, array):
        return result.tolist()
    if isinstance(result, dict):
        return {k: jsonable(v) for k, v in result.items()}
    if isinstance(result, list):
        return [jsonable(v) for v in result]
    return result
