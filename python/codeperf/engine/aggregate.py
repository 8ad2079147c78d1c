"""aggregate_responses (docs/algorithms.md, "Aggregation"): twin of crates/codeperf-core/src/aggregate.rs."""

from __future__ import annotations

import math
from typing import Any, Sequence

from codeperf.engine.analysis import analyze_one
from codeperf.engine.validation import Response, validate

NEAR_DUPLICATE = 0.6  # Jaccard of content-token sets at or above which two recommendations merge
HISTOGRAM_BUCKETS = 10


# -- statistics, summed in input order (never sum(): Python 3.12 changed its float rounding)
def _mean(values: list[float]) -> float | None:
    if not values:
        return None
    total = 0.0
    for v in values:
        total += v
    return total / len(values)


def _stdev(values: list[float]) -> float | None:
    """Sample standard deviation (n - 1); 0.0 for a single value."""
    if not values:
        return None
    if len(values) < 2:
        return 0.0
    mean = _mean(values)
    ss = 0.0
    for v in values:
        d = v - mean
        ss += d * d
    return math.sqrt(ss / (len(values) - 1))


def _percentile(sorted_values: list[float], p: int) -> float | None:
    """Linear interpolation between closest ranks; the rank is computed in integers."""
    n = len(sorted_values)
    if n == 0:
        return None
    rank = (n - 1) * p
    lo = rank // 100
    hi = min(lo + 1, n - 1)
    frac = (rank % 100) / 100
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def _breakdown(responses: list[Response], key: str) -> list[dict[str, Any]]:
    groups: dict[str, list[Response]] = {}
    for r in responses:
        groups.setdefault(getattr(r, key), []).append(r)
    out = []
    for name, members in groups.items():
        tokens = 0
        cost = 0.0
        for r in members:
            tokens += r.prompt_tokens + r.completion_tokens
            cost += r.cost_usd
        out.append({key: name, "responses": len(members),
                    "mean_confidence": _mean([r.confidence for r in members]),
                    "mean_latency_ms": _mean([r.latency_ms for r in members]),
                    "total_tokens": tokens, "cost_usd": cost})
    return out


def statistics(responses: list[Response]) -> dict[str, Any]:
    conf = [r.confidence for r in responses]
    lat = [r.latency_ms for r in responses]
    conf_sorted, lat_sorted = sorted(conf), sorted(lat)
    prompt = completion = 0
    cost = 0.0
    histogram = [0] * HISTOGRAM_BUCKETS
    for r in responses:
        prompt += r.prompt_tokens
        completion += r.completion_tokens
        cost += r.cost_usd
        histogram[min(int(r.confidence * HISTOGRAM_BUCKETS), HISTOGRAM_BUCKETS - 1)] += 1
    return {
        "confidence": {"mean": _mean(conf), "median": _percentile(conf_sorted, 50),
                       "stdev": _stdev(conf), "min": conf_sorted[0] if conf else None,
                       "max": conf_sorted[-1] if conf else None},
        "latency_ms": {"mean": _mean(lat), "p50": _percentile(lat_sorted, 50),
                       "p95": _percentile(lat_sorted, 95), "max": lat_sorted[-1] if lat else None},
        "tokens": {"prompt": prompt, "completion": completion, "total": prompt + completion},
        "cost_usd": cost,
        "per_expert": _breakdown(responses, "expert"),
        "per_model": _breakdown(responses, "model"),
        "confidence_histogram": histogram,
    }


def _near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    small, large = (len(a), len(b)) if len(a) <= len(b) else (len(b), len(a))
    if small < NEAR_DUPLICATE * large:  # Jaccard <= small / large: cannot reach the bar
        return False
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter) >= NEAR_DUPLICATE


def _prefix(length: int) -> int:
    """Tokens of a key (rarest first) among which any near-duplicate shares one:
    Jaccard >= 3/5 forces an overlap of at least ceil(3 len / 5) tokens."""
    return length - (-(-3 * length // 5)) + 1


def _similar_pairs(reps: list[int], keys: list[frozenset[str]]) -> list[tuple[int, int]]:
    """Pairs (c, d), c before d, of candidates among `reps` whose keys are near-duplicates.

    Prefix filtering (as the Rust side): with each key's tokens ordered rarest first,
    two keys with Jaccard >= 3/5 share a token within each one's prefix, so only pairs
    meeting in a prefix are verified. The filter never drops a qualifying pair, so the
    result equals checking every pair, but common tokens ("use", "cache") no longer
    pair every candidate with every other one (that made the merge superlinear in pairs).
    """
    freq: dict[str, int] = {}
    for c in reps:
        for tok in keys[c]:
            freq[tok] = freq.get(tok, 0) + 1
    ordered = [sorted(keys[c], key=lambda t: (freq[t], t)) for c in reps]
    postings: dict[str, list[int]] = {}
    for r, toks in enumerate(ordered):
        for tok in toks[:_prefix(len(toks))]:
            postings.setdefault(tok, []).append(r)
    pairs = []
    for r, toks in enumerate(ordered):
        partners: set[int] = set()
        for tok in toks[:_prefix(len(toks))]:
            for q in postings[tok]:
                if q > r:
                    partners.add(q)
        c = reps[r]
        for q in sorted(partners):
            d = reps[q]
            if _near_duplicate(keys[c], keys[d]):
                pairs.append((c, d))
    return pairs


def merge_recommendations(responses: list[Response], analyses: list) -> list[dict[str, Any]]:
    owner: list[int] = []
    texts: list[str] = []
    keys: list[frozenset[str]] = []
    for i, a in enumerate(analyses):
        for t, k in zip(a.recommendations, a.recommendation_keys):
            owner.append(i)
            texts.append(t)
            keys.append(k)
    m = len(texts)
    parent = list(range(m))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(c: int, d: int) -> None:
        rc, rd = find(c), find(d)
        if rc != rd:
            parent[max(rc, rd)] = min(rc, rd)

    # Identical keys are near-duplicates (Jaccard 1): merge them at once and join only
    # the distinct keys, each through its first candidate.
    first: dict[frozenset[str], int] = {}
    reps: list[int] = []
    for c, key in enumerate(keys):
        seen = first.get(key)
        if seen is None:
            first[key] = c
            reps.append(c)
        else:
            union(seen, c)
    for c, d in _similar_pairs(reps, keys):
        union(c, d)

    groups: dict[int, list[int]] = {}
    for c in range(m):
        groups.setdefault(find(c), []).append(c)
    n = len(responses)
    merged = []
    for root, members in groups.items():
        supporters = sorted({owner[c] for c in members})
        mean_conf = _mean([responses[s].confidence for s in supporters])
        merged.append({
            "text": texts[root],
            "support": len(supporters),
            "experts": [responses[s].expert for s in supporters],
            "response_indices": supporters,
            "variants": len(members),
            "mean_confidence": mean_conf,
            "score": (len(supporters) / n) * mean_conf,
            "_root": root,
        })
    merged.sort(key=lambda r: (-r["score"], -r["support"], r["_root"]))
    for r in merged:
        del r["_root"]
    return merged


def aggregate_validated(responses: list[Response], analyses: list | None = None) -> dict[str, Any]:
    if analyses is None:
        analyses = [analyze_one(r.content) for r in responses]
    return {
        "count": len(responses),
        "recommendations": merge_recommendations(responses, analyses),
        "statistics": statistics(responses),
    }


def aggregate_responses(responses: Sequence[Any]) -> dict[str, Any]:
    return aggregate_validated(validate(responses))
