"""Simulator capacity: decode slots (a queue beyond them) and per-token time growing with streams."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from codeperf.experts.simulator import ModelProfile, Simulator, SimulatorConfig


async def _serve(profile: ModelProfile, n: int, stream: bool, leave_after_first: int = 0):
    sim = Simulator(SimulatorConfig(models=(profile,)))
    await sim.start()
    ends: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            async def one(i: int) -> None:
                body = {"model": profile.name, "stream": stream,
                        "messages": [{"role": "user", "content": f"q{i}"}]}
                async with session.post(sim.base_url + "/chat/completions", json=body) as resp:
                    if stream and i < leave_after_first:
                        await resp.content.readline()  # first bytes, then hang up
                        resp.close()
                        return
                    await resp.read()
                ends.append(time.perf_counter())

            await asyncio.gather(*(one(i) for i in range(n)))
            await asyncio.sleep(0.3)  # let abandoned generations finish
    finally:
        await sim.stop()
    return sim.stats, ends


def test_slots_limit_how_many_are_served_at_once():
    profile = ModelProfile("cap", ttft_median_ms=30, tokens_per_s=500, answer_tokens=10,
                           max_concurrent=2)
    stats, ends = asyncio.run(_serve(profile, 6, stream=False))
    assert stats["completions"] == 6
    assert stats["max_active_cap"] == 2  # never more than its slots
    # Three waves of two: the answers end in pairs, each wave after the previous one.
    ends.sort()
    assert ends[5] - ends[0] > ends[1] - ends[0]


def test_unlimited_model_serves_everything_at_once():
    profile = ModelProfile("free", ttft_median_ms=30, answer_tokens=5)
    stats, _ = asyncio.run(_serve(profile, 6, stream=False))
    assert stats["max_active_free"] == 6


def test_a_capacity_limited_model_finishes_what_its_client_left():
    # Every call costs the model its whole answer (the theory's assumption), so an
    # abandoned stream still holds its slot until its tokens are generated.
    profile = ModelProfile("keep", ttft_median_ms=10, tokens_per_s=200, answer_tokens=20,
                           max_concurrent=1, chunk_ms=0)
    stats, _ = asyncio.run(_serve(profile, 2, stream=True, leave_after_first=1))
    assert stats["client_gone"] == 1
    # The slot was held for the abandoned generation too: ~2 x (10 ms + 19 x 5 ms) in total.
    assert stats["busy_ms_keep"] >= 2 * (10 + 19 * 5) * 0.9


def test_per_token_time_grows_with_active_streams():
    sim = Simulator(SimulatorConfig(models=(ModelProfile(
        "g", tokens_per_s=100, itl_growth_per_stream=0.5, max_concurrent=4),)))
    from codeperf.experts.simulator import token_interval_s

    profile = sim.models["g"]
    assert [round(token_interval_s(profile, a), 4) for a in (1, 2, 3)] == [0.01, 0.015, 0.02]
