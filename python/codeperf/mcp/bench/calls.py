"""Timed tool calls: one outcome per call, statistics per tool, concurrency.

Each call is timed with `perf_counter_ns` from just before the SDK sends it to
just after the result is validated. Its outcome is one of:

  ok          a result with isError false
  is_error    a result with isError true (the tool reported a failure)
  jsonrpc     a JSON-RPC error response (unknown tool, bad params, server error)
  timeout     no answer within the call timeout (the SDK's, or our hard bound)
  transport   the connection broke (server exited, pipe closed, HTTP failure)

Only `ok` calls enter the latency histogram and calls/s; errors are counted
by kind and the first message of each kind is kept.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import anyio
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

from codeperf.harness.latency import LatencyHistogram

ERROR_KINDS = ("transport", "jsonrpc", "is_error", "timeout")
# Beyond the SDK's own read timeout, a hard bound: a call that neither answers nor
# times out in the SDK (a stuck write) must still end.
HARD_BOUND_EXTRA_S = 2.0


@dataclass(frozen=True)
class Outcome:
    kind: str  # "ok" or one of ERROR_KINDS
    latency_ns: int
    message: str = ""


def classify(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, MCPError):
        if exc.code == REQUEST_TIMEOUT:
            return "timeout", exc.message
        if exc.code == CONNECTION_CLOSED:
            return "transport", exc.message
        return "jsonrpc", f"{exc.code}: {exc.message}"
    if isinstance(exc, TimeoutError):
        return "timeout", "no answer within the hard bound"
    return "transport", f"{type(exc).__name__}: {exc}"


async def call_once(client: Client, tool: str, arguments: dict[str, Any], timeout_s: float) -> Outcome:
    start = time.perf_counter_ns()
    try:
        with anyio.fail_after(timeout_s + HARD_BOUND_EXTRA_S):
            result = await client.call_tool(tool, arguments, read_timeout_seconds=timeout_s)
    except Exception as exc:  # every failure is data here, classified by kind
        kind, message = classify(exc)
        return Outcome(kind, time.perf_counter_ns() - start, message)
    elapsed = time.perf_counter_ns() - start
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)[:300]
        return Outcome("is_error", elapsed, text)
    return Outcome("ok", elapsed)


@dataclass
class CallStats:
    """Outcomes of a batch of calls: latency of the successes, errors by kind."""

    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    first_error: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    wall_s: float = 0.0
    consecutive_broken: int = 0  # transport errors and timeouts in a row

    def add(self, outcome: Outcome) -> None:
        self.calls += 1
        broken = outcome.kind in ("transport", "timeout")
        self.consecutive_broken = self.consecutive_broken + 1 if broken else 0
        if outcome.kind == "ok":
            self.histogram.record_ns(outcome.latency_ns)
        else:
            self.errors[outcome.kind] += 1
            self.first_error.setdefault(outcome.kind, outcome.message)

    @property
    def ok(self) -> int:
        return self.histogram.count

    def summary(self) -> dict[str, Any]:
        lat = self.histogram.summary()
        return {
            "calls_count": self.calls,
            "ok_count": self.ok,
            "mean_ms": lat["mean_ms"], "p50_ms": lat["p50_ms"], "p95_ms": lat["p95_ms"],
            "p99_ms": lat["p99_ms"], "max_ms": lat["max_ms"],
            "calls_per_s_rps": self.ok / self.wall_s if self.wall_s > 0 else None,
            "wall_s": round(self.wall_s, 6),
            **{f"errors_{kind}_count": n for kind, n in self.errors.items()},
        }


class ServerBroken(Exception):
    """The server stopped answering (crashed or hung); the rest of its run is skipped."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


async def run_calls(client: Client, plan: Sequence[tuple[str, dict[str, Any]]], *, total: int,
                    concurrency: int, timeout_s: float, stats: CallStats | None = None,
                    per_tool: dict[str, CallStats] | None = None,
                    give_up_after: int = 0, budget_s: float | None = None) -> CallStats:
    """`total` calls cycling through `plan` (tool, arguments), `concurrency` in flight.

    A closed loop: each worker sends its next call when the previous one
    answers (the sweep measures what a client with N calls in flight sees).
    With `budget_s`, no call starts after that many seconds (slow tools end early;
    `calls` says how many ran).
    With `give_up_after` > 0, that many consecutive transport errors or
    timeouts raise ServerBroken instead of grinding through the remaining calls.
    """
    stats = stats or CallStats()
    order = itertools.cycle(plan)
    remaining = total
    broken: ServerBroken | None = None

    deadline = time.perf_counter() + budget_s if budget_s else float("inf")

    async def worker() -> None:
        nonlocal remaining, broken
        while remaining > 0 and broken is None and time.perf_counter() < deadline:
            remaining -= 1
            tool, arguments = next(order)
            outcome = await call_once(client, tool, arguments, timeout_s)
            stats.add(outcome)
            if per_tool is not None:
                per_tool.setdefault(tool, CallStats()).add(outcome)
            if give_up_after and stats.consecutive_broken >= give_up_after:
                broken = ServerBroken(outcome.kind, outcome.message)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, total)))))
    stats.wall_s += time.perf_counter() - started
    if broken is not None:
        raise broken
    return stats
