//! Core invariants on arbitrary input (proptest), and consensus/aggregation behaviour
//! the Python tests also check, here on the core alone.

use codeperf_core::consensus::{compute_consensus_into, MatrixSizeError};
use codeperf_core::{aggregate_responses, analyze_responses, compute_consensus, Response, Similarity};
use proptest::prelude::*;

fn response(content: &str, confidence: f64) -> Response<'_> {
    Response {
        expert: "e",
        model: "m",
        content,
        confidence,
        latency_ms: 1.0,
        prompt_tokens: 1,
        completion_tokens: 2,
        cost_usd: 0.0,
    }
}

/// Texts over a small vocabulary (so answers overlap at every level), list markers,
/// sentence ends and some non-ASCII words.
fn text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "pool ", "cache ", "redis ", "retry ", "timeout ", "shard ", "use ", "the ", "- ", "1. ", "\n", ". ",
        "Straße ", "İstanbul ", "東京 ", "ǅemal ", "😀 ", "```\n", "You should ",
    ]);
    prop::collection::vec(pieces, 0..30).prop_map(|v| v.concat())
}

fn circle() -> impl Strategy<Value = Vec<(String, f64)>> {
    prop::collection::vec((text(), 0.0f64..=1.0), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn matrix_is_symmetric_with_values_in_unit_interval(circle in circle(), cosine in any::<bool>()) {
        let rs: Vec<Response<'_>> = circle.iter().map(|(t, c)| response(t, *c)).collect();
        let kind = if cosine { Similarity::Cosine } else { Similarity::Jaccard };
        let c = compute_consensus(&rs, 0.5, kind);
        let n = rs.len();
        prop_assert_eq!(c.matrix.len(), n);
        prop_assert_eq!(c.matrix.condensed().len(), n * n.saturating_sub(1) / 2);
        for i in 0..n {
            prop_assert_eq!(c.matrix.get(i, i), 1.0);
            for j in 0..n {
                let v = c.matrix.get(i, j);
                prop_assert!((0.0..=1.0).contains(&v), "s({}, {}) = {}", i, j, v);
                prop_assert_eq!(v.to_bits(), c.matrix.get(j, i).to_bits());
            }
        }
        prop_assert!((0.0..=1.0).contains(&c.agreement_score));
    }

    #[test]
    fn clusters_are_a_partition_joined_by_the_threshold(circle in circle(), threshold in 0.0f64..=1.0) {
        let rs: Vec<Response<'_>> = circle.iter().map(|(t, c)| response(t, *c)).collect();
        let c = compute_consensus(&rs, threshold, Similarity::Jaccard);
        let n = rs.len();
        let mut seen = vec![0usize; n];
        let mut cluster_of = vec![usize::MAX; n];
        for (k, cl) in c.clusters.iter().enumerate() {
            prop_assert_eq!(cl.size, cl.members.len());
            prop_assert!(cl.members.windows(2).all(|w| w[0] < w[1]), "members ascending");
            for &m in &cl.members {
                seen[m] += 1;
                cluster_of[m] = k;
            }
        }
        prop_assert!(seen.iter().all(|&s| s == 1), "every response in exactly one cluster");
        // Single linkage: a pair at or above the threshold is never split.
        for i in 0..n {
            for j in (i + 1)..n {
                if c.matrix.get(i, j) >= threshold {
                    prop_assert_eq!(cluster_of[i], cluster_of[j]);
                }
            }
        }
        // Dissenters are exactly the responses outside the first cluster.
        let majority: Vec<usize> = c.clusters.first().map(|m| m.members.clone()).unwrap_or_default();
        let outside: Vec<usize> = (0..n).filter(|i| !majority.contains(i)).collect();
        prop_assert_eq!(c.dissenting.clone(), outside);
    }

    #[test]
    fn merged_recommendations_partition_the_candidates(circle in circle()) {
        let rs: Vec<Response<'_>> = circle.iter().map(|(t, c)| response(t, *c)).collect();
        let a = aggregate_responses(&rs);
        let candidates: usize = analyze_responses(&rs).analyses.iter().map(|x| x.recommendation_count()).sum();
        prop_assert_eq!(a.recommendations.iter().map(|r| r.variants).sum::<usize>(), candidates);
        for r in &a.recommendations {
            prop_assert_eq!(r.support, r.response_indices.len());
            prop_assert!(r.response_indices.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(r.response_indices.iter().all(|&i| i < rs.len()));
            prop_assert!(r.support <= r.variants);
        }
        prop_assert!(a.recommendations.windows(2).all(|w| w[0].score >= w[1].score), "ordered by score");
    }

    /// The public API takes any `Response` and threshold, unvalidated: NaN, infinities and
    /// negative numbers in every float field (and as the threshold) must not panic, and
    /// the agreement stays in [0, 1] (a NaN becomes 0.0, as in the twin).
    #[test]
    fn no_panic_on_non_finite_numbers(
        circle in circle(),
        bad in prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, f64::MAX]),
        threshold in prop::sample::select(vec![0.5, f64::NAN, f64::INFINITY, -1.0]),
    ) {
        let rs: Vec<Response<'_>> = circle
            .iter()
            .enumerate()
            .map(|(i, (t, c))| Response {
                latency_ms: if i % 2 == 0 { bad } else { 1.0 },
                cost_usd: if i % 4 == 1 { bad } else { 0.0 },
                ..response(t, if i % 3 == 0 { bad } else { *c })
            })
            .collect();
        for kind in [Similarity::Cosine, Similarity::Jaccard] {
            let c = compute_consensus(&rs, threshold, kind);
            prop_assert!((0.0..=1.0).contains(&c.agreement_score), "agreement {}", c.agreement_score);
        }
        let _ = aggregate_responses(&rs);
        let _ = analyze_responses(&rs);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every public function on arbitrary Unicode (any scalar value, any length, cut
    /// anywhere between characters), alone and spliced into the structured texts above:
    /// none of them panics. The review of every `expect`, index and `unsafe` in the crate
    /// (issue #14) says why; this is the check that runs.
    #[test]
    fn public_api_never_panics_on_any_text(
        texts in prop::collection::vec((any::<String>(), text()).prop_map(|(a, b)| a + &b), 0..8),
        confidence in 0.0f64..=1.0,
    ) {
        let rs: Vec<Response<'_>> = texts.iter().map(|t| response(t, confidence)).collect();
        let report = analyze_responses(&rs);
        prop_assert_eq!(report.analyses.len(), rs.len());
        for a in &report.analyses {
            prop_assert!((0.0..=1.0).contains(&codeperf_core::analysis::heuristic_confidence(a)));
        }
        let _ = codeperf_core::analysis::keywords(&report.analyses, 5);
        for kind in [Similarity::Cosine, Similarity::Jaccard] {
            let _ = compute_consensus(&rs, 0.7, kind);
        }
        let _ = aggregate_responses(&rs);
        for t in &texts {
            let _ = codeperf_core::text::tokens(t);
            let _ = codeperf_core::analysis::analyze_one(t);
        }
    }
}

#[test]
fn consensus_into_a_buffer_of_the_wrong_size_is_an_error_not_a_panic() {
    let rs = [response("pool cache", 0.5), response("pool", 0.5), response("cache", 0.5)];
    let err = compute_consensus_into(&rs, 0.7, Similarity::Cosine, vec![0.0; 2]).unwrap_err();
    assert_eq!(err, MatrixSizeError { responses: 3, given: 2 });
    assert_eq!(err.to_string(), "a matrix of 3 responses needs 3 values, the buffer holds 2");
    let into = compute_consensus_into(&rs, 0.7, Similarity::Cosine, [0.0f64; 3]).expect("sized");
    assert_eq!(into.matrix.condensed(), compute_consensus(&rs, 0.7, Similarity::Cosine).matrix.condensed());
}

/// An index past the end would land on another pair's slot of the condensed layout:
/// `get` refuses it as slice indexing does, instead of answering with the wrong pair.
#[test]
#[should_panic(expected = "pair (0, 3) of a 3 x 3 matrix")]
fn matrix_get_out_of_range_panics_instead_of_reading_another_pair() {
    let rs = [response("pool", 0.5), response("pool", 0.5), response("cache", 0.5)];
    let _ = compute_consensus(&rs, 0.7, Similarity::Jaccard).matrix.get(0, 3);
}

#[test]
fn consensus_names_the_dissenter() {
    let rs = [response("cache redis pool", 0.9), response("cache redis pool", 0.8), response("kubernetes autoscaling", 0.7)];
    let c = compute_consensus(&rs, 0.5, Similarity::Jaccard);
    assert_eq!(c.clusters[0].members, vec![0, 1]);
    assert_eq!(c.dissenting, vec![2]);
    assert_eq!(c.matrix.condensed(), &[1.0, 0.0, 0.0]);
    // Weighted mean over pairs: only (0, 1) is similar.
    assert!((c.agreement_score - 0.72 / (0.72 + 0.63 + 0.56)).abs() < 1e-12);
    assert_eq!(c.level, "divergent");
    assert!((c.majority_share - 1.7 / 2.4).abs() < 1e-12);
}

#[test]
fn consensus_of_none_and_one() {
    let none = compute_consensus(&[], 0.7, Similarity::Cosine);
    assert_eq!((none.level, none.agreement_score, none.clusters.len()), ("none", 0.0, 0));
    let one = compute_consensus(&[response("pool", 0.5)], 0.7, Similarity::Cosine);
    assert_eq!((one.level, one.agreement_score), ("strong", 1.0));
    assert!(one.matrix.condensed().is_empty());
}

#[test]
fn cosine_sees_repetition_jaccard_does_not() {
    let rs = [response("redis redis redis cache", 0.5), response("redis cache", 0.5)];
    assert_eq!(compute_consensus(&rs, 0.7, Similarity::Jaccard).matrix.get(0, 1), 1.0);
    assert!(compute_consensus(&rs, 0.7, Similarity::Cosine).matrix.get(0, 1) < 1.0);
}

#[test]
fn aggregation_merges_near_duplicates_and_counts_support() {
    let rs = [
        response("- Cache results in Redis\n- Use a pool", 0.9),
        response("- Cache results in Redis\n- Use a pool", 0.7),
        response("- cache redis results\n1. Use pool for database", 0.5),
    ];
    let a = aggregate_responses(&rs);
    let cache = a.recommendations.iter().find(|r| r.text == "cache results in redis").expect("merged cache advice");
    // "cache redis results" has the same key {cache, redis, results}: one merged entry.
    assert_eq!(cache.response_indices, vec![0, 1, 2]);
    assert_eq!((cache.support, cache.variants), (3, 3));
    assert!((cache.mean_confidence - (0.9 + 0.7 + 0.5) / 3.0).abs() < 1e-12);
    assert!((cache.score - cache.mean_confidence).abs() < 1e-12);
    // {use, pool} vs {use, pool, database}: Jaccard 2/3 >= 0.6, merged.
    let pool = a.recommendations.iter().find(|r| r.text == "use a pool").expect("merged pool advice");
    assert_eq!(pool.response_indices, vec![0, 1, 2]);
    let s = &a.statistics;
    assert_eq!(s.confidence_min, Some(0.5));
    assert_eq!(s.confidence_max, Some(0.9));
    assert_eq!(s.confidence_median, Some(0.7));
    assert_eq!(s.prompt_tokens, 3);
    assert_eq!(s.confidence_histogram.iter().sum::<u64>(), 3);
}

#[test]
fn aggregation_of_nothing() {
    let a = aggregate_responses(&[]);
    assert!(a.recommendations.is_empty());
    assert_eq!(a.statistics.confidence_mean, None);
    assert_eq!(a.statistics.latency_p95, None);
}

/// Words longer than 16 bytes are joined across responses by their text (the merge's
/// global ids compare them as strings): equal long words meet, ones that differ only
/// after 16 bytes do not.
#[test]
fn aggregation_tells_long_words_apart_by_their_text() {
    let rs = [
        response("- Shard the connectionpoolmanager1 cache", 0.9),
        response("You should shard the ConnectionPoolManager1 cache.", 0.7),
        response("- shard connectionpoolmanager2 connectionpoolmanager3 cache", 0.5),
    ];
    let a = aggregate_responses(&rs);
    let texts: Vec<&str> = a.recommendations.iter().map(|r| r.text.as_str()).collect();
    // {shard, connectionpoolmanager1, cache} twice; {shard, ...2, ...3, cache}: 2/5 < 0.6.
    assert_eq!(texts, ["shard the connectionpoolmanager1 cache", "shard connectionpoolmanager2 connectionpoolmanager3 cache"]);
    assert_eq!(a.recommendations[0].response_indices, vec![0, 1]);
    assert_eq!(a.recommendations[1].response_indices, vec![2]);
}
