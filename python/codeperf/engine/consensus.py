"""compute_consensus (docs/algorithms.md, "Consensus"): twin of crates/codeperf-core/src/consensus.rs."""

from __future__ import annotations

import math
from typing import Any, Sequence

from codeperf.engine.analysis import analyze_one
from codeperf.engine.validation import Response, validate, validate_params


def _cosine(a: dict[str, int], norm_a: int, b: dict[str, int], norm_b: int) -> float:
    if not a or not b:
        return 1.0 if not a and not b else 0.0
    if len(b) < len(a):
        a, b = b, a
    dot = 0
    for tok, cnt in a.items():
        other = b.get(tok)
        if other is not None:
            dot += cnt * other
    # One square root of the exact product: identical vectors give exactly 1.0.
    return min(1.0, dot / math.sqrt(norm_a * norm_b))


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 1.0 if not a and not b else 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def similarity_matrix(token_lists: list[list[str]], similarity: str) -> list[list[float]]:
    n = len(token_lists)
    matrix = [[1.0] * n for _ in range(n)]
    if similarity == "cosine":
        counts = []
        for toks in token_lists:
            c: dict[str, int] = {}
            for t in toks:
                c[t] = c.get(t, 0) + 1
            counts.append(c)
        norms = []
        for c in counts:
            s = 0
            for v in c.values():
                s += v * v
            norms.append(s)
        for i in range(n):
            for j in range(i + 1, n):
                matrix[i][j] = matrix[j][i] = _cosine(counts[i], norms[i], counts[j], norms[j])
    else:
        sets = [set(toks) for toks in token_lists]
        for i in range(n):
            for j in range(i + 1, n):
                matrix[i][j] = matrix[j][i] = _jaccard(sets[i], sets[j])
    return matrix


def _components(matrix: list[list[float]], threshold: float) -> list[list[int]]:
    """Connected components of the graph with an edge where similarity >= threshold.

    Components do not depend on the order edges are visited; each is listed by
    ascending index and identified by its smallest member.
    """
    n = len(matrix)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in range(n):
        row = matrix[i]
        for j in range(i + 1, n):
            if row[j] >= threshold:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def level_for(agreement: float, n: int) -> str:
    if n == 0:
        return "none"
    if agreement >= 0.8:
        return "strong"
    if agreement >= 0.6:
        return "moderate"
    if agreement >= 0.4:
        return "weak"
    return "divergent"


def consensus_validated(responses: list[Response], threshold: float, similarity: str,
                        token_lists: list[list[str]] | None = None) -> dict[str, Any]:
    if token_lists is None:
        token_lists = [analyze_one(r.content).content_tokens for r in responses]
    n = len(responses)
    matrix = similarity_matrix(token_lists, similarity)
    weights = [r.confidence for r in responses]

    clusters = []
    for members in _components(matrix, threshold):
        weight = 0.0
        for m in members:
            weight += weights[m]
        clusters.append({"members": members, "experts": [responses[m].expert for m in members],
                         "size": len(members), "weight": weight})
    clusters.sort(key=lambda c: (-c["size"], -c["weight"], c["members"][0]))

    if n == 0:
        agreement = 0.0
    elif n == 1:
        agreement = 1.0
    else:
        num = den = plain = 0.0
        for i in range(n):
            for j in range(i + 1, n):
                w = weights[i] * weights[j]
                num += w * matrix[i][j]
                den += w
                plain += matrix[i][j]
        agreement = num / den if den > 0.0 else plain / (n * (n - 1) // 2)
        agreement = min(1.0, max(0.0, agreement))

    majority = clusters[0] if clusters else None
    total_weight = 0.0
    for w in weights:
        total_weight += w
    if majority is None:
        share = 0.0
    elif total_weight > 0.0:
        share = majority["weight"] / total_weight
    else:
        share = majority["size"] / n
    in_majority = set(majority["members"]) if majority else set()
    dissent = [i for i in range(n) if i not in in_majority]
    return {
        "count": n,
        "similarity": similarity,
        "threshold": threshold,
        "matrix": matrix,
        "clusters": clusters,
        "majority_cluster": majority,
        "dissenting_indices": dissent,
        "dissenting_experts": [responses[i].expert for i in dissent],
        "agreement_score": agreement,
        "majority_share": share,
        "level": level_for(agreement, n),
    }


def compute_consensus(responses: Sequence[Any], threshold: float = 0.7,
                      similarity: str = "cosine") -> dict[str, Any]:
    threshold, similarity = validate_params(threshold, similarity)
    return consensus_validated(validate(responses), threshold, similarity)
