"""The orchestrator against the bundled simulator: quorum, streaming, timeouts, retries, error kinds."""

from __future__ import annotations

import threading

import pytest

from codeperf.engine import active_backend
from codeperf.experts import orchestrator
from codeperf.experts.orchestrator import consult
from _experts_fixtures import circle, run, serve_routes, simulator


@pytest.mark.parametrize("stream", [False, True])
def test_all_answer_and_engine_runs(stream):
    async def go():
        async with simulator() as sim:
            return await consult("deploy safely?", circle(sim.base_url, "t-fast", "t-mid", "t-slow",
                                                           stream=stream), quorum=3)

    result = run(go())
    assert result.ok, result.error
    assert [c.status for c in result.calls] == ["ok", "ok", "ok"]
    assert result.critical_path_expert == "e2-t-slow"  # the slowest completes a quorum of all
    assert result.time_to_quorum_ms >= 150
    assert result.backend == active_backend()  # the engine that ran, named
    assert result.consensus is not None and result.consensus["count"] == 3
    for call in result.calls:
        assert call.completion_tokens == 20 and call.tokens_source == "usage"
        assert call.prompt_tokens == 2
        assert (call.ttft_ms is not None) == stream  # only a stream shows its first token
        if stream:
            assert 0 < call.ttft_ms <= call.latency_ms


def test_quorum_answers_early_and_cancels_the_rest():
    # The third expert never answers (and its budget is 30 s): the query can only end,
    # with "cancelled" rather than "timeout", if the quorum of two did not wait for it.
    async def go():
        async with simulator() as sim:
            return await consult("q", circle(sim.base_url, "t-fast", "t-mid", "t-hang",
                                             timeout_s=30), quorum=2)

    result = run(go())
    assert result.ok
    assert result.critical_path_expert == "e1-t-mid"
    assert [c.status for c in result.calls] == ["ok", "ok", "cancelled"]
    assert result.calls[2].content is None and result.calls[2].error is None
    assert result.consensus["count"] == 2


