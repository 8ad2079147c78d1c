"""An alternative stdio server transport: non-blocking pipes on the event loop.

The SDK's `stdio_server` reads stdin and writes stdout through anyio's file
wrapper, i.e. a worker-thread round trip for every line read, every write and
every flush. On a small machine those hops dominate a cheap tool call (see
docs/mcp.md, "Where the SDK's time goes"). This transport gives the SDK's
server the same two memory streams, fed by asyncio's pipe transports instead:
same messages, same parsing (`jsonrpc_message_adapter`), no threads.
Bundled servers use it by default on POSIX (`--stdio-transport asyncio`);
`--stdio-transport sdk` serves on the SDK's own stdio_server.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import anyio
import mcp_types as types
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage

MAX_LINE_BYTES = 64 * 1024 * 1024


def _claim_stdio() -> tuple[Any, Any]:
    """The wire's two pipes on private descriptors; fd 0 becomes /dev/null and fd 1 stderr.

    As the SDK's stdio_server does: a stray print() in a tool, or a child process that
    reads stdin, must not touch the JSON-RPC stream."""
    wire_in, wire_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return os.fdopen(wire_in, "rb", buffering=0), os.fdopen(wire_out, "wb", buffering=0)


@asynccontextmanager
async def asyncio_stdio() -> AsyncIterator[tuple[Any, Any]]:
    loop = asyncio.get_running_loop()
    wire_in, wire_out = _claim_stdio()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), wire_in)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, wire_out)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    read_writer, read_stream = create_context_streams[SessionMessage | Exception](0)
    write_stream, write_reader = create_context_streams[SessionMessage](0)

    async def stdin_reader() -> None:
        async with read_writer:
            while line := await reader.readline():
                try:
                    message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                except Exception as exc:  # the session answers a parse error, as with the SDK's transport
                    await read_writer.send(exc)
                    continue
                await read_writer.send(SessionMessage(message))

    async def stdout_writer() -> None:
        async with write_reader:
            async for session_message in write_reader:
                data = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
                writer.write(data.encode() + b"\n")
                await writer.drain()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stdin_reader)
        tg.start_soon(stdout_writer)
        yield read_stream, write_stream
        tg.cancel_scope.cancel()
