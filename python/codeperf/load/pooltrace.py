"""What aiohttp's connection pool did, from its own trace signals.

Per request: time queued for a pooled connection, time to set up a new one
(TCP connect), or a reuse of a kept-alive one; and how many connections were
held at once (acquired at create_end / reuse, released by the caller once the
body has been read).
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import aiohttp

from codeperf.harness.latency import LatencyHistogram


class PoolTrace:
    def __init__(self) -> None:
        self.pool_wait = LatencyHistogram()
        self.connect = LatencyHistogram()
        self.created = 0
        self.reused = 0
        self.queued = 0
        self.held = 0
        self.max_held = 0
        self.config = aiohttp.TraceConfig()
        self.config.on_connection_queued_start.append(self._queued_start)
        self.config.on_connection_queued_end.append(self._queued_end)
        self.config.on_connection_create_start.append(self._create_start)
        self.config.on_connection_create_end.append(self._create_end)
        self.config.on_connection_reuseconn.append(self._reuse)

    def token(self) -> SimpleNamespace:
        """Pass as `trace_request_ctx=` and call `release(token)` once the body is read:
        aiohttp's own request_end fires at the headers, before the connection is free."""
        return SimpleNamespace(holding=False)

    def release(self, token: SimpleNamespace) -> None:
        if token.holding:
            token.holding = False
            self.held -= 1

    def _hold(self, ctx: Any) -> None:
        token = ctx.trace_request_ctx
        if token is not None and not token.holding:
            token.holding = True
            self.held += 1
            self.max_held = max(self.max_held, self.held)

    async def _queued_start(self, session: Any, ctx: Any, params: Any) -> None:
        ctx.queued_at = time.perf_counter()
        self.queued += 1

    async def _queued_end(self, session: Any, ctx: Any, params: Any) -> None:
        self.pool_wait.record_seconds(time.perf_counter() - ctx.queued_at)

    async def _create_start(self, session: Any, ctx: Any, params: Any) -> None:
        ctx.connect_at = time.perf_counter()

    async def _create_end(self, session: Any, ctx: Any, params: Any) -> None:
        self.connect.record_seconds(time.perf_counter() - ctx.connect_at)
        self.created += 1
        self._hold(ctx)

    async def _reuse(self, session: Any, ctx: Any, params: Any) -> None:
        self.reused += 1
        self._hold(ctx)

    def summary(self) -> dict[str, Any]:
        acquired = self.created + self.reused
        return {
            "connections_created_count": self.created,
            "connections_reused_count": self.reused,
            "reuse_ratio_pct": 100.0 * self.reused / acquired if acquired else None,
            "queued_for_pool_count": self.queued,
            "pool_wait_p50_ms": self.pool_wait.percentile_ms(50),
            "pool_wait_p99_ms": self.pool_wait.percentile_ms(99),
            "connect_p50_ms": self.connect.percentile_ms(50),
            "connect_p99_ms": self.connect.percentile_ms(99),
            "max_held_connections_count": self.max_held,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"pool_wait_histogram": self.pool_wait.to_dict(),
                "connect_histogram": self.connect.to_dict()}
