"""What the engine computes, on both backends (the `backend` fixture is parametrized)."""

from __future__ import annotations

from array import array

import pytest

from codeperf.engine import ExpertResponse
from codeperf.engine.consensus import condensed_index
from codeperf.engine.corpus import generate_responses


def resp(content: str, expert: str = "e", confidence: float = 0.8, **kw) -> dict:
    base = dict(expert=expert, model=kw.pop("model", "m"), content=content, confidence=confidence,
                latency_ms=100.0, prompt_tokens=10, completion_tokens=20, cost_usd=0.001)
    base.update(kw)
    return base


ANSWER = """You should use a connection pool.
- Use connection pooling for the database
- Cache results in Redis
```Python extra
import x
```
It might be slow. This is definitely the way!"""


class TestAnalysis:
    def test_reads_structure_of_one_answer(self, backend):
        out = backend.analyze_responses([resp(ANSWER)])
        r = out["responses"][0]
        assert r["recommendations"] == ["you should use a connection pool",
                                        "use connection pooling for the database",
                                        "cache results in redis"]
        assert r["code_blocks"] == [{"language": "python", "lines": 1, "closed": True}]
        assert (r["hedging_markers"], r["certainty_markers"]) == (1, 1)
        assert r["sentence_count"] == 5
        # 0.5 + 0.3 * 0/3, + 0.1 (recommendations) + 0.1 (code)
        assert r["heuristic_confidence"] == pytest.approx(0.7)
        assert r["token_count"] == 25 and r["unique_tokens"] == 22
        assert out["count"] == 1 and out["total_tokens"] == 25

    def test_recommendations_are_plain_strings_ascii_or_not(self, backend):
        # The Rust binding builds ASCII texts without CPython's decoder: they must be
        # ordinary str objects, equal and hashing equal to the same text made by Python.
        r = backend.analyze_responses([resp("- Use a pool\n- Nutze den Ärger-Cache\n- 東京 cache")])
        recs = r["responses"][0]["recommendations"]
        assert recs == ["use a pool", "nutze den ärger cache", "東京 cache"]
        assert [type(t) for t in recs] == [str, str, str]
        assert [t.isascii() for t in recs] == [True, False, False]
        assert {t: k for k, t in enumerate(recs)}["".join(["use a ", "pool"])] == 0
        assert [hash(t) for t in recs] == [hash(t.encode().decode()) for t in recs]

    def test_list_marker_is_not_a_sentence_or_token(self, backend):
        r = backend.analyze_responses([resp("1. Add caching\n2) Drop it")])["responses"][0]
        assert r["token_count"] == 4 and r["sentence_count"] == 2
        assert r["recommendations"] == ["add caching", "drop it"]

    def test_duplicate_recommendations_within_a_response_are_kept_once(self, backend):
        r = backend.analyze_responses([resp("- Cache it in Redis\n* cache it, in redis!")])["responses"][0]
        assert r["recommendations"] == ["cache it in redis"]

    def test_unclosed_fence_runs_to_the_end(self, backend):
        r = backend.analyze_responses([resp("text\n```\ncode\nmore")])["responses"][0]
        assert r["code_blocks"] == [{"language": "", "lines": 2, "closed": False}]
        assert r["token_count"] == 1

    def test_keywords_rank_by_tfidf_then_token(self, backend):
        out = backend.analyze_responses([resp("redis redis cache"), resp("cache pool")])
        tokens = [k["token"] for k in out["keywords"]]
        assert tokens[0] == "redis"  # frequent in one answer, absent from the other
        scores = [k["score"] for k in out["keywords"]]
        assert scores == sorted(scores, reverse=True)
        tied = [k["token"] for k in out["keywords"] if k["score"] == out["keywords"][-1]["score"]]
        assert tied == sorted(tied)

    def test_empty_inputs(self, backend):
        assert backend.analyze_responses([]) == {"count": 0, "total_tokens": 0, "keywords": [],
                                                 "responses": []}
        r = backend.analyze_responses([resp("")])["responses"][0]
        assert r["token_count"] == 0 and r["heuristic_confidence"] == 0.0

    def test_accepts_dataclasses_and_tuples(self, backend):
        rs = generate_responses(3, 512)
        as_dicts = [dict(expert=r.expert, model=r.model, content=r.content, confidence=r.confidence,
                         latency_ms=r.latency_ms, prompt_tokens=r.prompt_tokens,
                         completion_tokens=r.completion_tokens, cost_usd=r.cost_usd) for r in rs]
        assert backend.analyze_responses(rs) == backend.analyze_responses(as_dicts)
        assert backend.analyze_responses(tuple(rs)) == backend.analyze_responses(rs)


