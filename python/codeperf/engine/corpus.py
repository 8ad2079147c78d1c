"""Deterministic, realistic expert answers for benchmarks and tests.

Each answer is Markdown as an LLM writes it: an opening paragraph with hedging
or certainty, a list of recommendations drawn from a shared pool (so experts
overlap partially and consensus has real work to do), sometimes paraphrased,
a fenced code block, and closing prose. The same (n, size_bytes, seed) always
gives the same answers.
"""

from __future__ import annotations

import random
from typing import Callable

from codeperf.engine.models import ExpertResponse

EXPERTS = ("gpt-architect", "claude-reviewer", "llama-sre", "mistral-dba", "qwen-security",
           "gemma-perf", "phi-frontend", "deepseek-platform")
MODELS = ("gpt-4o", "claude-sonnet", "llama-3.1-70b", "mistral-large", "qwen2.5-72b",
          "gemma-2-27b", "phi-3-medium", "deepseek-v3")

# (action, object, reason): recombined so near-duplicates exist across experts.
RECOMMENDATIONS = (
    ("Use", "a connection pool for the database", "to avoid a handshake per request"),
    ("Enable", "HTTP keep-alive between services", "so that sockets are reused"),
    ("Add", "a Redis cache in front of the read path", "because most reads repeat"),
    ("Set", "explicit timeouts on every outbound call", "since a hung dependency blocks workers"),
    ("Introduce", "retries with exponential backoff and jitter", "to ride out transient 5xx errors"),
    ("Move", "the consensus computation to a worker pool", "so the event loop stays responsive"),
    ("Batch", "embedding requests into groups of 32", "which cuts per-call overhead"),
    ("Stream", "tokens to the client as they arrive", "to lower perceived latency"),
    ("Profile", "the hot path with py-spy before optimising", "since guesses are often wrong"),
    ("Replace", "the JSON parser with orjson", "because parsing dominates small requests"),
    ("Cap", "the number of in-flight requests per expert", "to protect rate-limited providers"),
    ("Record", "latency histograms instead of averages", "so tail latency is visible"),
    ("Shard", "the vector index by tenant", "to keep each index in memory"),
    ("Precompute", "prompt templates at start-up", "to avoid repeated string formatting"),
    ("Validate", "inputs at the API boundary", "so malformed requests fail fast"),
    ("Rotate", "API keys through the secret manager", "to limit the blast radius of a leak"),
    ("Compress", "large responses with zstd", "which saves bandwidth between regions"),
    ("Pin", "dependency versions in the lock file", "so builds are reproducible"),
    ("Run", "load tests with an open arrival model", "to expose coordinated omission"),
    ("Drain", "connections gracefully on shutdown", "so in-flight queries complete"),
)
PARAPHRASE = {"Use": "Adopt", "Enable": "Turn on", "Add": "Put", "Set": "Configure",
              "Introduce": "Implement", "Move": "Offload", "Batch": "Group", "Stream": "Send",
              "Profile": "Measure", "Replace": "Swap", "Cap": "Limit", "Record": "Keep",
              "Shard": "Partition", "Precompute": "Prepare", "Validate": "Check",
              "Rotate": "Cycle", "Compress": "Shrink", "Pin": "Lock", "Run": "Execute",
              "Drain": "Close"}
OPENINGS = (
    "This is definitely a latency problem in the request path, and the fix is clearly structural.",
    "It might be a throughput issue, but it could also be contention on the database; perhaps both.",
    "The system probably spends most of its time waiting on the network rather than computing.",
    "I am absolutely sure the bottleneck is the synchronous call to the experts.",
    "Generally, services like this one are limited by I/O, although it depends on the workload.",
)
CLOSINGS = (
    "You should measure again after each change, because improvements rarely add up linearly.",
    "Consider the cost of each change; some of these are cheap and some are not.",
    "Overall the design is sound, and these steps should make it faster under load.",
    "Avoid changing everything at once: one change per deployment keeps regressions traceable.",
)
CODE = (
    ("python", "async with session.post(url, json=payload, timeout=timeout) as resp:\n"
               "    resp.raise_for_status()\n    data = await resp.json()"),
    ("rust", "let pool = Pool::builder().max_size(32).build(manager)?;\n"
             "let conn = pool.get().await?;"),
    ("yaml", "resources:\n  limits:\n    cpu: \"2\"\n    memory: 512Mi"),
    ("bash", "wrk -t2 -c200 -d30s --latency http://127.0.0.1:8080/v1/query"),
)
FILLER = (
    "Under sustained load the queue grows whenever arrivals outpace service, and latency follows.",
    "A warm cache changes the picture entirely, so benchmarks must state whether they ran warm.",
    "Tail latency matters more than the mean for interactive users, who notice the slowest call.",
    "Memory growth across batches usually points at a cache without an eviction policy.",
    "Each expert answers at its own pace, so the slowest one decides when a quorum forms.",
    "The operating system reuses sockets only when both sides keep the connection open.",
)


def _recommendation(rng: random.Random, idx: int) -> str:
    action, obj, reason = RECOMMENDATIONS[idx]
    if rng.random() < 0.35:
        action = PARAPHRASE[action]
    return f"{action} {obj} {reason}." if rng.random() < 0.6 else f"{action} {obj}."


def answer(rng: random.Random, size_bytes: int) -> str:
    """One Markdown answer of at least `size_bytes` UTF-8 bytes (cut at a line boundary after)."""
    parts = [rng.choice(OPENINGS), ""]
    picks = rng.sample(range(len(RECOMMENDATIONS)), k=rng.randint(4, 8))
    numbered = rng.random() < 0.5
    for k, idx in enumerate(picks):
        marker = f"{k + 1}." if numbered else "-"
        parts.append(f"{marker} {_recommendation(rng, idx)}")
    parts.append("")
    lang, code = rng.choice(CODE)
    parts += [f"```{lang}", code, "```", "", rng.choice(CLOSINGS)]
    text = "\n".join(parts)
    while len(text.encode("utf-8")) < size_bytes:
        extra = [rng.choice(FILLER) for _ in range(3)]
        if rng.random() < 0.3:
            extra.append(f"You should also {_recommendation(rng, rng.randrange(len(RECOMMENDATIONS))).lower()}")
        text += "\n\n" + " ".join(extra)
    return text


def generate_responses(n: int, size_bytes: int = 2048, seed: int = 0,
                       answer: Callable[[random.Random, int], str] = answer,
                       stream: str = "codeperf-corpus") -> list[ExpertResponse]:
    """`n` expert answers of about `size_bytes` each, deterministic in (n, size_bytes, seed).

    `answer` writes one answer's text (other corpus families pass theirs, see
    `codeperf.engine.corpus_families`), `stream` names their random stream."""
    if n < 0 or size_bytes < 0:
        raise ValueError("n and size_bytes must be >= 0")
    rng = random.Random(f"{stream}/{seed}/{n}/{size_bytes}")
    out = []
    for i in range(n):
        e = i % len(EXPERTS)
        content = answer(rng, size_bytes)
        completion = len(content) // 4
        out.append(ExpertResponse(
            expert=EXPERTS[e] if i < len(EXPERTS) else f"{EXPERTS[e]}-{i // len(EXPERTS)}",
            model=MODELS[e], content=content,
            confidence=round(rng.uniform(0.45, 0.98), 3),
            latency_ms=round(rng.lognormvariate(6.2, 0.5), 3),
            prompt_tokens=rng.randint(80, 400), completion_tokens=completion,
            cost_usd=round(completion * 2e-6, 8)))
    return out
