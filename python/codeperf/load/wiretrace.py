"""How many queries had every one of their expert requests on the wire at once.

The generator's own in-flight counter goes up before anything is sent, so with
N workers it equals N whether or not N queries ever reached the experts. This
counts from aiohttp's trace signals instead: a request is on the wire from the
moment its headers were written to the socket (`on_request_headers_sent`) to
the end of the task that reads its answer (the body read, an error, or the
cancellation once the quorum answered). A query counts while *all* its expert
requests are on the wire: from the last one sent to the first one ended. The
endpoint side (what the server saw) is `endpoint_peaks` below.

Which query a request belongs to comes from a context variable set by the
operation `wrap` returns: the orchestrator starts each expert call as a task
of the query's task, so the call inherits it.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import aiohttp

Op = Callable[[int], Awaitable[Any]]


class _Query:
    __slots__ = ("sent", "ended", "on_wire")

    def __init__(self) -> None:
        self.sent: set[asyncio.Task] = set()  # expert-call tasks with a request on the wire
        self.ended = False  # one of its requests has ended: no longer all on the wire
        self.on_wire = False


class WireTrace:
    """Pass `config` in the session's trace_configs and run `wrap(op)` as the operation."""

    def __init__(self, requests_per_query: int) -> None:
        if requests_per_query < 1:
            raise ValueError("a query sends at least one request")
        self.requests_per_query = requests_per_query
        self.queries_on_wire = 0
        self.max_queries_on_wire = 0
        self._current: contextvars.ContextVar[_Query | None] = contextvars.ContextVar(
            "codeperf_wire_query", default=None)
        self.config = aiohttp.TraceConfig()
        self.config.on_request_headers_sent.append(self._headers_sent)

    def wrap(self, op: Op) -> Op:
        async def traced(i: int) -> Any:
            query = _Query()
            token = self._current.set(query)
            try:
                return await op(i)
            finally:
                self._current.reset(token)
                self._end(query)  # a query that ends counts no more, whatever its tasks do

        return traced

    async def _headers_sent(self, session: Any, ctx: Any, params: Any) -> None:
        query = self._current.get()
        task = asyncio.current_task()
        if query is None or task is None or query.ended:
            return
        if task in query.sent:  # a retry: the call's previous request was answered
            self._end(query)
            return
        query.sent.add(task)
        task.add_done_callback(lambda _t: self._end(query))
        if len(query.sent) >= self.requests_per_query:
            query.on_wire = True
            self.queries_on_wire += 1
            self.max_queries_on_wire = max(self.max_queries_on_wire, self.queries_on_wire)

    def _end(self, query: _Query) -> None:
        if query.ended:
            return
        query.ended = True
        if query.on_wire:
            query.on_wire = False
            self.queries_on_wire -= 1


def admin_url(base_url: str) -> str:
    """The bundled simulator's stats URL for an expert base URL (http://host:port/v1)."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/admin"


async def reset_endpoint_peaks(session: aiohttp.ClientSession, base_urls: Iterable[str]) -> None:
    """Start a new peak on every endpoint that has one (others are left alone)."""
    for url in sorted(set(base_urls)):
        try:
            async with session.post(admin_url(url) + "/reset-peak") as resp:
                await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            pass


async def endpoint_peaks(session: aiohttp.ClientSession, base_urls: Iterable[str]
                         ) -> dict[str, int | None]:
    """Each endpoint's own count of the most requests it served at once (None: it has none).

    Only the bundled simulator reports it (`GET /admin/stats`); a real expert
    does not, and its concurrency is then "not measured", never assumed.
    """
    peaks: dict[str, int | None] = {}
    for url in sorted(set(base_urls)):
        try:
            async with session.get(admin_url(url) + "/stats",
                                   timeout=aiohttp.ClientTimeout(total=5)) as resp:
                data = await resp.json() if resp.status == 200 else {}
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError):
            data = {}
        peak = data.get("max_in_flight") if isinstance(data, dict) else None
        peaks[url] = peak if isinstance(peak, int) and not isinstance(peak, bool) else None
    return peaks


def endpoint_queries(peaks: dict[str, int | None], experts_per_endpoint: dict[str, int]
                     ) -> int | None:
    """The fewest queries the endpoints must have served at once, from their request peaks.

    A query has at most one request per expert in flight at a time (retries are
    sequential), so an endpoint serving P requests at once for k experts was
    serving at least ceil(P / k) distinct queries. None when any endpoint did
    not report a peak.
    """
    if not peaks or any(p is None for p in peaks.values()):
        return None
    return max(-(-int(p) // experts_per_endpoint[url]) for url, p in peaks.items()
               if p is not None)
