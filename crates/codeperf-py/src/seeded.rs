//! A deliberate, opt-in slowdown that proves the instruction-count gate catches a
//! regression (docs/bench_rust.md, "Instruction counts"). Only that check sets
//! `CODEPERF_SEED_REGRESSION`; unset, the engine does exactly its normal work.

use std::sync::OnceLock;

/// Whether `CODEPERF_SEED_REGRESSION` names `op` (read once: the check sets it for the
/// whole worker process, and a per-call lookup would itself add instructions).
pub fn regression(op: &str) -> bool {
    static VALUE: OnceLock<Option<String>> = OnceLock::new();
    VALUE.get_or_init(|| std::env::var("CODEPERF_SEED_REGRESSION").ok()).as_deref() == Some(op)
}
