"""The command line every bundled server shares: pick a transport, run.

`python -m codeperf.mcp.<server> --transport stdio|http --port N`. HTTP binds to
loopback by default (the machines this runs on share their network); the
streamable HTTP endpoint is `http://HOST:PORT/mcp`.
"""

from __future__ import annotations

import logging
import os

import anyio
from typing import Any, Callable

import click

from mcp.server.mcpserver import MCPServer

HTTP_PATH = "/mcp"
# Per-request INFO lines (uvicorn's access log, the SDK's tool log) would cost
# more than a no-op tool call and flood a benchmark's stderr capture.
LOG_LEVEL = "WARNING"
# The SDK's stdio_server moves every line read, write and flush through a worker
# thread; on 2 shared cores those hops are most of a cheap call's cost (1000 no-op
# calls, 10 in flight: 2.2-3.4 s on it vs 0.9-1.7 s on non-blocking pipes, docs/mcp.md).
# Same SDK server, same messages: only the pipe between the process's stdio and the
# SDK's streams is ours (codeperf.mcp.pipes, POSIX only).
DEFAULT_STDIO_TRANSPORT = "asyncio" if os.name == "posix" else "sdk"


def transport_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--stdio-transport", type=click.Choice(["sdk", "asyncio"]),
                      default=DEFAULT_STDIO_TRANSPORT, show_default=True,
                      help="asyncio: non-blocking pipes on the event loop (codeperf.mcp.pipes, "
                      "POSIX); sdk: the SDK's stdio_server (a worker thread per read/write).")(fn)
    fn = click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True,
                      help="TCP port for --transport http.")(fn)
    fn = click.option("--host", default="127.0.0.1", show_default=True,
                      help="Address to bind for --transport http.")(fn)
    fn = click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio",
                      show_default=True, help="stdio (newline-delimited JSON-RPC on stdin/stdout) "
                      "or streamable HTTP at http://HOST:PORT/mcp.")(fn)
    return fn


def run(server: MCPServer, transport: str, host: str, port: int,
        stdio_transport: str = DEFAULT_STDIO_TRANSPORT) -> None:
    """Serve until stdin closes (stdio) or SIGINT/SIGTERM (http)."""
    logging.getLogger().setLevel(LOG_LEVEL)
    if transport == "stdio" and stdio_transport == "asyncio":
        anyio.run(_serve_asyncio_pipes, server)
    elif transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port, streamable_http_path=HTTP_PATH)


def new_server(name: str, instructions: str) -> MCPServer:
    return MCPServer(name, instructions=instructions, log_level=LOG_LEVEL)


async def _serve_asyncio_pipes(server: MCPServer) -> None:
    from codeperf.mcp.pipes import asyncio_stdio

    # The SDK's own serving loop on our streams; `_lowlevel_server` is what
    # MCPServer.run_stdio_async drives too (SDK 2.3.0).
    lowlevel = server._lowlevel_server  # noqa: SLF001
    async with asyncio_stdio() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
