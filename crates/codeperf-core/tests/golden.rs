//! The golden vectors of tests/data/engine_golden.json, checked from cargo as well as
//! from pytest: the core alone reproduces the outputs the spec gives (floats within
//! 1e-9 relative, everything else exact). Results are rendered in the shape the binding
//! returns (the matrix as its condensed upper triangle, as in the golden file).

use codeperf_core::analysis::heuristic_confidence;
use codeperf_core::{aggregate_responses, analyze_responses, compute_consensus, Response, Similarity};
use serde_json::{json, Value};

const GOLDEN: &str = include_str!("../../../tests/data/engine_golden.json");

fn responses(v: &Value) -> Vec<Response<'_>> {
    v.as_array()
        .expect("responses: a list")
        .iter()
        .map(|r| Response {
            expert: r["expert"].as_str().unwrap(),
            model: r["model"].as_str().unwrap(),
            content: r["content"].as_str().unwrap(),
            confidence: r["confidence"].as_f64().unwrap(),
            latency_ms: r["latency_ms"].as_f64().unwrap(),
            prompt_tokens: r["prompt_tokens"].as_u64().unwrap(),
            completion_tokens: r["completion_tokens"].as_u64().unwrap(),
            cost_usd: r["cost_usd"].as_f64().unwrap(),
        })
        .collect()
}

fn analysis_json(rs: &[Response<'_>]) -> Value {
    let report = analyze_responses(rs);
    let items: Vec<Value> = rs
        .iter()
        .zip(&report.analyses)
        .enumerate()
        .map(|(i, (r, a))| {
            json!({
                "index": i, "expert": r.expert, "model": r.model,
                "token_count": a.token_count, "unique_tokens": a.unique_tokens,
                "sentence_count": a.sentence_count, "recommendations": a.recommendations().collect::<Vec<_>>(),
                "code_blocks": a.code_blocks.iter().map(|b| json!({"language": b.language.as_str(), "lines": b.lines, "closed": b.closed})).collect::<Vec<_>>(),
                "hedging_markers": a.hedging, "certainty_markers": a.certainty,
                "heuristic_confidence": heuristic_confidence(a),
            })
        })
        .collect();
    json!({
        "count": rs.len(),
        "total_tokens": report.total_tokens,
        "keywords": report.keywords.iter().map(|k| json!({"token": k.token, "score": k.score})).collect::<Vec<_>>(),
        "responses": items,
    })
}

fn consensus_json(rs: &[Response<'_>], threshold: f64, similarity: Similarity) -> Value {
    let c = compute_consensus(rs, threshold, similarity);
    let cluster = |cl: &codeperf_core::consensus::Cluster| {
        json!({"members": cl.members, "experts": cl.members.iter().map(|&m| rs[m].expert).collect::<Vec<_>>(),
               "size": cl.size, "weight": cl.weight})
    };
    json!({
        "count": rs.len(),
        "similarity": c.similarity.name(),
        "threshold": c.threshold,
        "matrix": c.matrix.condensed(),
        "clusters": c.clusters.iter().map(cluster).collect::<Vec<_>>(),
        "majority_cluster": c.clusters.first().map(cluster),
        "dissenting_indices": c.dissenting,
        "dissenting_experts": c.dissenting.iter().map(|&i| rs[i].expert).collect::<Vec<_>>(),
        "agreement_score": c.agreement_score,
        "majority_share": c.majority_share,
        "level": c.level,
    })
}

fn aggregate_json(rs: &[Response<'_>]) -> Value {
    let a = aggregate_responses(rs);
    let s = &a.statistics;
    let breakdown = |key: &str, rows: &[codeperf_core::aggregate::Breakdown]| -> Vec<Value> {
        rows.iter()
            .map(|b| {
                json!({key: b.name, "responses": b.responses, "mean_confidence": b.mean_confidence,
                       "mean_latency_ms": b.mean_latency_ms, "total_tokens": b.total_tokens as u64, "cost_usd": b.cost_usd})
            })
            .collect()
    };
    json!({
        "count": rs.len(),
        "recommendations": a.recommendations.iter().map(|r| json!({
            "text": r.text, "support": r.support,
            "experts": r.response_indices.iter().map(|&i| rs[i].expert).collect::<Vec<_>>(),
            "response_indices": r.response_indices, "variants": r.variants,
            "mean_confidence": r.mean_confidence, "score": r.score})).collect::<Vec<_>>(),
        "statistics": {
            "confidence": {"mean": s.confidence_mean, "median": s.confidence_median, "stdev": s.confidence_stdev,
                           "min": s.confidence_min, "max": s.confidence_max},
            "latency_ms": {"mean": s.latency_mean, "p50": s.latency_p50, "p95": s.latency_p95, "max": s.latency_max},
            // The golden inputs' token sums fit a u64 (serde_json has no u128 without a feature).
            "tokens": {"prompt": s.prompt_tokens as u64, "completion": s.completion_tokens as u64,
                       "total": (s.prompt_tokens + s.completion_tokens) as u64},
            "cost_usd": s.cost_usd,
            "per_expert": breakdown("expert", &s.per_expert),
            "per_model": breakdown("model", &s.per_model),
            "confidence_histogram": s.confidence_histogram,
        },
    })
}

/// Where `actual` departs from `expected`: floats within 1e-9 relative, an integer is
/// not a float, everything else equal.
fn differences(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Number(e), Value::Number(a)) => {
            if e.is_f64() != a.is_f64() {
                out.push(format!("{path}: {e} and {a} differ in kind (int/float)"));
            } else if e.is_f64() {
                let (x, y) = (e.as_f64().unwrap(), a.as_f64().unwrap());
                if x != y && (x - y).abs() > 1e-9 * x.abs().max(y.abs()) {
                    out.push(format!("{path}: {x} != {y}"));
                }
            } else if e != a {
                out.push(format!("{path}: {e} != {a}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!("{path}: length {} != {}", e.len(), a.len()));
                return;
            }
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                differences(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Object(e), Value::Object(a)) => {
            let (ek, ak): (Vec<_>, Vec<_>) = (e.keys().collect(), a.keys().collect());
            if ek != ak {
                out.push(format!("{path}: keys {ek:?} != {ak:?}"));
                return;
            }
            for (k, x) in e {
                differences(x, &a[k], &format!("{path}.{k}"), out);
            }
        }
        _ if expected != actual => out.push(format!("{path}: {expected} != {actual}")),
        _ => {}
    }
}

#[test]
fn core_reproduces_every_golden_vector() {
    let cases: Value = serde_json::from_str(GOLDEN).expect("golden file is JSON");
    let cases = cases.as_array().expect("a list of cases");
    assert!(cases.len() >= 20, "the golden file has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let rs = responses(&case["responses"]);
        let kwargs = &case["kwargs"];
        let actual = match case["op"].as_str().unwrap() {
            "analyze_responses" => analysis_json(&rs),
            "compute_consensus" => consensus_json(
                &rs,
                kwargs["threshold"].as_f64().unwrap(),
                Similarity::parse(kwargs["similarity"].as_str().unwrap()).unwrap(),
            ),
            "aggregate_responses" => aggregate_json(&rs),
            other => panic!("unknown op {other}"),
        };
        let mut diffs = Vec::new();
        differences(&case["expected"], &actual, "$", &mut diffs);
        if !diffs.is_empty() {
            failures.push(format!("{}/{}: {}", case["name"], case["op"], diffs[..diffs.len().min(5)].join("; ")));
        }
    }
    assert!(failures.is_empty(), "golden vectors differ:\n{}", failures.join("\n"));
}
