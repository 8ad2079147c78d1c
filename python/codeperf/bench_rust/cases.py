"""What one timed call does, shared by the correctness gate, the memory pass and
the pyperf scripts, so all three run exactly the same code on the same input."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from time import perf_counter_ns
from typing import Any, Callable, Sequence

from codeperf import engine
from codeperf.bench_rust.grid import ENGINE_OPS, FFI_OP, Size
from codeperf.engine.corpus_families import generate_family

CONSENSUS_THRESHOLD = 0.7
FFI_ARGUMENT = 12345  # an int: the cheapest object to pass, so only the crossing is timed
FFI_UNROLL = 10  # calls per loop iteration in the FFI case, so the loop itself is not what we time

DESCRIPTIONS = {
    "analyze": "analyze_responses(responses)",
    "consensus_cosine": "compute_consensus(responses, threshold=0.7, similarity='cosine')",
    "consensus_jaccard": "compute_consensus(responses, threshold=0.7, similarity='jaccard')",
    "aggregate": "aggregate_responses(responses)",
    "pipeline": "analyze_responses, compute_consensus (cosine) and aggregate_responses in sequence",
    FFI_OP: "noop(12345): the extension's trivial function vs a Python `return x`",
}


@dataclass(frozen=True)
class Case:
    """One timed benchmark: an operation on one backend at one input size."""

    op: str
    backend: str
    size: Size | None  # None for the FFI baseline, which takes no corpus
    seed: int = 0

    @property
    def size_label(self) -> str:
        return self.size.label if self.size is not None else "call"

    @property
    def id(self) -> str:
        return f"{self.op}/{self.backend}/{self.size_label}"

    @property
    def bench_name(self) -> str:
        """pyperf's benchmark name: without the backend, so `pyperf compare_to` pairs the
        Python file with the Rust file (and a run with its baseline)."""
        return f"{self.op}/{self.size_label}"

    @property
    def file_name(self) -> str:
        return f"{self.op}__{self.backend}__{self.size_label}.json"


def python_noop(x: Any) -> Any:
    """The Python side of the FFI baseline."""
    return x


def make_input(op: str, size: Size | None, seed: int = 0) -> Any:
    if op == FFI_OP:
        return FFI_ARGUMENT
    if size is None:
        raise ValueError(f"{op} needs an input size")
    return generate_family(size.family, size.responses, size.size_bytes, seed=seed)


def input_fingerprint(data: Any) -> str:
    """sha256 of the input: the gate and the timed worker must agree on it."""
    if isinstance(data, (list, tuple)):
        payload = json.dumps([asdict(r) if hasattr(r, "__dataclass_fields__") else r
                              for r in data], sort_keys=True)
    else:
        payload = json.dumps(data)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _pipeline(be: engine.Backend, responses: Sequence[Any]) -> dict[str, Any]:
    return {
        "analysis": be.analyze_responses(responses),
        "consensus": be.compute_consensus(responses, threshold=CONSENSUS_THRESHOLD,
                                          similarity="cosine"),
        "aggregate": be.aggregate_responses(responses),
    }


def operation(op: str, backend_name: str) -> Callable[[Any], Any]:
    """The callable timed for `op` on `backend_name`; raises BackendUnavailable when the
    backend cannot run (never a substitute)."""
    be = engine.backend(backend_name)
    if op == FFI_OP:
        return be.module.noop if backend_name == "rust" else python_noop  # type: ignore[attr-defined]
    if op == "analyze":
        return be.analyze_responses
    if op in ("consensus_cosine", "consensus_jaccard"):
        return functools.partial(be.compute_consensus, threshold=CONSENSUS_THRESHOLD,
                                 similarity=op.removeprefix("consensus_"))
    if op == "aggregate":
        return be.aggregate_responses
    if op == "pipeline":
        return functools.partial(_pipeline, be)
    raise ValueError(f"unknown op {op!r}; expected one of {', '.join(ENGINE_OPS + (FFI_OP,))}")


# -- pyperf time functions: bench_time_func(name, fn, loops, *args) -------------
def time_calls(loops: int, fn: Callable[[Any], Any], arg: Any) -> float:
    """`loops` calls of fn(arg); seconds, timed with perf_counter_ns."""
    it = range(loops)
    start = perf_counter_ns()
    for _ in it:
        fn(arg)
    return (perf_counter_ns() - start) / 1e9


def time_calls_unrolled(loops: int, fn: Callable[[Any], Any], arg: Any) -> float:
    """`loops` x FFI_UNROLL calls (pyperf divides by inner_loops=FFI_UNROLL)."""
    it = range(loops)
    start = perf_counter_ns()
    for _ in it:
        fn(arg); fn(arg); fn(arg); fn(arg); fn(arg)  # noqa: E702
        fn(arg); fn(arg); fn(arg); fn(arg); fn(arg)  # noqa: E702
    return (perf_counter_ns() - start) / 1e9
