"""The benchmark corpus families: deterministic, of the asked size, and about what they claim."""

from __future__ import annotations

import pytest

from codeperf.engine import backend
from codeperf.engine.corpus import generate_responses
from codeperf.engine.corpus_families import FAMILIES, REFERENCE_FAMILY, generate_family


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_deterministic_and_at_least_the_asked_size(family):
    a = generate_family(family, 12, 2048, seed=4)
    assert a == generate_family(family, 12, 2048, seed=4)
    assert a != generate_family(family, 12, 2048, seed=5)
    assert all(len(r.content.encode("utf-8")) >= 2048 for r in a)


def test_own_family_is_the_original_corpus():
    assert REFERENCE_FAMILY == "own"
    assert generate_family("own", 5, 700, seed=2) == generate_responses(5, 700, seed=2)


def test_families_differ_from_each_other():
    contents = {f: generate_family(f, 1, 1024)[0].content for f in FAMILIES}
    assert len(set(contents.values())) == len(FAMILIES)


def test_multilingual_holds_the_hard_cases():
    text = "".join(r.content for r in generate_family("multilingual", 60, 2048))
    for needle in ("ß", "İ", "ǅ", "ﬁ", "ς", "\u0301", "東", "ع", "ש", "\u200d"):
        assert needle in text, needle


def test_code_is_mostly_fenced_code():
    analysis = backend("python").analyze_responses(generate_family("code", 10, 2048))
    assert all(len(r["code_blocks"]) >= 2 for r in analysis["responses"])


def test_chat_has_markdown_structure():
    text = "".join(r.content for r in generate_family("chat", 30, 2048))
    for needle in ("## ", "| --- |", "**", "`", "   - ", "1. ", "* "):
        assert needle in text, needle


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_gives_consensus_and_merging_work(family):
    """Shared pools: answers overlap, so recommendations merge across responses."""
    out = backend("python").aggregate_responses(generate_family(family, 20, 1024))
    assert max(r["support"] for r in out["recommendations"]) >= 3


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown corpus family 'poetry'"):
        generate_family("poetry", 1)
