"""Op factories for load workers (`codeperf.load.workers.OpFactory`) that need no experts.

Each is an async context manager `(worker, workers, **kwargs) -> (op, side data)`,
importable by name so a Ray worker can rebuild it (pass kwargs with
`functools.partial`).

- `sleep_op`: no I/O, a fixed delay per request: the generator's own cost and
  schedule lag, with nothing else on its event loop; `fail_every` makes every
  k-th request fail (error counting).
- `aiohttp_get_op`: GET a URL through aiohttp's client, the client the
  scenarios use (one keep-alive connection pool per worker).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import aiohttp

from codeperf.harness.request_errors import RequestError


@contextlib.asynccontextmanager
async def sleep_op(worker: int, workers: int, *, delay_s: float = 0.0, fail_every: int = 0,
                   ) -> AsyncIterator[tuple[Any, dict[str, Any]]]:
    side: dict[str, Any] = {"worker": worker, "indices": []}

    async def op(i: int) -> None:
        side["indices"].append(i)
        await asyncio.sleep(delay_s)
        if fail_every and i % fail_every == 0:
            raise RequestError("test_failure")

    yield op, side


@contextlib.asynccontextmanager
async def aiohttp_get_op(worker: int, workers: int, *, url: str, connections: int = 64,
                         ) -> AsyncIterator[tuple[Any, None]]:
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def op(i: int) -> None:
            async with session.get(url) as resp:
                await resp.read()
                if resp.status >= 400:
                    raise RequestError(f"http_{resp.status}")

        yield op, None
