"""The Circle of Experts orchestrator: fan a query out, wait for a quorum, run the engine.

`consult(query, experts, quorum=k)` sends the query to every expert's
OpenAI-compatible `/chat/completions` at once (aiohttp; SSE streaming or plain
JSON, per expert), with a per-expert time budget that covers its retries, and
bounded retries with exponential backoff on 429 and 5xx (honouring a short
Retry-After). As soon as `k` experts have answered, the others are cancelled;
if every expert has finished or failed first, the query has whatever answered
(and fails when that is fewer than k). Then analysis, consensus and
aggregation run on the active engine backend in a worker thread, so the event
loop keeps serving the other queries in flight.

`consult` never raises for an expert or engine failure: the `QueryResult` says
what happened (`ok`, `error_kind`), and the load scenarios turn a failed query
into a `RequestError` of that kind.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import aiohttp

from codeperf.engine import jsonable
from codeperf.experts.config import Expert, ExpertsConfig, redact
from codeperf.experts.tokentiming import ChunkClock, token_timing
from codeperf.harness.request_errors import classify_error

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE_S = 0.05
BACKOFF_MAX_S = 2.0


class ExpertHTTPError(aiohttp.ClientResponseError):
    """A non-2xx answer; `classify_error` turns it into http_<status>.

    Its message carries the start of the response body with the expert's API key
    redacted (a server may echo the Authorization header back).
    """


class ProtocolError(aiohttp.ClientPayloadError):
    """An answer that is not a chat completion (bad JSON, no choices, broken SSE)."""


@dataclass
class ExpertCall:
    """One expert's part in one query."""

    expert: str
    model: str
    status: str = "pending"  # ok | cancelled (quorum reached first) | an error kind
    ttft_ms: float | None = None  # streaming only: request sent -> first content token
    latency_ms: float | None = None  # request sent -> answer complete (all attempts)
    # Token timing (codeperf.experts.tokentiming): gaps between content chunks (None when
    # fewer than two chunks: not measurable, never zero), time per output token after
    # the first, and output tokens per second of the whole call.
    itl_ms: list[float] | None = None
    tpot_ms: float | None = None
    output_tokens_per_s: float | None = None
    attempts: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_source: str | None = None  # "usage" (reported by the server) or "chunks" (counted)
    error: str | None = None
    content: str | None = None


@dataclass
class QueryResult:
    query: str
    quorum: int
    calls: list[ExpertCall]
    ok: bool = False
    error_kind: str | None = None
    error: str | None = None
    time_to_quorum_ms: float | None = None
    critical_path_expert: str | None = None  # the answer that completed the quorum
    total_ms: float | None = None  # query start -> engine done
    engine_ms: float | None = None  # wall time of the engine step, thread hop included
    consensus_compute_ms: float | None = None  # inside the thread: compute_consensus only
    analysis_ms: float | None = None
    aggregation_ms: float | None = None
    backend: str | None = None
    consensus: dict[str, Any] | None = None
    analysis: dict[str, Any] | None = None
    aggregation: dict[str, Any] | None = None

    @property
    def answered(self) -> list[ExpertCall]:
        return [c for c in self.calls if c.status == "ok"]

    def to_dict(self, include_content: bool = False) -> dict[str, Any]:
        data = jsonable(asdict(self))  # the consensus matrix is an array('d'); dicts are JSON
        if not include_content:
            for call in data["calls"]:
                call.pop("content", None)
        return data


# ---------------------------------------------------------------- one expert
# json.dumps's own defaults, so the body is byte for byte what aiohttp's json= sent.
_dumps = json.JSONEncoder().encode


def _headers(expert: Expert) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    key = expert.api_key()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _payload(expert: Expert, query: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": expert.model,
                            "messages": [{"role": "user", "content": query}],
                            "stream": expert.stream}
    if expert.stream:
        body["stream_options"] = {"include_usage": True}
    if expert.max_tokens:
        body["max_tokens"] = expert.max_tokens
    return body


def _retry_after_s(response: aiohttp.ClientResponse) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: use our own backoff


async def _raise_for_status(response: aiohttp.ClientResponse, expert: Expert) -> None:
    if response.status < 300:
        return
    if response.status < 400:  # never followed: see call_expert
        location = redact(response.headers.get("Location", "?"), [expert])[:200]
        raise ExpertHTTPError(response.request_info, response.history, status=response.status,
                              message=f"redirect to {location} not followed",
                              headers=response.headers)
    try:
        # Redact the whole body before cutting it, so a key split at 200 chars cannot survive.
        detail = redact(await response.text(), [expert])[:200]
    except (aiohttp.ClientError, UnicodeDecodeError):
        detail = ""
    raise ExpertHTTPError(response.request_info, response.history, status=response.status,
                          message=detail or (response.reason or ""), headers=response.headers)


