"""The MCP client (this process) and a bundled MCP server (a child process) under repeated calls.

The official SDK's client talks to the bundled `utility` server over stdio; the
calls are `echo` with a 1 KB payload each way. The client's memory is read on
both heaps and RSS; the server's is its RSS by pid (psutil), the only figure
one can read from outside a process. The SDK's session is structured
concurrency (anyio): it must be entered and left by one task, so it lives in
an event loop on a helper thread and each call is submitted to it; allocations
on that thread are the client's and tracemalloc sees them like any other.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import psutil

from codeperf.memory.context import ComponentSkipped, MemoryContext
from codeperf.memory.heaps import measure_peak, process_rss_bytes
from codeperf.memory.components.engine import partial_leak
from codeperf.memory.leaks import LeakPlan, detect_leak

SERVER = "utility"
TOOL = "echo"
PAYLOAD_BYTES = 1024
_PYTHON_SOURCE = str(Path(__file__).resolve().parents[3])  # the directory holding `codeperf`


class McpSession:
    """An SDK client session to a bundled server, driven from this thread."""

    def __init__(self, ctx: MemoryContext, server: str = SERVER) -> None:
        try:
            from mcp import Client, StdioServerParameters

            from codeperf.mcp import BUNDLED_SERVERS
        except ImportError as exc:
            raise ComponentSkipped(f"the MCP SDK or the bundled servers are not importable ({exc})") from None
        if server not in BUNDLED_SERVERS:
            raise ComponentSkipped(f"no bundled MCP server named {server!r}")
        env = {"PYTHONPATH": os.pathsep.join(p for p in (_PYTHON_SOURCE, os.environ.get("PYTHONPATH")) if p)}
        for key in ("VIRTUAL_ENV", "CODEPERF_BACKEND"):
            if key in os.environ:
                env[key] = os.environ[key]
        self._params = StdioServerParameters(
            command=sys.executable, args=["-m", BUNDLED_SERVERS[server], "--transport", "stdio"], env=env)
        self._client_cls = Client
        self._errlog_path = ctx.out_dir / f"memory-mcp-{server}.stderr.log"
        self.server_pid: int | None = None
        self.client: Any = None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="memory-mcp", daemon=True)
        self._thread.start()
        self._ready: Future = Future()
        self._close: asyncio.Event | None = None
        self._main = asyncio.run_coroutine_threadsafe(self._hold_session(), self.loop)
        try:
            self._ready.result(timeout=60)
        except BaseException:
            self.close()
            raise

    async def _hold_session(self) -> None:
        self._close = asyncio.Event()
        me = psutil.Process()
        before = {c.pid for c in me.children()}
        self._errlog_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._errlog_path.open("a", encoding="utf-8") as errlog:
                from mcp.client.stdio import stdio_client

                async with self._client_cls(stdio_client(self._params, errlog=errlog),
                                            read_timeout_seconds=30) as client:
                    new = {c.pid for c in me.children()} - before
                    self.server_pid = new.pop() if len(new) == 1 else None
                    self.client = client
                    self._ready.set_result(True)
                    await self._close.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def call(self, tool: str = TOOL, arguments: dict[str, Any] | None = None) -> Any:
        args = {"size_bytes": PAYLOAD_BYTES} if arguments is None else arguments
        result = asyncio.run_coroutine_threadsafe(self.client.call_tool(tool, args), self.loop).result(60)
        if result.is_error:
            raise RuntimeError(f"MCP tool {tool} failed: {result.content}")
        return result

    def close(self) -> None:
        if self._close is not None:
            self.loop.call_soon_threadsafe(self._close.set)
        try:
            self._main.result(timeout=15)
        except Exception:  # the session's own failure was reported when it happened
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


def run(ctx: MemoryContext) -> None:
    session = McpSession(ctx)
    try:
        _measure(ctx, session)
    finally:
        session.close()


def _measure(ctx: MemoryContext, session: McpSession) -> None:
    pid = session.server_pid
    ctx.log(f"mcp: bundled {SERVER} server over stdio (pid {pid})")
    with ctx.sampler.phase("mcp/calls"):
        for _ in range(10):
            session.call()
        server_before = process_rss_bytes(pid) if pid else None
        m = measure_peak(session.call, ctx.rust, ctx.sampled_max_rss)
    summary = {**m.summary(), "server_rss_bytes": process_rss_bytes(pid) if pid else None,
               "server_rss_before_bytes": server_before}
    if m.rss_peak_bytes is not None:
        ctx.normal_load_rss_peaks["mcp/client"] = m.rss_peak_bytes
    ctx.add_result({"id": f"mcp/{SERVER}/{TOOL}/client_call", "kind": "peak", "summary": summary,
                    "rss_peak_method": m.rss_peak_method, "server_pid": pid})

    plan = (LeakPlan(warmup_calls=20, batches=5, calls_per_batch=20) if ctx.quick
            else LeakPlan(warmup_calls=50, batches=10, calls_per_batch=100))
    extra = {"server_rss": (lambda: process_rss_bytes(pid))} if pid else {}
    with ctx.sampler.phase("mcp/leak"):
        report = detect_leak(session.call, plan, label="mcp/echo", rust=ctx.rust,
                             extra_series=extra, progress=ctx.log,
                             on_stop=partial_leak(ctx, f"leaks/mcp_client/{SERVER}_{TOOL}"))
    entry = report.to_entry(f"leaks/mcp_client/{SERVER}_{TOOL}")
    entry["server_pid"] = pid
    ctx.add_result(entry)
    rate = report.summary()["heaps_total_bytes_per_100_ops"]
    if rate is not None:
        ctx.leak_rates["mcp/client"] = rate
    server = report.series.get("server_rss")
    server_note = (f"; server RSS {server.fit.slope:,.1f} B/call" if server and server.fit else "")
    ctx.log(f"mcp: client retained {report.summary()['heaps_total_bytes_per_call']:,.1f} B/call"
            f"{server_note}{'  LEAK' if report.leak else ''}")