class TestConsensus:
    def test_identical_answers_agree_fully(self, backend):
        out = backend.compute_consensus([resp("use a pool", "a"), resp("use a pool", "b")])
        assert out["matrix"] == array("d", [1.0])
        assert out["agreement_score"] == 1.0 and out["level"] == "strong"
        assert out["dissenting_experts"] == [] and out["majority_share"] == 1.0

    def test_dissenter_is_named(self, backend):
        rs = [resp("cache redis pool", "a", 0.9), resp("cache redis pool", "b", 0.8),
              resp("kubernetes autoscaling", "c", 0.7)]
        out = backend.compute_consensus(rs, threshold=0.5)
        assert out["majority_cluster"]["experts"] == ["a", "b"]
        assert out["dissenting_experts"] == ["c"] and out["dissenting_indices"] == [2]
        assert [c["size"] for c in out["clusters"]] == [2, 1]
        # weighted mean of pairwise similarities: only the (a, b) pair is similar
        assert out["agreement_score"] == pytest.approx(0.72 / (0.72 + 0.63 + 0.56))

    def test_clustering_does_not_depend_on_input_order(self, backend):
        rs = generate_responses(12, 600, seed=3)
        forward = backend.compute_consensus(rs, threshold=0.6, similarity="jaccard")
        backward = backend.compute_consensus(rs[::-1], threshold=0.6, similarity="jaccard")
        as_sets = lambda out: sorted(sorted(c["experts"]) for c in out["clusters"])  # noqa: E731
        assert as_sets(forward) == as_sets(backward)

    def test_jaccard_and_cosine_differ_on_repetition(self, backend):
        rs = [resp("redis redis redis cache"), resp("redis cache")]
        assert backend.compute_consensus(rs, similarity="jaccard")["matrix"][0] == 1.0
        assert backend.compute_consensus(rs, similarity="cosine")["matrix"][0] < 1.0

    def test_empty_answers(self, backend):
        out = backend.compute_consensus([resp(""), resp(""), resp("redis")])
        # pairs (0, 1), (0, 2), (1, 2)
        assert out["matrix"].tolist() == [1.0, 0.0, 0.0]

    def test_matrix_is_the_condensed_upper_triangle(self, backend):
        """Pair (i, j), i < j, sits at i (2n - i - 1) / 2 + (j - i - 1), as docs/algorithms.md says."""
        words = ["redis cache", "redis pool", "pool", "cache cache", "kafka"]
        rs = [resp(w) for w in words]
        out = backend.compute_consensus(rs, similarity="jaccard")
        m = out["matrix"]
        assert isinstance(m, array) and m.typecode == "d" and len(m) == 10
        sets = [set(w.split()) for w in words]
        for i in range(5):
            for j in range(i + 1, 5):
                expected = len(sets[i] & sets[j]) / len(sets[i] | sets[j])
                assert m[condensed_index(5, i, j)] == expected
        assert memoryview(m).nbytes == 10 * 8

    @pytest.mark.parametrize("n, level, score", [(0, "none", 0.0), (1, "strong", 1.0)])
    def test_degenerate_sizes(self, backend, n, level, score):
        out = backend.compute_consensus([resp("x y z")] * n)
        assert (out["level"], out["agreement_score"], out["count"]) == (level, score, n)
        assert out["majority_cluster"] is (None if n == 0 else out["majority_cluster"])

    def test_zero_confidence_falls_back_to_unweighted(self, backend):
        out = backend.compute_consensus([resp("a b", confidence=0.0), resp("a b", confidence=0.0)])
        assert out["agreement_score"] == 1.0 and out["majority_share"] == 1.0


class TestAggregation:
    def test_near_duplicates_merge_across_experts(self, backend):
        rs = [resp("- Use a connection pool for the database", "a", 0.9),
              resp("- use connection pool for database", "b", 0.7),
              resp("- Rotate the API keys", "c", 0.5)]
        recs = backend.aggregate_responses(rs)["recommendations"]
        assert recs[0]["text"] == "use a connection pool for the database"
        assert recs[0]["experts"] == ["a", "b"] and recs[0]["support"] == 2
        assert recs[0]["mean_confidence"] == pytest.approx(0.8)
        assert recs[0]["score"] == pytest.approx(2 / 3 * 0.8)
        assert recs[1]["experts"] == ["c"]

    def test_statistics(self, backend):
        rs = [resp("a", "x", 0.2, latency_ms=100.0, model="m1"),
              resp("b", "y", 0.4, latency_ms=200.0, model="m1"),
              resp("c", "x", 0.95, latency_ms=400.0, model="m2", cost_usd=0.5)]
        s = backend.aggregate_responses(rs)["statistics"]
        assert s["confidence"]["median"] == 0.4
        assert s["confidence"]["min"] == 0.2 and s["confidence"]["max"] == 0.95
        assert s["latency_ms"]["p50"] == 200.0
        assert s["latency_ms"]["p95"] == pytest.approx(380.0)
        assert s["tokens"] == {"prompt": 30, "completion": 60, "total": 90}
        assert s["confidence_histogram"] == [0, 0, 1, 0, 1, 0, 0, 0, 0, 1]
        assert [e["expert"] for e in s["per_expert"]] == ["x", "y"]
        assert s["per_expert"][0]["responses"] == 2
        assert [m["model"] for m in s["per_model"]] == ["m1", "m2"]
        assert s["cost_usd"] == pytest.approx(0.502)

    def test_empty(self, backend):
        out = backend.aggregate_responses([])
        assert out["recommendations"] == [] and out["statistics"]["confidence"]["mean"] is None
        assert out["statistics"]["confidence_histogram"] == [0] * 10

    def test_confidence_one_lands_in_last_bucket(self, backend):
        hist = backend.aggregate_responses([resp("x", confidence=1.0)])["statistics"]["confidence_histogram"]
        assert hist[9] == 1


def test_one_megabyte_response(backend):
    big = ("- Use a pool for the database.\n" + "word " * 40 + "\n") * 4400
    assert len(big) > 1_000_000
    out = backend.aggregate_responses([resp(big), resp(big[: len(big) // 2])])
    assert out["recommendations"][0]["support"] == 2


def test_dataclass_is_frozen():
    r = ExpertResponse("e", "m", "c", 0.5)
    with pytest.raises(AttributeError):
        r.expert = "x"  # type: ignore[misc]
