//! codeperf-core: the Circle of Experts engine (response analysis, consensus and
//! aggregation) in pure Rust. The algorithms are specified in docs/algorithms.md and
//! mirrored exactly by the pure-Python twin in python/codeperf/engine/.

// Internals stay `pub(crate)`: a `pub` item the crate does not export is a warning, so
// the public API is exactly what the modules below and the re-exports name.
#![warn(unreachable_pub)]
// Every `unsafe` block says why it is sound (a `// SAFETY:` comment), checked by clippy.
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod aggregate;
pub mod analysis;
mod classify;
pub mod consensus;
pub mod document;
mod global_ids;
mod intern;
pub mod model;
mod owned_vocabulary;
mod packed;
mod recommend_scan;
mod stats;
mod term_rows;
pub mod text;
mod unionfind;

pub use aggregate::{aggregate_responses, Aggregate};
pub use analysis::{analyze_responses, AnalysisReport};
pub use consensus::{compute_consensus, Consensus};
pub use model::{InputError, Response, Similarity};