async def _read_json(response: aiohttp.ClientResponse, call: ExpertCall, t0: float) -> str:
    try:
        data = await response.json(content_type=None)
        content = data["choices"][0]["message"]["content"]
    except (json.JSONDecodeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise ProtocolError(f"not a chat completion: {type(exc).__name__}") from None
    usage = data.get("usage") or {}
    call.prompt_tokens = usage.get("prompt_tokens")
    call.completion_tokens = usage.get("completion_tokens")
    call.tokens_source = "usage" if usage else None
    return content or ""


async def _read_sse(response: aiohttp.ClientResponse, call: ExpertCall, t0: float,
                    clock: ChunkClock | None = None) -> str:
    parts: list[str] = []
    chunks = 0
    done = False
    async for raw in response.content:
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue  # comments, event names, blank separators
        data = line[5:].strip()
        if data == b"[DONE]":
            done = True
            break
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            raise ProtocolError("SSE event is not JSON") from None
        for choice in event.get("choices") or []:
            text = (choice.get("delta") or {}).get("content")
            if text:  # role-only and empty deltas carry no token: not a chunk, no TTFT
                now = time.perf_counter()
                if call.ttft_ms is None:
                    call.ttft_ms = (now - t0) * 1000.0
                if clock is not None:
                    clock.chunk(now)
                parts.append(text)
                chunks += 1
        usage = event.get("usage")
        if usage:
            call.prompt_tokens = usage.get("prompt_tokens")
            call.completion_tokens = usage.get("completion_tokens")
            call.tokens_source = "usage"
    if not done:
        raise ProtocolError("stream ended without [DONE]")
    if call.tokens_source is None:
        call.completion_tokens, call.tokens_source = chunks, "chunks"
    return "".join(parts)


async def call_expert(session: aiohttp.ClientSession, expert: Expert, query: str,
                      call: ExpertCall, timeout_s: float | None = None) -> str:
    """The expert's answer text; raises on failure after bounded retries. Fills `call`."""
    budget = timeout_s if timeout_s is not None else expert.timeout_s
    t0 = time.perf_counter()
    # The body is serialised once here, not by aiohttp's JSON payload on every attempt,
    # and sent as bytes with its Content-Type header (the same bytes on the wire).
    body = _dumps(_payload(expert, query)).encode()
    headers = _headers(expert)

    async def attempts() -> str:
        for attempt in range(expert.max_retries + 1):
            call.attempts = attempt + 1
            call.ttft_ms = None
            clock.reset()  # a retried attempt starts its chunk timing afresh
            # allow_redirects=False: a redirect could lead past the loopback check
            # (--allow-remote) and would carry the API key to a host nobody named.
            async with session.post(expert.completions_url, data=body, headers=headers,
                                    allow_redirects=False) as resp:
                if resp.status in RETRY_STATUSES and attempt < expert.max_retries:
                    wait = _retry_after_s(resp)
                    if wait is None:
                        # The module's generator, not a Random() per call: seeding one from
                        # os.urandom cost ~80 us of the loop for every request sent.
                        wait = (min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** attempt)
                                * (0.5 + random.random()))
                    await resp.read()  # let the connection go back to the pool
                    await asyncio.sleep(min(wait, BACKOFF_MAX_S))
                    continue
                await _raise_for_status(resp, expert)
                if expert.stream:
                    return await _read_sse(resp, call, t0, clock)
                return await _read_json(resp, call, t0)
        raise AssertionError("unreachable: the last attempt returns or raises")

    clock = ChunkClock()
    try:
        # asyncio.timeout, not wait_for: wait_for (Python 3.11) wraps the attempts in a
        # task of their own, one more task per expert request on the sender's loop.
        async with asyncio.timeout(budget):
            content = await attempts()
    finally:
        end = time.perf_counter()
        call.latency_ms = (end - t0) * 1000.0
    call.status = "ok"
    timing = token_timing(clock.times, call.completion_tokens, t0, end)
    call.itl_ms, call.tpot_ms = timing.itl_ms, timing.tpot_ms
    call.output_tokens_per_s = timing.output_tokens_per_s
    return content


