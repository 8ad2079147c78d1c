"""Backend objects and the guarded import of the Rust extension."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, Sequence

import codeperf
from codeperf.engine import aggregate as _aggregate
from codeperf.engine import analysis as _analysis
from codeperf.engine import consensus as _consensus

BACKENDS = ("rust", "python")
REBUILD_HINT = "build it with `make build` (maturin develop --release)"


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here; the message says why and how to fix it."""


class Backend(Protocol):
    name: str

    def analyze_responses(self, responses: Sequence[Any]) -> dict[str, Any]: ...

    def compute_consensus(self, responses: Sequence[Any], threshold: float = 0.7,
                          similarity: str = "cosine",
                          matrix_budget_bytes: int | None = None) -> dict[str, Any]: ...

    def aggregate_responses(self, responses: Sequence[Any]) -> dict[str, Any]: ...


class PythonBackend:
    """The pure-Python twin."""

    name = "python"

    def analyze_responses(self, responses: Sequence[Any]) -> dict[str, Any]:
        return _analysis.analyze_responses(responses)

    def compute_consensus(self, responses: Sequence[Any], threshold: float = 0.7,
                          similarity: str = "cosine",
                          matrix_budget_bytes: int | None = None) -> dict[str, Any]:
        return _consensus.compute_consensus(responses, threshold=threshold, similarity=similarity,
                                            matrix_budget_bytes=matrix_budget_bytes)

    def aggregate_responses(self, responses: Sequence[Any]) -> dict[str, Any]:
        return _aggregate.aggregate_responses(responses)


class RustBackend:
    """The compiled extension; its functions have the same signatures as the twin's."""

    name = "rust"

    def __init__(self, module: Any) -> None:
        self.module = module
        self.analyze_responses = module.analyze_responses
        self.compute_consensus = module.compute_consensus
        self.aggregate_responses = module.aggregate_responses


@dataclass(frozen=True)
class RustStatus:
    usable: bool
    reason: str
    module: Any = None


@lru_cache(maxsize=1)
def rust_status() -> RustStatus:
    """Whether the compiled extension imports and matches this package's version."""
    try:
        from codeperf import _rust
    except ImportError as exc:
        return RustStatus(False, f"the Rust extension codeperf._rust is not built ({exc}); "
                                 f"{REBUILD_HINT}")
    built = getattr(_rust, "__version__", None)
    if built != codeperf.__version__:
        return RustStatus(False, f"stale Rust extension: codeperf._rust is version {built}, the "
                                 f"package is {codeperf.__version__}; rebuild it with `make build`")
    return RustStatus(True, "ok", _rust)


_PYTHON = PythonBackend()


def backend(name: str) -> Backend:
    """The backend called `name` ("rust" or "python"); BackendUnavailable if it cannot run."""
    if name == "python":
        return _PYTHON
    if name == "rust":
        status = rust_status()
        if not status.usable:
            raise BackendUnavailable(status.reason)
        return RustBackend(status.module)
    raise BackendUnavailable(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")
