//! Runs one engine operation in a loop over contents from a JSON list of strings, for
//! profilers (perf, callgrind): `cargo run --release --example profile_engine -- FILE OP N`.
use codeperf_core::{aggregate_responses, analyze_responses, compute_consensus, Response, Similarity};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).expect("read corpus");
    let contents: Vec<String> = serde_json::from_str(&text).expect("a JSON list of strings");
    let names: Vec<String> = (0..contents.len()).map(|i| format!("e{i}")).collect();
    let responses: Vec<Response> = contents
        .iter()
        .enumerate()
        .map(|(i, content)| Response {
            expert: &names[i],
            model: "m",
            content,
            confidence: 0.5 + (i % 5) as f64 / 10.0,
            latency_ms: i as f64,
            prompt_tokens: 10,
            completion_tokens: 20,
            cost_usd: 0.001,
        })
        .collect();
    let n: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(100);
    let start = std::time::Instant::now();
    for _ in 0..n {
        match args[2].as_str() {
            "analyze" => drop(analyze_responses(&responses)),
            "one" => {
                for r in &responses {
                    drop(codeperf_core::analysis::analyze_one(r.content));
                }
            }
            "tokens" => {
                for r in &responses {
                    std::hint::black_box(codeperf_core::text::tokens(r.content));
                }
            }
            "cosine" => drop(compute_consensus(&responses, 0.7, Similarity::Cosine)),
            "jaccard" => drop(compute_consensus(&responses, 0.7, Similarity::Jaccard)),
            "aggregate" => drop(aggregate_responses(&responses)),
            other => panic!("unknown op {other}"),
        }
    }
    eprintln!("{} x {}: {:.3} ms each", n, args[2], start.elapsed().as_secs_f64() * 1000.0 / n as f64);
}
