"""The near-duplicate join of aggregation (docs/algorithms.md, "Limits and cost").

Prefix filtering must find exactly the pairs that checking every pair finds, and
verify each pair at most once, so the merge stays within m (m - 1) / 2 checks for m
distinct keys. Before issue #14 the twin verified a pair once per token the two keys
shared, which grew faster than n² (1,000 responses: 10.6 s, 2,000: 53.9 s). These
tests read the Python twin's join; the Rust join equals it on every input the twin
tests draw (tests/test_engine_twins.py compares both backends' merged groups).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from codeperf.engine import aggregate
from codeperf.engine.corpus_families import FAMILIES, generate_family

VOCAB = [f"t{i}" for i in range(12)]  # small: keys overlap at every Jaccard level
keys_strategy = st.lists(st.frozensets(st.sampled_from(VOCAB), min_size=1, max_size=8),
                         max_size=40)


def _all_pairs(reps: list[int], keys: list[frozenset[str]]) -> list[tuple[int, int]]:
    """Every pair checked, by the spec's integer form of Jaccard >= 0.6."""
    out = []
    for x, c in enumerate(reps):
        for d in reps[x + 1:]:
            inter = len(keys[c] & keys[d])
            if 5 * inter >= 3 * (len(keys[c]) + len(keys[d]) - inter):
                out.append((c, d))
    return out


def _counting(monkeypatch) -> list[int]:
    """Count the twin's pair verifications (`_near_duplicate` calls)."""
    calls = [0]
    check = aggregate._near_duplicate

    def counted(a, b):
        calls[0] += 1
        return check(a, b)

    monkeypatch.setattr(aggregate, "_near_duplicate", counted)
    return calls


@settings(max_examples=300, deadline=None)
@given(keys_strategy)
def test_prefix_join_finds_exactly_the_pairs_of_checking_every_pair(keys):
    reps = list(range(len(keys)))
    distinct = [c for c in reps if keys.index(keys[c]) == c]  # as merge: distinct keys only
    for chosen in (reps, distinct):
        assert sorted(aggregate._similar_pairs(chosen, keys)) == _all_pairs(chosen, keys)


def test_each_pair_is_verified_at_most_once(monkeypatch):
    """Keys sharing many tokens (the case that made the old join superlinear): the
    checks stay within the number of pairs."""
    keys = [frozenset(VOCAB[:6]) | {f"u{i}"} for i in range(60)]  # 6 tokens shared by all
    calls = _counting(monkeypatch)
    pairs = aggregate._similar_pairs(list(range(len(keys))), keys)
    m = len(keys)
    assert calls[0] <= m * (m - 1) // 2
    assert len(pairs) == m * (m - 1) // 2  # Jaccard 6/8 >= 0.6: every pair is a near-duplicate


def test_merge_checks_stay_within_the_pairs_of_candidates_on_every_family(monkeypatch):
    """The benchmark's inputs at 300 responses: m candidates (the merged groups'
    variants), at most m (m - 1) / 2 verifications, and in fact far fewer."""
    calls = _counting(monkeypatch)
    checked = {}
    for family in sorted(FAMILIES):
        calls[0] = 0
        out = aggregate.aggregate_responses(generate_family(family, 300, 2048))
        m = sum(r["variants"] for r in out["recommendations"])
        checked[family] = calls[0]
        assert calls[0] <= m * (m - 1) // 2, family
    # Some family's keys meet in their prefixes (chat's distinct keys share no rare token).
    assert any(checked.values()), checked
