"""Shared helpers for the experts and load tests: an in-process simulator and a circle on it."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator

from codeperf.experts.config import Expert, ExpertsConfig
from codeperf.experts.simulator import ModelProfile, Simulator, SimulatorConfig

FAST = ModelProfile("t-fast", ttft_median_ms=5, tokens_per_s=2000, answer_tokens=20)
MID = ModelProfile("t-mid", ttft_median_ms=80,  # well apart from FAST and SLOW: order survives a busy machine
                    tokens_per_s=2000, answer_tokens=20)
SLOW = ModelProfile("t-slow", ttft_median_ms=150, tokens_per_s=2000, answer_tokens=20)
HANG = ModelProfile("t-hang", ttft_median_ms=5, rate_hang=1.0, hang_s=30)
R429 = ModelProfile("t-429", ttft_median_ms=5, rate_429=1.0)
R500 = ModelProfile("t-500", ttft_median_ms=5, rate_500=1.0)
DROP = ModelProfile("t-drop", ttft_median_ms=5, rate_drop=1.0)
MODELS = (FAST, MID, SLOW, HANG, R429, R500, DROP)


@asynccontextmanager
async def simulator(api_key: str | None = None, **config) -> AsyncIterator[Simulator]:
    sim = Simulator(SimulatorConfig(models=MODELS, api_key=api_key, **config))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def circle(url: str, *models: str, stream: bool = False, timeout_s: float = 5.0,
           max_retries: int = 2, api_key_env: str = "") -> ExpertsConfig:
    experts = tuple(Expert(name=f"e{i}-{m}", base_url=url, model=m, stream=stream,
                           timeout_s=timeout_s, max_retries=max_retries, api_key_env=api_key_env)
                    for i, m in enumerate(models))
    return ExpertsConfig(experts)


def run(coro):
    return asyncio.run(coro)


async def serve_routes(routes: dict):
    """A hand-written loopback endpoint ({path: POST handler}) on a free port, for a test
    that needs answers the simulator never gives. Returns (runner, "http://127.0.0.1:PORT");
    the caller cleans the runner up."""
    from aiohttp import web

    app = web.Application()
    for path, handler in routes.items():
        app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