def test_default_quorum_is_a_majority():
    assert [orchestrator.default_quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    with pytest.raises(ValueError):
        run(consult("q", circle("http://127.0.0.1:9/v1", "m"), quorum=2))


def test_timeout_is_an_error_kind_and_fails_the_quorum():
    async def go():
        async with simulator() as sim:
            return await consult("q", circle(sim.base_url, "t-fast", "t-hang", timeout_s=0.3),
                                 quorum=2)

    result = run(go())
    assert not result.ok
    assert result.error_kind == "timeout"
    assert [c.status for c in result.calls] == ["ok", "timeout"]
    assert 250 <= result.calls[1].latency_ms < 2000


def test_quorum_reached_despite_one_failure():
    async def go():
        async with simulator() as sim:
            return await consult("q", circle(sim.base_url, "t-fast", "t-500", "t-mid", max_retries=0),
                                 quorum=2)

    result = run(go())
    assert result.ok
    assert result.calls[1].status == "http_500"


@pytest.mark.parametrize("model,kind", [("t-429", "http_429"), ("t-500", "http_500")])
def test_bounded_retries_on_429_and_5xx(model, kind):
    async def go():
        async with simulator() as sim:
            result = await consult("q", circle(sim.base_url, model, max_retries=2), quorum=1)
            return result, dict(sim.stats)

    result, stats = run(go())
    assert result.error_kind == kind
    assert result.calls[0].attempts == 3
    assert stats["requests"] == 3


def test_dropped_connection_is_a_protocol_error():
    async def go():
        async with simulator() as sim:
            return await consult("q", circle(sim.base_url, "t-drop"), quorum=1)

    result = run(go())
    assert result.error_kind == "protocol"
    assert result.calls[0].attempts == 1  # not retried: only 429 and 5xx are


def test_refused_connection_is_a_connect_error():
    result = run(consult("q", circle("http://127.0.0.1:9/v1", "m", timeout_s=2), quorum=1))
    assert result.error_kind == "connect"


def test_unknown_model_is_http_404():
    async def go():
        async with simulator() as sim:
            return await consult("q", circle(sim.base_url, "no-such-model"), quorum=1)

    assert run(go()).error_kind == "http_404"


def test_engine_error_is_recorded_and_engine_runs_off_the_loop(monkeypatch):
    seen = {}

    def failing_engine(responses, threshold, similarity):
        seen["thread"] = threading.current_thread()
        raise NotImplementedError("engine is being written")

    monkeypatch.setattr(orchestrator, "_engine_step", failing_engine)

    async def go():
        async with simulator() as sim:
            return await consult("q", circle(sim.base_url, "t-fast"), quorum=1)

    result = run(go())
    assert not result.ok
    assert result.error_kind == "engine"
    assert "NotImplementedError" in result.error
    assert seen["thread"] is not threading.main_thread()
    assert result.calls[0].status == "ok"  # the expert answered; the engine failed


def test_result_dict_omits_content_by_default():
    async def go():
        async with simulator() as sim:
            return await consult("q", circle(sim.base_url, "t-fast"), quorum=1)

    data = run(go()).to_dict()
    assert "content" not in data["calls"][0]
    assert data["consensus"]["count"] == 1


# ---------------------------------------------------------------- redirects
async def _redirector():
    """A loopback endpoint answering every completion with 307 to a second route that
    counts what reaches it (it stands for the host nobody allowed)."""
    from aiohttp import web

    reached = []

    async def redirect(request):
        raise web.HTTPTemporaryRedirect("/elsewhere/chat/completions")

    async def elsewhere(request):
        reached.append(request.headers.get("Authorization"))
        return web.json_response({"choices": [{"message": {"content": "followed"}}]})

    runner, base = await serve_routes({"/v1/chat/completions": redirect,
                                       "/elsewhere/chat/completions": elsewhere})
    return runner, f"{base}/v1", reached


@pytest.mark.parametrize("stream", [False, True])
def test_a_redirect_is_an_error_and_never_followed(stream, monkeypatch):
    # Following it would bypass the loopback check (--allow-remote) and hand the key
    # to a host nobody named.
    monkeypatch.setenv("CODEPERF_REDIRECT_KEY", "sk-redirect-secret")

    async def go():
        runner, url, reached = await _redirector()
        try:
            result = await consult("q", circle(url, "t-fast", stream=stream, max_retries=2,
                                               api_key_env="CODEPERF_REDIRECT_KEY"), quorum=1)
        finally:
            await runner.cleanup()
        return result, reached

    result, reached = run(go())
    assert reached == []
    assert result.error_kind == "http_307"
    assert result.calls[0].attempts == 1
    assert "not followed" in (result.calls[0].error or "")
    assert "sk-redirect-secret" not in str(result.to_dict())


def test_the_pool_scenario_request_refuses_redirects_too():
    import aiohttp

    from codeperf.experts.config import Expert
    from codeperf.load.expert_scenarios import _plain_request

    async def go():
        runner, url, reached = await _redirector()
        try:
            async with aiohttp.ClientSession() as session:
                with pytest.raises(aiohttp.ClientResponseError) as info:
                    await _plain_request(session, Expert("r", url, "t-fast"), None)
        finally:
            await runner.cleanup()
        return info.value.status, reached

    assert run(go()) == (307, [])


# ---------------------------------------------------------------- what goes on the wire
@pytest.mark.parametrize("stream", [False, True])
def test_the_request_body_is_the_payload_as_json_with_its_content_type(stream, monkeypatch):
    # The body is serialised once per expert call (not by aiohttp's json= per attempt):
    # the bytes must still be json.dumps of the payload, sent as application/json,
    # with the key's Authorization header, on every retried attempt alike.
    import json

    from aiohttp import web

    monkeypatch.setenv("CODEPERF_WIRE_KEY", "sk-wire")
    seen = []

    async def completions(request):
        seen.append((await request.read(), request.headers.get("Content-Type"),
                     request.headers.get("Authorization")))
        if len(seen) == 1:
            return web.json_response({"error": "again"}, status=503, headers={"Retry-After": "0"})
        if stream:
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            await resp.write(b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\n'
                             b"data: [DONE]\n\n")
            return resp
        return web.json_response({"choices": [{"message": {"content": "hi"}}]})

    async def go():
        runner, base = await serve_routes({"/v1/chat/completions": completions})
        try:
            return await consult("ship it?", circle(f"{base}/v1", "m",
                                                    stream=stream,
                                                    api_key_env="CODEPERF_WIRE_KEY"), quorum=1)
        finally:
            await runner.cleanup()

    result = run(go())
    assert result.ok, result.error
    assert result.calls[0].attempts == 2
    expected = {"model": "m", "messages": [{"role": "user", "content": "ship it?"}],
                "stream": stream}
    if stream:
        expected["stream_options"] = {"include_usage": True}
    assert [body for body, _, _ in seen] == [json.dumps(expected).encode()] * 2
    assert {(ctype, auth) for _, ctype, auth in seen} == {("application/json", "Bearer sk-wire")}
