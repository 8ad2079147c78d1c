"""Request error kinds: how a failed request is counted, wherever it is counted.

The product's orchestrator labels each expert call's failure with these kinds,
and the load generator and the MCP suite count their failures by them, so one
`http_503` means the same thing in every result. It lives in the harness, not
in the load generator, so the product can classify its errors without
importing a load-testing suite.

Kinds: connect, timeout, http_<status>, protocol (dropped connection, bad JSON
or SSE), and whatever a caller raises as `RequestError(kind)` (engine,
mcp_<kind>, ...); `other` for anything unrecognised.
"""

from __future__ import annotations

import asyncio

import aiohttp


class RequestError(Exception):
    """A failed request whose kind the caller knows (e.g. "engine", "http_503")."""

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(message or kind)
        self.kind = kind


def classify_error(exc: BaseException) -> str:
    """The error kind of an exception raised by an operation."""
    if isinstance(exc, RequestError):
        return exc.kind
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"http_{exc.status}"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):  # aiohttp's timeouts included
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect"
    if isinstance(exc, aiohttp.ClientError):  # disconnected mid-answer, bad payload, bad SSE
        return "protocol"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, (ConnectionRefusedError, ConnectionAbortedError)):
        return "connect"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, EOFError, ValueError)):
        return "protocol"
    if isinstance(exc, OSError):
        return "connect"
    return "other"
