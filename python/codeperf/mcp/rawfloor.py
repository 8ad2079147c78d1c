"""The protocol floor: a JSON-RPC peer with no MCP SDK in it.

It answers `tools/call` for the `noop` tool with the same result the bundled
utility server returns, over the same kinds of pipe (newline-delimited JSON on
stdin/stdout, or JSON over HTTP POST on loopback). Timing a client against this
and against the SDK server shows what the SDK's layers cost per call.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

NOOP_RESULT = {"content": [{"type": "text", "text": ""}], "isError": False}


def answer(message: dict[str, Any]) -> dict[str, Any] | None:
    """The reply to one JSON-RPC message (None for a notification)."""
    if "id" not in message:
        return None
    params = message.get("params") or {}
    if message.get("method") == "tools/call" and params.get("name") == "noop":
        return {"jsonrpc": "2.0", "id": message["id"], "result": NOOP_RESULT}
    return {"jsonrpc": "2.0", "id": message["id"],
            "error": {"code": -32601, "message": "only tools/call noop is served here"}}


async def serve_stdio() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    while line := await reader.readline():
        reply = answer(json.loads(line))
        if reply is not None:
            writer.write(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
            await writer.drain()


def serve_http(host: str, port: int) -> None:
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        reply = answer(await request.json())
        return web.json_response(reply) if reply is not None else web.Response(status=202)

    app = web.Application()
    app.router.add_post("/mcp", handle)
    web.run_app(app, host=host, port=port, print=None, access_log=None)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8766, show_default=True)
def main(transport: str, host: str, port: int) -> None:
    """Raw JSON-RPC no-op server (no MCP SDK): the protocol floor for mcp_bench."""
    if transport == "stdio":
        asyncio.run(serve_stdio())
    else:
        serve_http(host, port)


if __name__ == "__main__":
    main()