# ---------------------------------------------------------------- the engine step
def _engine_step(responses: list[Any], threshold: float, similarity: str) -> dict[str, Any]:
    """Runs in a worker thread; times each operation inside the thread."""
    from codeperf import engine

    backend = engine.backend(engine.active_backend())
    perf = time.perf_counter_ns
    t0 = perf()
    analysis = backend.analyze_responses(responses)
    t1 = perf()
    consensus = backend.compute_consensus(responses, threshold=threshold, similarity=similarity)
    t2 = perf()
    aggregation = backend.aggregate_responses(responses)
    t3 = perf()
    return {"backend": backend.name, "analysis": analysis, "consensus": consensus,
            "aggregation": aggregation, "analysis_ms": (t1 - t0) / 1e6,
            "consensus_compute_ms": (t2 - t1) / 1e6, "aggregation_ms": (t3 - t2) / 1e6}


def _responses(experts: dict[str, Expert], calls: Sequence[ExpertCall]) -> list[Any]:
    from codeperf.engine.models import ExpertResponse

    out = []
    for call in calls:
        expert = experts[call.expert]
        prompt, completion = call.prompt_tokens or 0, call.completion_tokens or 0
        cost = (prompt * expert.price_prompt_per_1k_usd
                + completion * expert.price_completion_per_1k_usd) / 1000.0
        out.append(ExpertResponse(expert=call.expert, model=call.model, content=call.content or "",
                                  confidence=expert.confidence, latency_ms=call.latency_ms or 0.0,
                                  prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost))
    return out


# ---------------------------------------------------------------- the query
def default_quorum(n: int) -> int:
    """A majority of the experts."""
    return n // 2 + 1


async def consult(query: str, experts: ExpertsConfig | Sequence[Expert], *,
                  quorum: int | None = None, timeout: float | None = None,
                  session: aiohttp.ClientSession | None = None, threshold: float = 0.7,
                  similarity: str = "cosine") -> QueryResult:
    """Ask every expert; answer from the first `quorum` answers (default: a majority).

    `timeout` (seconds) overrides each expert's own `timeout_s`. Pass a shared
    `session` under load: its connector is the connection pool.
    """
    roster = list(experts.experts if isinstance(experts, ExpertsConfig) else experts)
    if not roster:
        raise ValueError("consult needs at least one expert")
    k = default_quorum(len(roster)) if quorum is None else quorum
    if not 1 <= k <= len(roster):
        raise ValueError(f"quorum must be between 1 and {len(roster)}, not {k}")
    by_name = {e.name: e for e in roster}
    result = QueryResult(query=query, quorum=k, calls=[ExpertCall(e.name, e.model) for e in roster])
    own_session = session is None
    if own_session:
        session = aiohttp.ClientSession()
    t0 = time.perf_counter()
    tasks: dict[asyncio.Task, ExpertCall] = {}
    try:
        for expert, call in zip(roster, result.calls):
            task = asyncio.ensure_future(call_expert(session, expert, query, call, timeout))
            tasks[task] = call
        pending = set(tasks)
        answered: list[ExpertCall] = []
        while pending and len(answered) < k:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                call = tasks[task]
                exc = task.exception()
                if exc is None:
                    call.content = task.result()
                    answered.append(call)
                    if len(answered) == k:
                        result.time_to_quorum_ms = (time.perf_counter() - t0) * 1000.0
                        result.critical_path_expert = call.expert
                else:
                    call.status = classify_error(exc)
                    call.error = redact(f"{type(exc).__name__}: {exc}", roster)
        for task in pending:  # quorum reached: the rest are not needed
            task.cancel()
            tasks[task].status = "cancelled"
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        if own_session:
            await session.close()

    if len(answered) < k:
        failures = Counter(c.status for c in result.calls if c.status not in ("ok", "cancelled"))
        result.error_kind = failures.most_common(1)[0][0] if failures else "quorum"
        result.error = (f"{len(answered)} of {len(roster)} experts answered, quorum is {k}: "
                        + ", ".join(f"{c.expert}={c.status}" for c in result.calls))
        result.total_ms = (time.perf_counter() - t0) * 1000.0
        return result

    responses = _responses(by_name, answered)
    t_engine = time.perf_counter()
    try:
        # A thread, so the loop keeps serving other queries while the engine computes.
        out = await asyncio.to_thread(_engine_step, responses, threshold, similarity)
    except Exception as exc:
        result.error_kind = "engine"
        result.error = redact(f"{type(exc).__name__}: {exc}", roster)
    else:
        result.ok = True
        result.backend = out.pop("backend")
        for key, value in out.items():
            setattr(result, key, value)
    result.engine_ms = (time.perf_counter() - t_engine) * 1000.0
    result.total_ms = (time.perf_counter() - t0) * 1000.0
    return result
