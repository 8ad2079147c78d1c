"""The simulator speaks the OpenAI API, is deterministic, and injects the faults it is asked to."""

from __future__ import annotations

import json
import time

import aiohttp

from codeperf.experts.simulator import (SimulatorConfig, answer_text, ModelProfile,
                                        READY_PREFIX, main as simulator_main)
from codeperf.experts.simulator_process import SimulatorProcess
from _experts_fixtures import run, simulator


def test_answers_are_deterministic_and_overlap_partially():
    a1 = answer_text(0, "m1", "how to deploy", 200, 0.7)
    assert a1 == answer_text(0, "m1", "how to deploy", 200, 0.7)
    a2 = answer_text(0, "m2", "how to deploy", 200, 0.7)
    other = answer_text(0, "m1", "something else", 200, 0.7)
    shared = len(set(a1.split()) & set(a2.split()))
    assert 0 < shared < len(set(a1.split()))
    assert len(set(a1.split()) & set(other.split())) < shared  # the prompt drives the overlap


def test_answers_are_unchanged_by_the_vocabulary_cache():
    # The digest of an answer drawn before the vocabularies were cached: same words.
    import hashlib

    from codeperf.experts import simulator

    text = answer_text(7, "sim-deep", "how to deploy safely", 60, 0.65)
    assert hashlib.sha256(text.encode()).hexdigest() == (
        "a4c5fe79a05becc9f6d86b6571d08dd458ddb8cf1121ded0b9495d96b36240e3")
    simulator._vocabulary.cache_clear()
    for model in ("m1", "m2", "m3"):  # the three experts of one query
        answer_text(0, model, "one query's prompt", 20, 0.7)
    info = simulator._vocabulary.cache_info()
    assert info.misses == 4 and info.hits == 2  # the prompt's words drawn once, each model's once


def test_models_chat_and_stream_endpoints():
    async def go():
        async with simulator() as sim, aiohttp.ClientSession() as session:
            async with session.get(sim.base_url + "/models") as resp:
                models = await resp.json()
            body = {"model": "t-fast", "messages": [{"role": "user", "content": "a b c"}]}
            async with session.post(sim.base_url + "/chat/completions", json=body) as resp:
                plain = await resp.json()
            body.update(stream=True, stream_options={"include_usage": True})
            async with session.post(sim.base_url + "/chat/completions", json=body) as resp:
                assert resp.headers["Content-Type"].startswith("text/event-stream")
                events = [line for line in (await resp.text()).split("\n\n") if line]
            return models, plain, events

    models, plain, events = run(go())
    assert "t-fast" in [m["id"] for m in models["data"]]
    assert plain["object"] == "chat.completion"
    assert plain["usage"] == {"prompt_tokens": 3, "completion_tokens": 20, "total_tokens": 23}
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"]["completion_tokens"] == 20


def test_stall_holds_answers_until_it_ends():
    async def go():
        async with simulator() as sim, aiohttp.ClientSession() as session:
            async with session.post(sim.base_url.replace("/v1", "/admin/stall"),
                                    params={"seconds": "0.4"}) as resp:
                assert resp.status == 200
            t0 = time.perf_counter()
            body = {"model": "t-fast", "messages": [{"role": "user", "content": "x"}]}
            async with session.post(sim.base_url + "/chat/completions", json=body) as resp:
                await resp.read()
            return time.perf_counter() - t0

    assert run(go()) >= 0.35


def test_lognormal_spread_varies_latency_and_fixed_does_not():
    from codeperf.experts.simulator import Simulator

    sim = Simulator(SimulatorConfig(seed=3))
    spread = [sim._draw_ttft(ModelProfile("m", ttft_median_ms=100, ttft_spread=0.5))
              for _ in range(400)]
    fixed = {sim._draw_ttft(ModelProfile("m", ttft_median_ms=100)) for _ in range(10)}
    assert fixed == {0.1}
    spread.sort()
    assert 0.08 < spread[200] < 0.125  # the median stays near 100 ms
    assert spread[20] < 0.07 and spread[380] > 0.15


def test_runs_as_a_process_and_serves():
    with SimulatorProcess(SimulatorConfig()) as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")

        async def go():
            async with aiohttp.ClientSession() as session:
                async with session.get(sim.base_url + "/models") as resp:
                    return resp.status

        assert run(go()) == 200


def test_bad_config_exits_2(capsys):
    assert simulator_main(["--config-json", '{"model": [{"name": "x", "bogus": 1}]}']) == 2
    assert READY_PREFIX not in capsys.readouterr().out
