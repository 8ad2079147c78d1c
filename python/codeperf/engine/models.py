"""The engine's data model: one expert's answer to a query."""

from __future__ import annotations

from dataclasses import dataclass

@dataclass(frozen=True, slots=True)
class ExpertResponse:
    """An expert's answer. The engine operations accept these or plain dicts with the same keys."""

    expert: str
    model: str
    content: str
    confidence: float
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
