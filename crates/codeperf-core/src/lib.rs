//! codeperf-core: the Circle of Experts engine (response analysis, consensus and
//! aggregation) in pure Rust. The algorithms are specified in docs/algorithms.md and
//! mirrored exactly by the pure-Python twin in python/codeperf/engine/.

pub mod aggregate;
pub mod analysis;
mod classify;
pub mod consensus;
pub mod document;
mod global_ids;
mod intern;
pub mod model;
mod packed;
mod recommend_scan;
mod stats;
pub mod text;
mod unionfind;

pub use aggregate::{aggregate_responses, Aggregate};
pub use analysis::{analyze_responses, AnalysisReport};
pub use consensus::{compute_consensus, Consensus};
pub use model::{InputError, Response, Similarity};
