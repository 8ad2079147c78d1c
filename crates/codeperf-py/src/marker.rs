//! Calls callgrind can find by name, so it can count one engine operation apart from
//! the interpreter's start-up (python/codeperf/bench/instructions.py). Python code
//! cannot issue valgrind's client requests, and no interpreter function is unique
//! to one operation; these are, and they bracket either backend's call.
//!
//! Callgrind dumps its counters on entering each (`--dump-before`), so the dump taken
//! on entering `codeperf_callgrind_stop` holds what ran since `codeperf_callgrind_start`.
//! (`--dump-after` on one function wrapping the call did not fire here: callgrind
//! lost the frame while Python ran inside it.)

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Makes the calling thread rayon's only worker (global pool of one thread, this one).
///
/// Callgrind counts every thread. With an ordinary one-thread pool the caller hands
/// each parallel loop to a pool thread, which spins for work before it sleeps; how
/// long it spins depends on how the OS schedules valgrind's threads, so on a busy
/// machine the count of a tiny input moved by >1 % between runs. On the calling
/// thread the loops run inline and nothing else runs. Call it once, before any
/// engine call: rayon's global pool can be built only once per process.
#[pyfunction]
pub fn rayon_on_calling_thread() -> PyResult<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .use_current_thread()
        .build_global()
        .map_err(|e| PyRuntimeError::new_err(format!("rayon pool already built: {e}")))
}

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
