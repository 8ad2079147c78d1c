"""The utility MCP server: tools with controlled cost, for calibrating a client.

`noop` is the protocol floor (no work at all); `echo` moves a payload of a
chosen size both ways; `hash` is a little CPU; `sleep` is latency the server
does not spend CPU on; `fail` produces each kind of error on request.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import anyio
import click
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR

from codeperf.mcp import serve

# Tools of this server that fail on purpose: their errors are expected, so benchmarks
# leave them out of error rates (mcp_bench's tool-call error rate, the load pools).
DELIBERATE_FAILURES = frozenset({"fail"})

MAX_ECHO_BYTES = 16 * 1024 * 1024
MAX_SLEEP_MS = 60_000


def build() -> serve.MCPServer:
    server = serve.new_server("codeperf-utility", "Calibration tools: no-op, echo, hash, sleep, fail.")

    # structured_output=False: a plain text result, the smallest a tool can return. async:
    # the SDK runs a plain `def` tool in a worker thread, which would be work.
    @server.tool(structured_output=False)
    async def noop() -> str:
        """Do nothing and return an empty text result (the protocol floor)."""
        return ""

    @server.tool(structured_output=False)
    def echo(payload: str = "", size_bytes: int = 0) -> str:
        """Return `payload`; with no payload, return `size_bytes` bytes of 'x'."""
        if payload:
            return payload
        if not 0 <= size_bytes <= MAX_ECHO_BYTES:
            raise ToolError(f"size_bytes must be within 0..{MAX_ECHO_BYTES}")
        return "x" * size_bytes

    @server.tool(name="hash", structured_output=False)
    def hash_payload(payload: str, algorithm: Literal["sha256", "sha1", "md5", "blake2b"] = "sha256",
                     rounds: int = 1) -> str:
        """Hex digest of `payload`, re-hashed `rounds` times (1..10000)."""
        if not 1 <= rounds <= 10_000:
            raise ToolError("rounds must be within 1..10000")
        data = payload.encode()
        for _ in range(rounds):
            data = hashlib.new(algorithm, data).digest()
        return data.hex()

    @server.tool(structured_output=False)
    async def sleep(ms: float = 10.0) -> str:
        """Wait `ms` milliseconds without using CPU, then return "slept"."""
        if not 0 <= ms <= MAX_SLEEP_MS:
            raise ToolError(f"ms must be within 0..{MAX_SLEEP_MS}")
        await anyio.sleep(ms / 1000.0)
        return "slept"

    @server.tool(structured_output=False)
    def fail(kind: Literal["tool_error", "protocol_error"] = "tool_error",
             message: str = "failure requested") -> str:
        """Fail on purpose: `tool_error` returns an isError result, `protocol_error` a JSON-RPC error."""
        if kind == "protocol_error":
            raise MCPError(INTERNAL_ERROR, message)
        raise ToolError(message)

    return server


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@serve.transport_options
def main(transport: str, host: str, port: int,
         stdio_transport: str) -> None:
    """Run the codeperf utility MCP server."""
    serve.run(build(), transport, host, port, stdio_transport)


if __name__ == "__main__":
    main()
