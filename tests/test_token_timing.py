"""Token timing (TTFT, ITL, TPOT, tokens/s, usage vs counted) from SSE fixtures and JSON answers.

A tiny aiohttp server replays scripted SSE events with pauses between them, so
each case controls exactly what a server sends: usage or not, one chunk, empty
and role-only deltas. Timings are checked by ordering and counts, not by
wall-clock bounds.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from codeperf.experts.config import Expert
from codeperf.experts.orchestrator import ExpertCall, call_expert
from codeperf.experts.tokentiming import token_timing


def _chunk(content: str | None = None, role: str | None = None, usage: dict | None = None,
           choices: bool = True) -> bytes:
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    event: dict[str, Any] = {"object": "chat.completion.chunk",
                             "choices": [{"index": 0, "delta": delta}] if choices else []}
    if usage:
        event["usage"] = usage
    return f"data: {json.dumps(event)}\n\n".encode()


USAGE = {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9}
FIXTURES: dict[str, list[bytes]] = {
    # three content chunks of two tokens each, then usage (as with include_usage)
    "with-usage": [_chunk("a b"), _chunk(" c d"), _chunk(" e f"), _chunk(usage=USAGE, choices=False)],
    # the same without usage: tokens are counted from chunks (3)
    "no-usage": [_chunk("a b"), _chunk(" c d"), _chunk(" e f")],
    # the whole answer in one chunk: ITL not measurable
    "one-chunk": [_chunk("a b c d e f"), _chunk(usage=USAGE, choices=False)],
    # a role-only first delta and an empty delta carry no token
    "empty-deltas": [_chunk(role="assistant", content=""), _chunk(content=""), _chunk("a"),
                     _chunk(" b"), _chunk(usage={"prompt_tokens": 1, "completion_tokens": 2},
                                          choices=False)],
}
PAUSE_S = 0.02


async def _sse(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    name = body["model"]
    if not body.get("stream"):
        data = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "a b c"}}]}
        if name != "json-no-usage":
            data["usage"] = {"prompt_tokens": 1, "completion_tokens": 3}
        return web.json_response(data)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for event in FIXTURES[name]:
        await asyncio.sleep(PAUSE_S)
        await response.write(event)
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _call(model: str, stream: bool = True) -> ExpertCall:
    app = web.Application()
    app.add_routes([web.post("/v1/chat/completions", _sse)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    expert = Expert("x", f"http://127.0.0.1:{port}/v1", model, stream=stream, max_retries=0)
    call = ExpertCall("x", model)
    try:
        async with aiohttp.ClientSession() as session:
            await call_expert(session, expert, "q", call)
    finally:
        await runner.cleanup()
    return call


def test_sse_with_usage_gives_itl_per_gap_and_tpot_over_usage_tokens():
    call = asyncio.run(_call("with-usage"))
    assert call.completion_tokens == 6 and call.tokens_source == "usage"
    assert len(call.itl_ms) == 2 and all(gap > 0 for gap in call.itl_ms)
    assert 0 < call.ttft_ms < call.latency_ms
    # TPOT: (end - first chunk) / (6 - 1); the end comes after the last gap.
    assert call.tpot_ms == pytest.approx(
        (call.latency_ms - call.ttft_ms) / 5, rel=0.05)
    assert call.output_tokens_per_s == pytest.approx(6 / (call.latency_ms / 1000), rel=1e-6)


def test_sse_without_usage_counts_tokens_from_chunks():
    call = asyncio.run(_call("no-usage"))
    assert call.completion_tokens == 3 and call.tokens_source == "chunks"
    assert len(call.itl_ms) == 2
    assert call.tpot_ms is not None


def test_one_chunk_answer_has_itl_not_measurable_not_zero():
    call = asyncio.run(_call("one-chunk"))
    assert call.itl_ms is None
    assert call.completion_tokens == 6
    assert call.tpot_ms is not None  # end - first chunk over 5 tokens: still defined


def test_empty_and_role_only_deltas_are_not_chunks():
    call = asyncio.run(_call("empty-deltas"))
    assert call.completion_tokens == 2 and call.tokens_source == "usage"
    assert len(call.itl_ms) == 1  # "a" then " b": one gap, the empty deltas are not chunks
    # TTFT is the first *content*: two pauses after the (empty) first event at least.
    assert call.ttft_ms >= 3 * PAUSE_S * 1000 * 0.9


@pytest.mark.parametrize("model,source", [("json", "usage"), ("json-no-usage", None)])
def test_non_streamed_answer_has_no_ttft_itl_or_tpot(model, source):
    call = asyncio.run(_call(model, stream=False))
    assert call.ttft_ms is None and call.itl_ms is None and call.tpot_ms is None
    assert call.tokens_source == source
    if source:
        assert call.output_tokens_per_s == pytest.approx(3 / (call.latency_ms / 1000))
    else:
        assert call.output_tokens_per_s is None


def test_token_timing_arithmetic():
    t = token_timing([1.0, 1.02, 1.05], 5, start=0.9, end=1.1)
    assert t.itl_ms == pytest.approx([20.0, 30.0])
    assert t.itl_mean_ms == pytest.approx(25.0)
    assert t.tpot_ms == pytest.approx(100.0 / 4)
    assert t.output_tokens_per_s == pytest.approx(5 / 0.2)
    single = token_timing([1.0], 1, start=0.9, end=1.0)
    assert single.itl_ms is None and single.tpot_ms is None  # one token: no TPOT either
    assert token_timing([], None, 0.0, 1.0).output_tokens_per_s is None
