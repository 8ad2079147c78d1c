"""compute_consensus (docs/algorithms.md, "Consensus"): twin of crates/codeperf-core/src/consensus.rs."""

from __future__ import annotations

import math
from array import array
from typing import Any, Sequence

from codeperf.engine.analysis import analyze_one
from codeperf.engine.validation import (
    Response,
    check_matrix_budget,
    validate,
    validate_matrix_budget,
    validate_params,
)


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


def condensed_index(n: int, i: int, j: int) -> int:
    """Position of the pair i < j in the condensed upper triangle of an n x n matrix."""
    return i * (2 * n - i - 1) // 2 + (j - i - 1)


def similarity_matrix(token_lists: list[list[str]], similarity: str) -> array:
    """The strict upper triangle, row by row (pairs (0,1), (0,2), ..., (1,2), ...), as float64.

    One 8-byte double per pair and no per-pair object: at 1000 responses that is 4 MB
    where a list of lists of floats held 32 MB.
    """
    n = len(token_lists)
    matrix = array("d")
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
            ci, ni = counts[i], norms[i]
            matrix.extend([_cosine(ci, ni, counts[j], norms[j]) for j in range(i + 1, n)])
    else:
        sets = [set(toks) for toks in token_lists]
        for i in range(n):
            si = sets[i]
            matrix.extend([_jaccard(si, sets[j]) for j in range(i + 1, n)])
    return matrix


def _components(n: int, matrix: array, threshold: float) -> list[list[int]]:
    """Connected components of the graph with an edge where similarity >= threshold.

    Components do not depend on the order edges are visited; each is listed by
    ascending index and identified by its smallest member.
    """
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    k = 0  # walks the condensed matrix in its own order: (i, j) for i < j
    for i in range(n):
        for j in range(i + 1, n):
            if matrix[k] >= threshold:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
            k += 1
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
    for members in _components(n, matrix, threshold):
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
        k = 0
        for i in range(n):
            for j in range(i + 1, n):
                w = weights[i] * weights[j]
                s = matrix[k]
                num += w * s
                den += w
                plain += s
                k += 1
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
                      similarity: str = "cosine",
                      matrix_budget_bytes: int | None = None) -> dict[str, Any]:
    threshold, similarity = validate_params(threshold, similarity)
    budget = validate_matrix_budget(matrix_budget_bytes)
    validated = validate(responses)
    check_matrix_budget(len(validated), budget)
    return consensus_validated(validated, threshold, similarity)
