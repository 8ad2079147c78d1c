"""A bundled OpenAI-compatible expert simulator: real HTTP, modelled latency, injected faults.

    python -m codeperf.experts.simulator --port 8089 [--experts FILE] [--stall-at 5 --stall-for 1]

Serves `/v1/models` and `/v1/chat/completions` (JSON and SSE streaming, with
usage tokens) on 127.0.0.1. Each model has its own latency: time to first token
drawn from a lognormal (median, spread = sigma of the log), then tokens at a
fixed rate. A model may have a capacity (`max_concurrent` decode slots with a
queue beyond them, and a per-token time growing with the active streams), so a
rate sweep has a saturation point to find (`saturation_rps`, docs/load.md).
Answers are deterministic from (seed, model, prompt): every model
draws most words from a vocabulary the prompt selects and the rest from its own,
so experts overlap partially and consensus has something to find.

Faults, for testing the measurements: per-model rates of 429, 500, dropped
connections and hangs, and a stall (no answer at all for S seconds from time T,
or from now through `POST /admin/stall?seconds=S`). `GET /admin/stats` counts
what was served, including `in_flight` and `max_in_flight`: the chat completions
being served right now and the most served at once (a handler counts from its
first line to its return, stalls and streaming included), so a client can check
what concurrency the endpoint actually saw; `POST /admin/reset-peak` starts a
new peak. Per model it also counts the most requests active at once and the
slot time held. Token counts are whitespace-separated words.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hashlib
import json
import math
import os
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any, AsyncIterator, Awaitable, Callable

from aiohttp import web

HOST = "127.0.0.1"
READY_PREFIX = "codeperf-simulator listening on "  # the line scripts wait for on stdout


@dataclass(frozen=True)
class ModelProfile:
    name: str
    ttft_median_ms: float = 50.0
    ttft_spread: float = 0.0  # sigma of ln(ttft); 0 = always the median
    tokens_per_s: float = 0.0  # 0 = the whole answer at the first token
    answer_tokens: int = 60
    overlap: float = 0.7  # share of words drawn from the prompt's shared vocabulary
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_drop: float = 0.0
    rate_hang: float = 0.0
    hang_s: float = 3600.0
    chunk_ms: float = 20.0  # streaming: tokens due within this interval go in one SSE event
    # Capacity, as a continuous-batching server behaves (docs/load.md has the formula):
    # at most max_concurrent requests are served at once (0 = no limit; the rest wait
    # in a FIFO queue, which shows in their TTFT), and each token takes
    # 1/tokens_per_s x (1 + itl_growth_per_stream x (active streams - 1)).
    max_concurrent: int = 0
    itl_growth_per_stream: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelProfile":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"simulator model {data.get('name', '?')}: unknown keys "
                             f"{', '.join(sorted(unknown))}")
        return cls(**data)


# The same circle as default_experts.toml (capacity included).
DEFAULT_MODELS = (
    ModelProfile("sim-fast", ttft_median_ms=40, ttft_spread=0.25, tokens_per_s=400,
                 max_concurrent=32, itl_growth_per_stream=0.01, chunk_ms=100),
    ModelProfile("sim-balanced", ttft_median_ms=120, ttft_spread=0.3, tokens_per_s=150,
                 max_concurrent=48, itl_growth_per_stream=0.01, chunk_ms=100),
    ModelProfile("sim-deep", ttft_median_ms=250, ttft_spread=0.4, tokens_per_s=90,
                 max_concurrent=96, itl_growth_per_stream=0.01, chunk_ms=100),
)

# Fixed-latency models the load driver adds for calibration and the pool test:
# no spread, the whole (short) answer at once, so latency is exactly the median.
CALIBRATION_MODELS = (
    ModelProfile("cal-instant", ttft_median_ms=0, answer_tokens=8),
    ModelProfile("cal-fixed-50ms", ttft_median_ms=50, answer_tokens=8),
    ModelProfile("pool-hold-500ms", ttft_median_ms=500, answer_tokens=8),
    # A fixed token rate, one token per SSE event: ITL and TPOT should read 20 ms
    # (50 tokens/s) and TTFT 100 ms plus the client overhead.
    ModelProfile("cal-tokens-50ps", ttft_median_ms=100, tokens_per_s=50, answer_tokens=20,
                 chunk_ms=0),
)


@dataclass
class SimulatorConfig:
    models: tuple[ModelProfile, ...] = DEFAULT_MODELS
    seed: int = 0
    stall_at_s: float | None = None  # seconds after start
    stall_for_s: float = 0.0
    api_key: str | None = None  # when set, requests need "Authorization: Bearer <key>"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SimulatorConfig":
        models = tuple(ModelProfile.from_dict(m) for m in data.get("model", [])) or DEFAULT_MODELS
        return cls(models=models, seed=int(data.get("seed", 0)),
                   stall_at_s=data.get("stall_at_s"), stall_for_s=float(data.get("stall_for_s", 0)))

    def with_models(self, extra: tuple[ModelProfile, ...]) -> "SimulatorConfig":
        """This config plus `extra` models (a name already present keeps its own profile)."""
        names = {m.name for m in self.models}
        return SimulatorConfig(models=self.models + tuple(m for m in extra if m.name not in names),
                               seed=self.seed, stall_at_s=self.stall_at_s,
                               stall_for_s=self.stall_for_s, api_key=self.api_key)

    def to_dict(self) -> dict[str, Any]:
        """The public form (the API key, if any, is never included)."""
        return {"seed": self.seed, "stall_at_s": self.stall_at_s, "stall_for_s": self.stall_for_s,
                "model": [asdict(m) for m in self.models]}


def token_interval_s(profile: ModelProfile, active: int) -> float:
    """Seconds per token while `active` requests are being served (0 = no token rate)."""
    if not profile.tokens_per_s:
        return 0.0
    return (1.0 + profile.itl_growth_per_stream * max(0, active - 1)) / profile.tokens_per_s


def mean_ttft_s(profile: ModelProfile) -> float:
    """Mean of the lognormal TTFT: median x exp(sigma^2 / 2)."""
    return profile.ttft_median_ms / 1000.0 * math.exp(profile.ttft_spread ** 2 / 2)


def busy_s(profile: ModelProfile, active: int, answer_tokens: int | None = None) -> float:
    """Mean seconds a request holds its slot with `active` streams: TTFT, then its tokens.

    The last event leaves when the last token is due within `chunk_ms`
    (`Simulator._pace`), so the tokens take max(0, (N - 1) x interval - chunk_ms).
    """
    n = profile.answer_tokens if answer_tokens is None else answer_tokens
    tokens_s = max(0.0, (n - 1) * token_interval_s(profile, active) - profile.chunk_ms / 1000.0)
    return mean_ttft_s(profile) + tokens_s


def saturation_rps(profile: ModelProfile, answer_tokens: int | None = None) -> float | None:
    """Requests/s this model serves with every slot busy (None: no capacity limit).

    S slots, each held for busy_s at S active streams: rate = S / busy_s(S).
    """
    if profile.max_concurrent <= 0:
        return None
    busy = busy_s(profile, profile.max_concurrent, answer_tokens)
    return profile.max_concurrent / busy if busy > 0 else None


# ---------------------------------------------------------------- answers
_SYLLABLES = ("ka", "lo", "mi", "ner", "tu", "vas", "pre", "dol", "qui", "ren", "sa", "bro",
              "tem", "gal", "fi", "nor", "zu", "ap", "lex", "di")


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))


def _seed_of(*parts: Any) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


@functools.lru_cache(maxsize=4096)
def _vocabulary(seed: int, kind: str, key: str) -> tuple[str, ...]:
    """40 words drawn from (seed, kind, key): a model's own words, or a prompt's shared ones.

    Cached: drawing the two vocabularies was 240 of the 290 us an answer cost the
    simulator, and every expert of a query asks for the same prompt's words (a
    burst's spike shares two cores with the generator). A model's words never
    change; a prompt's are reused by the other experts of its query.
    """
    rng = random.Random(_seed_of(seed, kind, key))
    return tuple(_word(rng) for _ in range(40))


def answer_text(seed: int, model: str, prompt: str, n_tokens: int, overlap: float) -> str:
    """Deterministic answer: `overlap` of the words from the prompt's vocabulary, the rest the model's."""
    shared = _vocabulary(seed, "prompt", prompt)
    own = _vocabulary(seed, "model", model)
    pick = random.Random(_seed_of(seed, model, prompt))
    return " ".join(pick.choice(shared) if pick.random() < overlap else pick.choice(own)
                    for _ in range(n_tokens))


def _prompt_of(body: dict[str, Any]) -> str:
    parts = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):  # content parts: keep the text ones
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


# ---------------------------------------------------------------- server
class Simulator:
    """The aiohttp application and its state; `start()` binds 127.0.0.1, `stop()` closes."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.models = {m.name: m for m in self.config.models}
        self.rng = random.Random(self.config.seed)
        self.stats: Counter = Counter()
        self.started = time.monotonic()
        self.stall_until = 0.0
        self.in_flight = 0  # chat completions being served now
        self.max_in_flight = 0  # the most served at once since start or the last reset
        self.port: int | None = None
        # Capacity: requests being served per model, and the slots they hold.
        self.active: Counter = Counter()
        self._slots = {m.name: asyncio.Semaphore(m.max_concurrent)
                       for m in self.config.models if m.max_concurrent > 0}
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self.app.add_routes([
            web.get("/v1/models", self.list_models),
            web.post("/v1/chat/completions", self.chat_completions),
            web.post("/admin/stall", self.admin_stall),
            web.get("/admin/stats", self.admin_stats),
            web.post("/admin/reset-peak", self.admin_reset_peak),
            web.get("/ping", self.ping),
        ])

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    async def start(self, port: int = 0, reuse_port: bool = False) -> str:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        # reuse_port (SO_REUSEPORT): several simulator processes serve one port, the kernel
        # spreading connections over them, so a multi-worker load run is not endpoint-bound.
        site = web.TCPSite(self._runner, HOST, port, backlog=2048, reuse_port=reuse_port or None)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # port 0: the one the OS chose
        self.started = time.monotonic()
        if self.config.stall_at_s is not None and self.config.stall_for_s > 0:
            asyncio.get_running_loop().call_later(self.config.stall_at_s, self.stall,
                                                  self.config.stall_for_s)
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def stall(self, seconds: float) -> None:
        """Answer nothing (no headers, no tokens) for `seconds` from now."""
        self.stall_until = max(self.stall_until, time.monotonic() + seconds)
        self.stats["stalls"] += 1

    async def _through_stall(self) -> None:
        while (wait := self.stall_until - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    # -- handlers ----------------------------------------------------------
    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def admin_stall(self, request: web.Request) -> web.Response:
        seconds = float(request.query.get("seconds", "1"))
        self.stall(seconds)
        return web.json_response({"stalled_for_s": seconds})

    async def admin_stats(self, request: web.Request) -> web.Response:
        return web.json_response({**self.stats, "in_flight": self.in_flight,
                                  "max_in_flight": self.max_in_flight})

    async def admin_reset_peak(self, request: web.Request) -> web.Response:
        self.max_in_flight = self.in_flight
        return web.json_response({"in_flight": self.in_flight,
                                  "max_in_flight": self.max_in_flight})

    async def list_models(self, request: web.Request) -> web.Response:
        if (denied := self._check_auth(request)) is not None:
            return denied
        return web.json_response({"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "codeperf-simulator"}
            for name in self.models]})

    def _check_auth(self, request: web.Request) -> web.Response | None:
        if self.config.api_key is None:
            return None
        if request.headers.get("Authorization") != f"Bearer {self.config.api_key}":
            self.stats["unauthorized"] += 1
            return _error(401, "invalid_api_key", "missing or wrong API key")
        return None

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        # Counted for the whole handler, whatever way it ends (answer, fault, client gone).
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._chat_completions(request)
        finally:
            self.in_flight -= 1

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        self.stats["requests"] += 1
        await self._through_stall()
        if (denied := self._check_auth(request)) is not None:
            return denied
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "invalid_request_error", "body is not JSON")
        profile = self.models.get(body.get("model"))
        if profile is None:
            return _error(404, "model_not_found", f"model {body.get('model')!r} does not exist")

        fault = self._draw_fault(profile)
        if fault == "429":
            self.stats["injected_429"] += 1
            return _error(429, "rate_limit_exceeded", "injected rate limit", {"Retry-After": "0.05"})
        if fault == "500":
            self.stats["injected_500"] += 1
            return _error(500, "server_error", "injected server error")
        if fault == "drop":
            self.stats["injected_drop"] += 1
            request.transport.abort()  # the client sees the connection die, no response
            raise asyncio.CancelledError
        if fault == "hang":
            self.stats["injected_hang"] += 1
            await asyncio.sleep(profile.hang_s)

        async with self._slot(profile):
            return await self._answer(request, body, profile)

    @contextlib.asynccontextmanager
    async def _slot(self, profile: ModelProfile) -> AsyncIterator[None]:
        """One of the model's decode slots (waits in FIFO order when all are busy)."""
        slot = self._slots.get(profile.name)
        if slot is not None:
            await slot.acquire()
        self.active[profile.name] += 1
        self.stats["max_active_" + profile.name] = max(self.stats["max_active_" + profile.name],
                                                        self.active[profile.name])
        held = time.monotonic()  # busy_ms / completions shows the slot time actually held
        try:
            yield
        finally:
            self.stats["busy_ms_" + profile.name] += int((time.monotonic() - held) * 1000)
            self.stats["served_" + profile.name] += 1
            self.active[profile.name] -= 1
            if slot is not None:
                slot.release()

    async def _pace(self, profile: ModelProfile, n_tokens: int,
                    emit: Callable[[int, int], Awaitable[bool]] | None) -> None:
        """Generate n tokens at the profile's (load-dependent) rate; emit(start, end) per event.

        Each event carries every token due within `chunk_ms` from now; the time per
        token is taken again at each event from the number of active streams. When
        emit returns False (nobody listens any more), the rest is one sleep: the
        same slot time with fewer wake-ups of the simulator's loop.
        """
        sent = 0
        t_next = time.monotonic()
        chunk_s = profile.chunk_ms / 1000.0
        while sent < n_tokens:
            interval = token_interval_s(profile, self.active[profile.name])
            if interval:
                k = 1 + max(0, int((time.monotonic() + chunk_s - t_next) / interval))
                due = min(n_tokens, sent + k)
                t_next += (due - sent) * interval
            else:
                due = n_tokens
            if emit is not None and not await emit(sent, due):
                rest = max(0.0, t_next - time.monotonic()) + (n_tokens - due) * interval
                await asyncio.sleep(max(0.0, rest - chunk_s))
                return
            sent = due
            if sent < n_tokens:
                await asyncio.sleep(max(0.0, t_next - time.monotonic()))
                await self._through_stall()

    async def _answer(self, request: web.Request, body: dict[str, Any], profile: ModelProfile
                      ) -> web.StreamResponse:
        prompt = _prompt_of(body)
        n_tokens = profile.answer_tokens
        if isinstance(body.get("max_tokens"), int) and body["max_tokens"] > 0:
            n_tokens = min(n_tokens, body["max_tokens"])
        words = answer_text(self.config.seed, profile.name, prompt, n_tokens, profile.overlap).split()
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(words),
                 "total_tokens": len(prompt.split()) + len(words)}
        ttft_s = self._draw_ttft(profile)
        ident = f"chatcmpl-sim{self.stats['requests']}"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            try:
                return await self._stream(request, profile, ident, words, usage, ttft_s,
                                          include_usage)
            except ConnectionResetError:  # the client left (e.g. its quorum was reached)
                self.stats["client_gone"] += 1
                raise asyncio.CancelledError from None
        await asyncio.sleep(ttft_s)
        await self._through_stall()
        await self._pace(profile, len(words), None)
        self.stats["completions"] += 1
        return web.json_response({
            "id": ident, "object": "chat.completion", "created": int(time.time()),
            "model": profile.name,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": " ".join(words)}}],
            "usage": usage})

    async def _stream(self, request: web.Request, profile: ModelProfile, ident: str,
                      words: list[str], usage: dict[str, int], ttft_s: float,
                      include_usage: bool) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache"})
        gone = False  # the client left; a capacity-limited model still generates (below)
        try:
            await response.prepare(request)
        except ConnectionResetError:
            if not profile.max_concurrent:
                raise
            gone = True
        created = int(time.time())

        def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            chunk = {"id": ident, "object": "chat.completion.chunk", "created": created,
                     "model": profile.name,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(chunk)}\n\n".encode()

        await asyncio.sleep(ttft_s)
        await self._through_stall()
        first = True

        async def emit(start: int, end: int) -> bool:
            nonlocal first, gone
            text = " ".join(words[start:end])
            delta = {"role": "assistant", "content": text} if first else {"content": " " + text}
            first = False
            try:
                if not gone:
                    await response.write(event(delta))
            except ConnectionResetError:
                if not profile.max_concurrent:
                    raise
                # A capacity-limited model, like many serving engines, finishes the
                # generation its client left (its quorum was reached): the slot stays
                # busy, so every call costs the model its whole answer (docs/load.md).
                gone = True
            return not gone

        await self._pace(profile, len(words), emit)
        if gone:
            raise ConnectionResetError("client left during generation")
        # The last events and the end of the body in one write (one send), not four: the
        # same events in the same order, at a quarter of the simulator's syscalls for them.
        tail = [event({}, "stop")]
        if include_usage:
            usage_event = {"id": ident, "object": "chat.completion.chunk", "created": created,
                           "model": profile.name, "choices": [], "usage": usage}
            tail.append(f"data: {json.dumps(usage_event)}\n\n".encode())
        tail.append(b"data: [DONE]\n\n")
        await response.write_eof(b"".join(tail))
        self.stats["completions"] += 1
        return response

    # -- randomness ----------------------------------------------------------
    def _draw_fault(self, profile: ModelProfile) -> str | None:
        x = self.rng.random()
        for name, rate in (("429", profile.rate_429), ("500", profile.rate_500),
                           ("drop", profile.rate_drop), ("hang", profile.rate_hang)):
            if x < rate:
                return name
            x -= rate
        return None

    def _draw_ttft(self, profile: ModelProfile) -> float:
        median_s = profile.ttft_median_ms / 1000.0
        if profile.ttft_spread <= 0:
            return median_s
        return median_s * math.exp(self.rng.gauss(0.0, profile.ttft_spread))


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None
           ) -> web.Response:
    return web.json_response({"error": {"message": message, "type": code, "code": code}},
                             status=status, headers=headers)


