"""The protocol floor: what a no-op tool call costs through the SDK vs raw JSON-RPC.

Four measurements of the same work (N `tools/call noop` requests, C in flight):

  sdk/stdio  mcp.Client -> bundled utility server (MCPServer) over stdio pipes
  raw/stdio  a minimal asyncio JSON-RPC client -> `codeperf.mcp.rawfloor` over stdio pipes
  sdk/http   mcp.Client (httpx) -> utility server (uvicorn/starlette) over streamable HTTP
  raw/http   aiohttp client -> rawfloor (aiohttp server), JSON over HTTP POST, keep-alive

The bundled server serves stdio on non-blocking pipes (codeperf.mcp.pipes, its
default on POSIX); to show where the stdio time goes, `sdk-stdio-server/stdio`
runs the same SDK client and server on the SDK's own stdio_server (a worker
thread per read, write and flush). Each SDK entry names its server's
`server_stdio_transport`.

Both raw peers speak the same JSON-RPC messages and send the same result; they
skip everything the SDK adds (validation models, dispatch layers, session
state, SSE framing). `sdk_overhead_x` = SDK wall time / raw wall time.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any, Awaitable, Callable

from codeperf.harness.latency import LatencyHistogram
from codeperf.mcp import serve
from codeperf.mcp.bench import launch
from codeperf.mcp.bench.calls import CallStats, run_calls

NOOP_REQUEST = {"name": "noop", "arguments": {}}
WARMUP_CALLS = 20


async def _closed_loop(send: Callable[[int], Awaitable[bool]], total: int, concurrency: int
                       ) -> tuple[LatencyHistogram, int, float]:
    hist = LatencyHistogram()
    failures = 0
    counter = iter(range(total))

    async def worker() -> None:
        nonlocal failures
        for i in counter:
            start = time.perf_counter_ns()
            ok = await send(i + 1)
            if ok:
                hist.record_ns(time.perf_counter_ns() - start)
            else:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return hist, failures, time.perf_counter() - started


def _valid(reply: dict[str, Any], request_id: int) -> bool:
    return (reply.get("id") == request_id and reply.get("result", {}).get("isError") is False)


async def raw_stdio(total: int, concurrency: int) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "codeperf.mcp.rawfloor", "--transport", "stdio",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, env=os.environ.copy(), start_new_session=True,
        limit=64 * 1024 * 1024)
    launch._remember(proc.pid)
    assert proc.stdin and proc.stdout
    waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def reader() -> None:
        assert proc.stdout
        while line := await proc.stdout.readline():
            reply = json.loads(line)
            future = waiting.pop(reply.get("id"), None)
            if future is not None and not future.done():
                future.set_result(reply)

    async def send(request_id: int) -> bool:
        assert proc.stdin
        future = asyncio.get_running_loop().create_future()
        waiting[request_id] = future
        message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": NOOP_REQUEST}
        proc.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        await proc.stdin.drain()
        return _valid(await asyncio.wait_for(future, 30), request_id)

    read_task = asyncio.create_task(reader())
    try:
        await _closed_loop(send, WARMUP_CALLS, 1)  # the server's start-up is not a call
        hist, failures, wall = await _closed_loop(send, total, concurrency)
    finally:
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
        read_task.cancel()
    return _entry("raw", "stdio", hist, failures, wall, total, concurrency)


async def raw_http(total: int, concurrency: int, log_dir: Any) -> dict[str, Any]:
    import aiohttp

    spec = launch.ServerSpec("rawfloor.http", "http", command=[
        sys.executable, "-m", "codeperf.mcp.rawfloor", "--transport", "http", "--port", "{port}"],
        env={k: os.environ[k] for k in launch.PASS_ENV if k in os.environ}, bundled=True)
    async with launch.ServerHandle(spec, log_dir, 30.0) as handle:
        assert handle.url is not None
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:
            async def send(request_id: int) -> bool:
                message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                           "params": NOOP_REQUEST}
                async with http.post(handle.url, json=message) as response:
                    return _valid(await response.json(), request_id)

            await _closed_loop(send, WARMUP_CALLS, 1)
            hist, failures, wall = await _closed_loop(send, total, concurrency)
    return _entry("raw", "http", hist, failures, wall, total, concurrency)


async def sdk(transport: str, total: int, concurrency: int, log_dir: Any, timeout_s: float,
              stdio_transport: str = serve.DEFAULT_STDIO_TRANSPORT) -> dict[str, Any]:
    """The bundled utility server as shipped; `stdio_transport="sdk"`: on the SDK's stdio_server."""
    spec = launch.bundled_spec("utility", transport)
    spec.label = f"floor-utility.{transport}"
    client = "sdk"
    if transport == "stdio":
        assert spec.command is not None
        spec.command += ["--stdio-transport", stdio_transport]  # explicit: the entry names it
        if stdio_transport != serve.DEFAULT_STDIO_TRANSPORT:
            spec.label += f"-{stdio_transport}"
            client = "sdk-stdio-server" if stdio_transport == "sdk" else f"sdk-{stdio_transport}"
    async with launch.ServerHandle(spec, log_dir, timeout_s) as handle:
        async with handle.session() as session:
            await run_calls(session.client, [("noop", {})], total=WARMUP_CALLS, concurrency=1,
                            timeout_s=timeout_s)  # warm-up: imports, first-call caches
            stats = await run_calls(session.client, [("noop", {})], total=total,
                                    concurrency=concurrency, timeout_s=timeout_s)
    entry = _entry(client, transport, stats.histogram, stats.calls - stats.ok, stats.wall_s,
                   total, concurrency, stats)
    entry["server_stdio_transport"] = stdio_transport if transport == "stdio" else None
    return entry


def _entry(client: str, transport: str, hist: LatencyHistogram, failures: int, wall: float,
           total: int, concurrency: int, stats: CallStats | None = None) -> dict[str, Any]:
    lat = hist.summary()
    return {
        "id": f"protocol_floor/{transport}/{client}/{total}x-c{concurrency}",
        "kind": "floor",
        "summary": {"calls_count": total, "ok_count": hist.count, "failed_count": failures,
                    "wall_s": round(wall, 6), "calls_per_s_rps": hist.count / wall if wall else None,
                    "mean_ms": lat["mean_ms"], "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"],
                    "max_ms": lat["max_ms"]},
        "client": client, "transport": transport, "concurrency": concurrency,
        "errors_by_kind": stats.errors if stats else None,
        "histogram": hist.to_dict(),
    }


def ratio_entry(transport: str, sdk_entry: dict[str, Any], raw_entry: dict[str, Any]) -> dict[str, Any]:
    sdk_s, raw_s = sdk_entry["summary"], raw_entry["summary"]
    both_ok = sdk_s["failed_count"] == 0 and raw_s["failed_count"] == 0
    return {
        "id": f"protocol_floor/{transport}/sdk_vs_raw",
        "kind": "floor_ratio",
        "summary": {
            "sdk_wall_s": sdk_s["wall_s"], "raw_wall_s": raw_s["wall_s"],
            "sdk_overhead_x": (sdk_s["wall_s"] / raw_s["wall_s"]) if both_ok and raw_s["wall_s"] else None,
            "sdk_mean_over_raw_mean_x": (sdk_s["mean_ms"] / raw_s["mean_ms"])
            if both_ok and raw_s["mean_ms"] else None,
            "sdk_extra_per_call_ms": (sdk_s["wall_s"] - raw_s["wall_s"]) / sdk_s["calls_count"] * 1000
            if both_ok else None,
        },
    }
