"""Bad input: the same exception type and message from both backends."""

from __future__ import annotations

import math

import pytest

from codeperf.engine import backend as get_backend


def good(**override):
    base = dict(expert="e", model="m", content="text", confidence=0.5, latency_ms=1.0,
                prompt_tokens=1, completion_tokens=2, cost_usd=0.0)
    base.update(override)
    return base


def without(field):
    r = good()
    del r[field]
    return r


class Obj:
    expert = "e"
    model = "m"
    content = "c"
    confidence = 0.5
    latency_ms = 1.0
    prompt_tokens = 1
    completion_tokens = 1


CASES = [
    ([without("content")], "responses[0].content: missing"),
    ([good(), without("expert")], "responses[1].expert: missing"),
    ([good(content=5)], "responses[0].content: must be a string"),
    ([good(model=None)], "responses[0].model: must be a string"),
    ([good(content="a\ud800b")], "responses[0].content: must be valid Unicode (no lone surrogates)"),
    ([good(confidence=math.nan)], "responses[0].confidence: must be in [0, 1]"),
    ([good(confidence=1.5)], "responses[0].confidence: must be in [0, 1]"),
    ([good(confidence=-0.1)], "responses[0].confidence: must be in [0, 1]"),
    ([good(confidence="0.5")], "responses[0].confidence: must be a number"),
    ([good(confidence=True)], "responses[0].confidence: must be a number"),
    ([good(latency_ms=-1.0)], "responses[0].latency_ms: must be finite and >= 0"),
    ([good(latency_ms=math.inf)], "responses[0].latency_ms: must be finite and >= 0"),
    ([good(latency_ms=10**400)], "responses[0].latency_ms: must be a finite number"),
    ([good(prompt_tokens=-3)], "responses[0].prompt_tokens: must be >= 0"),
    ([good(prompt_tokens=-(10**30))], "responses[0].prompt_tokens: must be >= 0"),
    ([good(completion_tokens=2**63)], "responses[0].completion_tokens: must be < 2**63"),
    ([good(completion_tokens=1.0)], "responses[0].completion_tokens: must be an integer"),
    ([good(completion_tokens=False)], "responses[0].completion_tokens: must be an integer"),
    ([good(cost_usd=math.nan)], "responses[0].cost_usd: must be finite and >= 0"),
    ([Obj()], "responses[0].cost_usd: missing"),
    (["not a response"], "responses[0]: must be a dict or an object with the response fields, not str"),
    ([1, 2], "responses[0]: must be a dict or an object with the response fields, not int"),
    ([good(), None], "responses[1]: must be a dict or an object with the response fields, not NoneType"),
    ([True], "responses[0]: must be a dict or an object with the response fields, not bool"),
    ([[good()]], "responses[0]: must be a dict or an object with the response fields, not list"),
    ([(1, 2)], "responses[0]: must be a dict or an object with the response fields, not tuple"),
    ([b"x"], "responses[0]: must be a dict or an object with the response fields, not bytes"),
    ([{1, 2}], "responses[0]: must be a dict or an object with the response fields, not set"),
    ([2.5], "responses[0]: must be a dict or an object with the response fields, not float"),
    # the first failing field of the first failing response is the one reported
    ([good(confidence=2.0), without("content")], "responses[0].confidence: must be in [0, 1]"),
    ([good(expert=1, confidence=2.0)], "responses[0].expert: must be a string"),
]


@pytest.mark.parametrize("op", ["analyze_responses", "compute_consensus", "aggregate_responses"])
@pytest.mark.parametrize("responses, message", CASES)
def test_same_error_from_both_backends(op, responses, message):
    for name in ("python", "rust"):
        with pytest.raises(ValueError) as info:
            getattr(get_backend(name), op)(responses)
        assert str(info.value) == message, name


