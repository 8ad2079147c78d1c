"""Which event loop the load generator runs on: `asyncio` (the standard library's) or `uvloop`.

uvloop (libuv under asyncio's API) cuts the generator's own cost per request:
the minimal keep-alive client against the trivial endpoint made 20,600
requests per CPU-second of its thread on asyncio's loop and 45,800 on uvloop
(2-core machine, others' jobs running; docs/load.md, "Scaling the generator").
The client code is the same either way (aiohttp, the orchestrator), only the
loop under it changes, so each run records which loop it had.

Ray's async actors take uvloop whenever it is installed unless the worker's
environment says `RAY_USE_UVLOOP=0`; `ray_env_vars` sets it either way, so a
worker runs the loop the run asked for, and reports the one it got
(`running_loop_name`).
"""

from __future__ import annotations

import asyncio
from typing import Callable

ASYNCIO, UVLOOP = "asyncio", "uvloop"
NAMES = (ASYNCIO, UVLOOP)


def uvloop_installed() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def default_name() -> str:
    """uvloop when installed (the Makefile set-up installs it), else asyncio's loop."""
    return UVLOOP if uvloop_installed() else ASYNCIO


def check(name: str) -> str:
    """`name` if this process can run it; ValueError naming what is missing otherwise."""
    if name not in NAMES:
        raise ValueError(f"unknown event loop {name!r} (choose from {', '.join(NAMES)})")
    if name == UVLOOP and not uvloop_installed():
        raise ValueError("uvloop is not installed (pip install -r requirements.txt)")
    return name


def factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A loop factory for `asyncio.Runner(loop_factory=...)`."""
    if check(name) == UVLOOP:
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def ray_env_vars(name: str) -> dict[str, str]:
    """Environment for Ray workers so that their async actors run loop `name`."""
    return {"RAY_USE_UVLOOP": "1" if check(name) == UVLOOP else "0"}


def running_loop_name() -> str:
    """The loop this coroutine runs on, by name (`uvloop`, `asyncio`, or the class name)."""
    loop = asyncio.get_running_loop()
    module = type(loop).__module__
    if module.startswith("uvloop"):
        return UVLOOP
    if module.startswith("asyncio"):
        return ASYNCIO
    return type(loop).__name__
