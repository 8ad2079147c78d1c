"""analyze_responses (docs/algorithms.md, "Analysis"): twin of crates/codeperf-core/src/analysis.rs."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Sequence

from codeperf.engine import document, text
from codeperf.engine.validation import Response, validate

TOP_KEYWORDS = 10


@dataclass(slots=True)
class Analysis:
    """What the engine reads from one response; shared by analysis, consensus and aggregation."""

    token_count: int
    unique_tokens: int
    sentence_count: int
    recommendations: list[str]
    recommendation_keys: list[frozenset[str]]
    code_blocks: list[dict]
    hedging: int
    certainty: int
    content_tokens: list[str]


def _add_recommendation(toks: list[str], texts: list[str], keys: list[frozenset[str]],
                        seen: set[str]) -> None:
    key = frozenset(text.content_tokens(toks))
    if not key:
        return
    normalised = " ".join(toks)
    if normalised in seen:
        return
    seen.add(normalised)
    texts.append(normalised)
    keys.append(key)


def analyze_one(content: str) -> Analysis:
    doc = document.parse(content)
    all_tokens: list[str] = []
    sentences = 0
    recs: list[str] = []
    rec_keys: list[frozenset[str]] = []
    seen: set[str] = set()
    for line in doc.prose_lines:
        item = document.list_item(line)
        # A list item is read without its marker ("1." is not a sentence) and is a
        # recommendation as a whole; other lines recommend sentence by sentence.
        item_tokens: list[str] = []
        for sentence in text.split_sentences(line if item is None else item):
            toks = text.tokens(sentence)
            if not toks:
                continue
            sentences += 1
            all_tokens.extend(toks)
            if item is not None:
                item_tokens.extend(toks)
            elif not text.RECOMMEND_MARKERS.isdisjoint(toks):
                _add_recommendation(toks, recs, rec_keys, seen)
        if item_tokens:
            _add_recommendation(item_tokens, recs, rec_keys, seen)
    hedging = certainty = 0
    for tok in all_tokens:
        if tok in text.HEDGING_MARKERS:
            hedging += 1
        if tok in text.CERTAINTY_MARKERS:
            certainty += 1
    return Analysis(len(all_tokens), len(set(all_tokens)), sentences, recs, rec_keys,
                    doc.code_blocks, hedging, certainty, text.content_tokens(all_tokens))


def heuristic_confidence(a: Analysis) -> float:
    if a.token_count == 0:
        return 0.0
    score = 0.5 + 0.3 * ((a.certainty - a.hedging) / (a.certainty + a.hedging + 1))
    if a.recommendations:
        score += 0.1
    if a.code_blocks:
        score += 0.1
    return min(1.0, max(0.0, score))


def keywords(analyses: Sequence[Analysis], top: int = TOP_KEYWORDS) -> list[dict[str, Any]]:
    """Top terms by TF-IDF over content tokens; ties broken by the term (code point order)."""
    n = len(analyses)
    doc_freq: dict[str, int] = {}
    counts: list[dict[str, int]] = []
    for a in analyses:
        c: dict[str, int] = {}
        for tok in a.content_tokens:
            c[tok] = c.get(tok, 0) + 1
        counts.append(c)
        for tok in c:
            doc_freq[tok] = doc_freq.get(tok, 0) + 1
    idf = {tok: math.log((1 + n) / (1 + df)) + 1.0 for tok, df in doc_freq.items()}
    score: dict[str, float] = {}
    for a, c in zip(analyses, counts):
        length = len(a.content_tokens)
        for tok, cnt in c.items():
            score[tok] = score.get(tok, 0.0) + (cnt / length) * idf[tok]
    ranked = sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [{"token": tok, "score": s} for tok, s in ranked]


def analyze_validated(responses: list[Response]) -> tuple[list[Analysis], dict[str, Any]]:
    analyses = [analyze_one(r.content) for r in responses]
    per_response = []
    for i, (r, a) in enumerate(zip(responses, analyses)):
        per_response.append({
            "index": i,
            "expert": r.expert,
            "model": r.model,
            "token_count": a.token_count,
            "unique_tokens": a.unique_tokens,
            "sentence_count": a.sentence_count,
            "recommendations": list(a.recommendations),
            "code_blocks": [dict(b) for b in a.code_blocks],
            "hedging_markers": a.hedging,
            "certainty_markers": a.certainty,
            "heuristic_confidence": heuristic_confidence(a),
        })
    total = 0
    for a in analyses:
        total += a.token_count
    return analyses, {
        "count": len(responses),
        "total_tokens": total,
        "keywords": keywords(analyses),
        "responses": per_response,
    }


# The seeded regression that proves the instruction-count gate catches one
# (docs/bench_rust.md): only that check sets the variable. Read once, at import.
_SEEDED_REGRESSION = os.environ.get("CODEPERF_SEED_REGRESSION") == "analyze"


def analyze_responses(responses: Sequence[Any]) -> dict[str, Any]:
    if _SEEDED_REGRESSION:  # an extra analysis of the first tenth of the input
        analyze_validated(validate(responses[:-(-len(responses) // 10)]))
    return analyze_validated(validate(responses))[1]
