"""Token timing of one chat completion, as LLM benchmarks define it.

- TTFT: request sent -> first content chunk (streaming only; a plain JSON answer
  has no first token apart from its last, so TTFT is not measurable there).
- ITL (inter-token latency): the gaps between consecutive content chunks, as
  vLLM's `bench serve` and GuideLLM report it. One chunk (or a non-streamed
  answer) has no gap: ITL is *not measurable* (None), never zero.
- TPOT (time per output token): (end - first chunk) / (output tokens - 1),
  vLLM's definition; needs a first chunk and at least two output tokens.
- Output tokens/s of the call: output tokens / (end - request sent).

Output tokens come from the server's `usage` when it sends one, else the count
of content chunks (the orchestrator records which in `tokens_source`). A
server that packs several tokens into one chunk makes the chunk count a lower
bound; `usage` is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ChunkClock:
    """perf_counter times (seconds) at which content chunks arrived, for one attempt."""

    times: list[float] = field(default_factory=list)

    def chunk(self, now: float) -> None:
        self.times.append(now)

    def reset(self) -> None:
        self.times.clear()


@dataclass(frozen=True)
class TokenTiming:
    itl_ms: list[float] | None  # None: fewer than two chunks (not measurable)
    tpot_ms: float | None
    output_tokens_per_s: float | None

    @property
    def itl_mean_ms(self) -> float | None:
        return sum(self.itl_ms) / len(self.itl_ms) if self.itl_ms else None


def token_timing(chunk_times: list[float], output_tokens: int | None, start: float,
                 end: float) -> TokenTiming:
    """Timing of one call from its chunk arrival times, its output tokens and its start/end."""
    itl = ([(b - a) * 1000.0 for a, b in zip(chunk_times, chunk_times[1:])]
           if len(chunk_times) >= 2 else None)
    tpot = None
    if chunk_times and output_tokens is not None and output_tokens >= 2:
        tpot = (end - chunk_times[0]) * 1000.0 / (output_tokens - 1)
    rate = None
    if output_tokens is not None and end > start:
        rate = output_tokens / (end - start)
    return TokenTiming(itl, tpot, rate)
