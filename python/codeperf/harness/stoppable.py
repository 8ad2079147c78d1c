"""`run_stoppable`: asyncio.run where SIGTERM cancels the run as Ctrl-C does.

Every suite driving an event loop (load, MCP) runs it through this, so its
`finally` blocks record what was measured before a SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any, Awaitable, Callable

from codeperf.harness.envelope import Interrupted


def run_stoppable(coro: Awaitable[Any],
                  loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> Any:
    """`asyncio.run(coro)`, where SIGTERM cancels the coroutine as Ctrl-C does, then raises
    `Interrupted`. `loop_factory` chooses the event loop (e.g. uvloop's), as
    `asyncio.Runner` does; None is asyncio's default loop.

    A SIGTERM handler that raises (the Recorder's) can fire inside a transport
    callback, where asyncio logs the exception and carries on: the run would
    ignore SIGTERM. Cancelling the main task lets every `finally` block of the
    generator and the scenarios run, so what was measured is recorded.
    """
    received: list[int] = []

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None  # main() runs as asyncio.run's task

        def on_sigterm() -> None:
            received.append(signal.SIGTERM)
            task.cancel()

        try:
            loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            return await coro
        try:
            return await coro
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if in_main else None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            value = runner.run(main())
    except asyncio.CancelledError:
        if received:
            raise Interrupted("SIGTERM") from None
        raise
    finally:
        if previous is not None:  # remove_signal_handler resets to SIG_DFL; put the caller's back
            signal.signal(signal.SIGTERM, previous)
    if received:  # the coroutine swallowed the cancellation: still an interrupted run
        raise Interrupted("SIGTERM")
    return value
