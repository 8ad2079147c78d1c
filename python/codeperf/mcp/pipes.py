"""An alternative stdio server transport: non-blocking pipes on the event loop.

The SDK's `stdio_server` reads stdin and writes stdout through anyio's file
wrapper, i.e. a worker-thread round trip for every line read, every write and
every flush. On a small machine those hops dominate a cheap tool call (see
docs/mcp.md, "Where the SDK's time goes"). This transport gives the SDK's
server the same two memory streams, fed by asyncio's pipe transports instead:
same messages, same parsing (`jsonrpc_message_adapter`), no threads.
Bundled servers use it with `--stdio-transport asyncio` (POSIX only).
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import anyio
import mcp_types as types
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage

MAX_LINE_BYTES = 64 * 1024 * 1024


@asynccontextmanager
async def asyncio_stdio() -> AsyncIterator[tuple[Any, Any]]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout)
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