# ---------------------------------------------------------------- command line
def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m codeperf.experts.simulator",
        description="OpenAI-compatible expert simulator on 127.0.0.1 (see the module docstring).")
    parser.add_argument("--port", type=int, default=8089, help="port; 0 picks a free one")
    parser.add_argument("--experts", help="experts TOML file whose [simulator] section to use "
                                          "(default: the bundled default_experts.toml)")
    parser.add_argument("--config-json", help="a SimulatorConfig as JSON (used by the scripts)")
    parser.add_argument("--seed", type=int, help="override the seed")
    parser.add_argument("--stall-at", type=float, help="stall this many seconds after start")
    parser.add_argument("--stall-for", type=float, default=0.0, help="stall duration in seconds")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="exit when stdin reaches end of file (the scripts hold its other "
                             "end, so the simulator dies with them, even on SIGKILL)")
    parser.add_argument("--reuse-port", action="store_true",
                        help="bind with SO_REUSEPORT, so other simulator processes can serve "
                             "the same port (each keeps its own /admin/stats)")
    parser.add_argument("--api-key-env", help="require this environment variable's value as "
                                              "the Bearer key")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    import os

    if args.config_json:
        config = SimulatorConfig.from_dict(json.loads(args.config_json))
    else:
        from codeperf.experts.config import load

        config = SimulatorConfig.from_dict(load(args.experts).simulator)
    changes: dict[str, Any] = {}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.stall_at is not None:
        changes.update(stall_at_s=args.stall_at, stall_for_s=args.stall_for)
    if args.api_key_env:
        changes["api_key"] = os.environ.get(args.api_key_env)
    return SimulatorConfig(**{**{f.name: getattr(config, f.name) for f in fields(config)}, **changes})


def _watch_parent(stop: asyncio.Event) -> None:
    """Set `stop` when stdin closes: the kernel closes the parent's end of the pipe
    however it dies, which a signal handler in the parent cannot promise."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            loop.remove_reader(fd)
            stop.set()

    loop.add_reader(fd, readable)


async def _serve(config: SimulatorConfig, port: int, exit_with_stdin: bool = False,
                 reuse_port: bool = False) -> None:
    simulator = Simulator(config)
    url = await simulator.start(port, reuse_port=reuse_port)
    stop = asyncio.Event()
    if exit_with_stdin:
        _watch_parent(stop)
    print(READY_PREFIX + url, flush=True)
    try:
        await stop.wait()
    finally:
        await simulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, OSError) as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config, args.port, args.exit_with_stdin, args.reuse_port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
