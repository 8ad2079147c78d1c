//! Calls callgrind can find by name, so it can count one engine operation apart from
//! the interpreter's start-up (python/codeperf/bench/instructions.py). Python code
//! cannot issue valgrind's client requests, and no interpreter function is unique
//! to one operation; these are, and they bracket either backend's call.
//!
//! Callgrind dumps its counters on entering each (`--dump-before`), so the dump taken
//! on entering `codeperf_callgrind_stop` holds what ran since `codeperf_callgrind_start`.
//! (`--dump-after` on one function wrapping the call did not fire here: callgrind
//! lost the frame while Python ran inside it.)

use pyo3::prelude::*;

/// Start of a counted region (a no-op outside callgrind).
#[pyfunction]
pub fn callgrind_start() {
    codeperf_callgrind_start();
}

/// End of a counted region (a no-op outside callgrind).
#[pyfunction]
pub fn callgrind_stop() {
    codeperf_callgrind_stop();
}

#[inline(never)]
fn codeperf_callgrind_start() {
    std::hint::black_box(0u8);
}

#[inline(never)]
fn codeperf_callgrind_stop() {
    std::hint::black_box(1u8);
}