@pytest.mark.parametrize("kwargs, message", [
    ({"threshold": 1.5}, "threshold: must be a number in [0, 1]"),
    ({"threshold": math.nan}, "threshold: must be a number in [0, 1]"),
    ({"threshold": "0.5"}, "threshold: must be a number in [0, 1]"),
    ({"threshold": True}, "threshold: must be a number in [0, 1]"),
    ({"threshold": 10**400}, "threshold: must be a number in [0, 1]"),
    ({"similarity": "dice"}, "similarity: must be 'cosine' or 'jaccard'"),
    ({"similarity": 3}, "similarity: must be 'cosine' or 'jaccard'"),
])
def test_consensus_parameters(backend, kwargs, message):
    with pytest.raises(ValueError) as info:
        backend.compute_consensus([good()], **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("budget", [-1, 1.5, "100", True, math.inf])
def test_matrix_budget_must_be_a_non_negative_integer(backend, budget):
    with pytest.raises(ValueError) as info:
        backend.compute_consensus([good()], matrix_budget_bytes=budget)
    assert str(info.value) == "matrix_budget_bytes: must be an integer >= 0"


def test_matrix_over_budget_is_refused_with_the_same_message():
    """3 responses need 3 pairs x 8 bytes: 23 bytes is one too few, 24 is enough."""
    rs = [good(), good(), good()]
    for name in ("python", "rust"):
        be = get_backend(name)
        with pytest.raises(ValueError) as info:
            be.compute_consensus(rs, matrix_budget_bytes=23)
        assert str(info.value) == (
            "responses: the similarity matrix of 3 responses needs 24 bytes (n*(n-1)/2 float64), "
            "over the budget of 23 bytes; pass fewer responses or a larger matrix_budget_bytes"), name
        assert len(be.compute_consensus(rs, matrix_budget_bytes=24)["matrix"]) == 3
        assert len(be.compute_consensus(rs[:1], matrix_budget_bytes=0)["matrix"]) == 0


def test_default_budget_refuses_what_cannot_fit(backend):
    """12,000 responses need 575,952,000 bytes of matrix, over the 512 MiB default; the
    refusal comes before any analysis, so it is immediate."""
    from codeperf.engine.validation import DEFAULT_MATRIX_BUDGET_BYTES

    assert DEFAULT_MATRIX_BUDGET_BYTES == 512 * 1024 * 1024
    with pytest.raises(ValueError, match="similarity matrix of 12000 responses needs 575952000 bytes"):
        backend.compute_consensus([good()] * 12_000)


def test_default_budget_is_the_same_in_both_twins():
    from codeperf import _rust
    from codeperf.engine.validation import DEFAULT_MATRIX_BUDGET_BYTES

    assert _rust.spec_constants()["default_matrix_budget_bytes"] == DEFAULT_MATRIX_BUDGET_BYTES


def test_parameters_are_checked_before_responses(backend):
    with pytest.raises(ValueError, match="similarity"):
        backend.compute_consensus([without("content")], similarity="dice")


@pytest.mark.parametrize("bad", [None, "text", {"expert": "e"}, 5])
def test_responses_must_be_a_list(backend, bad):
    with pytest.raises(TypeError, match="responses: must be a list"):
        backend.analyze_responses(bad)


def test_integers_are_numbers(backend):
    out = backend.aggregate_responses([good(confidence=1, latency_ms=3, cost_usd=0)])
    assert out["statistics"]["confidence"]["max"] == 1.0
    assert isinstance(out["statistics"]["confidence"]["max"], float)


def test_content_of_2_30_code_points_is_refused_by_both_backends():
    """The Rust engine keeps offsets within a response as u32: a text of 2**30 code points
    (up to 4 GiB of UTF-8) is refused before any reading, by both backends alike, with
    the same message. ASCII here: 1 GiB, built once."""
    from codeperf.engine.validation import MAX_CONTENT_CHARS

    assert MAX_CONTENT_CHARS == 2**30
    huge = "a" * MAX_CONTENT_CHARS
    for name in ("python", "rust"):
        for op in ("analyze_responses", "compute_consensus", "aggregate_responses"):
            with pytest.raises(ValueError) as info:
                getattr(get_backend(name), op)([good(), good(content=huge)])
            assert str(info.value) == "responses[1].content: must be shorter than 2**30 characters", (name, op)
