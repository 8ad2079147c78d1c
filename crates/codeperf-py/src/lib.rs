//! codeperf._rust: thin PyO3 bindings of codeperf-core. This crate converts types,
//! maps errors and counts the Rust heap; all logic lives in the core crate.

mod alloc;
mod convert;
mod marker;
mod seeded;

use codeperf_core::aggregate::{Breakdown, Statistics};
use codeperf_core::analysis::heuristic_confidence;
use codeperf_core::document::CodeBlock;
use codeperf_core::{aggregate, analysis, consensus, text};
use codeperf_core::model::check_matrix_budget;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use std::convert::Infallible;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

#[global_allocator]
static ALLOCATOR: alloc::CountingAllocator = alloc::CountingAllocator;

type Dict<'py> = Bound<'py, PyDict>;

/// A dict holding `keys` in this order (values None). Each result item is a copy of it
/// with its values replaced: copying clones the key table in one go, where a new dict
/// grew its table once or twice per item (callgrind: ~400 instructions per `set_item`).
/// Made once per call.
fn template<'py>(py: Python<'py>, keys: &[&Bound<'py, PyString>]) -> PyResult<Dict<'py>> {
    let d = PyDict::new(py);
    for k in keys {
        d.set_item(k, py.None())?;
    }
    Ok(d)
}

/// Code blocks' dicts: one template per language (its string made once per call, the
/// block closed), found by a linear search (a few languages over hundreds of blocks).
/// A block's dict is a copy of its language's template with `lines` set (and `closed`,
/// for an unclosed block): one `set_item` per block instead of three, and no string.
struct BlockTemplates<'a, 'py> {
    keys: Dict<'py>,
    made: Vec<(&'a str, Dict<'py>)>,
}

impl<'a, 'py> BlockTemplates<'a, 'py> {
    fn block(&mut self, py: Python<'py>, b: &'a CodeBlock) -> PyResult<Dict<'py>> {
        let (k_language, k_lines, k_closed) = (intern!(py, "language"), intern!(py, "lines"), intern!(py, "closed"));
        let language = b.language.as_str();
        let template = match self.made.iter().find(|(t, _)| *t == language) {
            Some((_, d)) => d,
            None => {
                let d = self.keys.copy()?;
                d.set_item(k_language, language)?;
                d.set_item(k_closed, true)?;
                self.made.push((language, d));
                &self.made[self.made.len() - 1].1
            }
        };
        let d = template.copy()?;
        d.set_item(k_lines, b.lines)?;
        if !b.closed {
            d.set_item(k_closed, false)?;
        }
        Ok(d)
    }
}

/// A text that becomes a Python `str` without CPython's UTF-8 decoder when it is ASCII
/// (most recommendations): `PyString::new` checks and copies every byte again
/// (callgrind: ~320 instructions per recommendation on the `code` family, on the thread
/// that holds the GIL after the parallel part). An `IntoPyObject`, so `PyList::new` still
/// builds the list at its exact size from the iterator.
struct Text<'a>(&'a str);

impl<'py> IntoPyObject<'py> for Text<'_> {
    type Target = PyString;
    type Output = Bound<'py, PyString>;
    // Infallible, as `&str`'s conversion: a failed allocation panics there too (a
    // fallible conversion cost ~24 instructions more per string in `PyList::new`).
    type Error = Infallible;

    #[inline]
    fn into_pyobject(self, py: Python<'py>) -> Result<Bound<'py, PyString>, Infallible> {
        let s = self.0;
        if !s.is_ascii() {
            return Ok(PyString::new(py, s));
        }
        // SAFETY: `PyUnicode_New(n, 127)` returns a new compact ASCII string of n
        // characters whose data is n + 1 bytes with the terminating NUL already written
        // (NULL only when out of memory: `from_owned_ptr` then panics, as
        // `PyString::new` does); the n bytes of `s` are ASCII, so they are exactly its
        // characters. Nothing else sees the object before they are written (its hash is
        // computed on first use, later).
        unsafe {
            let ptr = pyo3::ffi::PyUnicode_New(s.len() as pyo3::ffi::Py_ssize_t, 127);
            let obj = Bound::from_owned_ptr(py, ptr);
            std::ptr::copy_nonoverlapping(s.as_ptr(), pyo3::ffi::PyUnicode_1BYTE_DATA(ptr), s.len());
            Ok(obj.cast_into_unchecked())
        }
    }
}

#[pyfunction]
fn analyze_responses<'py>(py: Python<'py>, responses: &Bound<'py, PyAny>) -> PyResult<Dict<'py>> {
    let held = convert::responses(responses)?;
    let rs: Vec<codeperf_core::Response<'_>> = held.iter().map(convert::Held::response).collect();
    let report = py.detach(|| analysis::analyze_responses(&rs));
    if seeded::regression("analyze") {
        // The seeded regression: an extra analysis of the first tenth of the input.
        let tenth = &rs[..rs.len().div_ceil(10)];
        py.detach(|| std::hint::black_box(analysis::analyze_responses(tenth)));
    }
    let k = (
        intern!(py, "index"), intern!(py, "expert"), intern!(py, "model"), intern!(py, "token_count"),
        intern!(py, "unique_tokens"), intern!(py, "sentence_count"), intern!(py, "recommendations"),
        intern!(py, "code_blocks"), intern!(py, "hedging_markers"), intern!(py, "certainty_markers"),
        intern!(py, "heuristic_confidence"),
    );
    let response_keys = template(py, &[k.0, k.1, k.2, k.3, k.4, k.5, k.6, k.7, k.8, k.9, k.10])?;
    let (k_language, k_lines, k_closed) = (intern!(py, "language"), intern!(py, "lines"), intern!(py, "closed"));
    let mut blocks_of = BlockTemplates { keys: template(py, &[k_language, k_lines, k_closed])?, made: Vec::new() };
    let mut items = Vec::with_capacity(rs.len());
    for (i, (h, a)) in held.iter().zip(&report.analyses).enumerate() {
        let d = response_keys.copy()?;
        d.set_item(k.0, i)?;
        d.set_item(k.1, h.expert())?;
        d.set_item(k.2, h.model())?;
        d.set_item(k.3, a.token_count)?;
        d.set_item(k.4, a.unique_tokens)?;
        d.set_item(k.5, a.sentence_count)?;
        d.set_item(k.6, PyList::new(py, a.recommendations().map(Text))?)?;
        let blocks = a.code_blocks.iter().map(|b| blocks_of.block(py, b)).collect::<PyResult<Vec<_>>>()?;
        d.set_item(k.7, PyList::new(py, blocks)?)?;
        d.set_item(k.8, a.hedging)?;
        d.set_item(k.9, a.certainty)?;
        d.set_item(k.10, heuristic_confidence(a))?;
        items.push(d);
    }
    let (k_token, k_score) = (intern!(py, "token"), intern!(py, "score"));
    let keywords = report
        .keywords
        .iter()
        .map(|kw| {
            let kd = PyDict::new(py);
            kd.set_item(k_token, &kw.token)?;
            kd.set_item(k_score, kw.score)?;
            Ok(kd)
        })
        .collect::<PyResult<Vec<_>>>()?;
    let out = PyDict::new(py);
    out.set_item(intern!(py, "count"), rs.len())?;
    out.set_item(intern!(py, "total_tokens"), report.total_tokens)?;
    out.set_item(intern!(py, "keywords"), PyList::new(py, keywords)?)?;
    out.set_item(intern!(py, "responses"), PyList::new(py, items)?)?;
    Ok(out)
}

/// The input's expert strings of `indices`, as a list.
fn experts<'py>(py: Python<'py>, held: &[convert::Held<'py>], indices: &[usize]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, indices.iter().map(|&i| held[i].expert()))
}

fn cluster_dict<'py>(py: Python<'py>, held: &[convert::Held<'py>], c: &consensus::Cluster) -> PyResult<Dict<'py>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "members"), &c.members)?;
    d.set_item(intern!(py, "experts"), experts(py, held, &c.members)?)?;
    d.set_item(intern!(py, "size"), c.size)?;
    d.set_item(intern!(py, "weight"), c.weight)?;
    Ok(d)
}

/// A zeroed `array.array('d')` of `len` doubles: the object `compute_consensus` returns as
/// its matrix, the same type and layout as the twin's (docs/algorithms.md, "Consensus").
fn zeroed_array<'py>(py: Python<'py>, len: usize) -> PyResult<Bound<'py, PyAny>> {
    let array = py.import(intern!(py, "array"))?.getattr(intern!(py, "array"))?;
    array.call1((intern!(py, "d"), PyList::new(py, [0.0f64])?))?.mul(len)
}

/// The address and length of a writable buffer, carried into `py.detach`.
struct RawRows(*mut f64, usize);
// SAFETY: the pointer is only dereferenced by the one call it is handed to, while the
// buffer export that produced it is alive (see `compute_consensus`).
unsafe impl Send for RawRows {}

#[pyfunction]
#[pyo3(signature = (responses, threshold = None, similarity = None, matrix_budget_bytes = None))]
fn compute_consensus<'py>(
    py: Python<'py>,
    responses: &Bound<'py, PyAny>,
    threshold: Option<&Bound<'py, PyAny>>,
    similarity: Option<&Bound<'py, PyAny>>,
    matrix_budget_bytes: Option<&Bound<'py, PyAny>>,
) -> PyResult<Dict<'py>> {
    let default_threshold = 0.7f64.into_pyobject(py)?.into_any();
    let default_similarity = "cosine".into_pyobject(py)?.into_any();
    let (t, sim) = convert::params(threshold.unwrap_or(&default_threshold), similarity.unwrap_or(&default_similarity))?;
    let budget = convert::matrix_budget(matrix_budget_bytes)?;
    let held = convert::responses(responses)?;
    check_matrix_budget(held.len(), budget).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let rs: Vec<codeperf_core::Response<'_>> = held.iter().map(convert::Held::response).collect();
    // The matrix is computed straight into the buffer of the array that is returned, so it
    // exists once (in the Python heap), never as a Rust vector plus a copy.
    let n = rs.len();
    let pairs = n * n.saturating_sub(1) / 2;
    let matrix = zeroed_array(py, pairs)?;
    // An empty array may have no (aligned) buffer at all: nothing to write then.
    let buffer = if pairs > 0 { Some(PyBuffer::<f64>::get(&matrix)?) } else { None };
    let rows = match &buffer {
        Some(b) if b.readonly() || !b.is_c_contiguous() => {
            return Err(PyValueError::new_err("internal: the matrix array is not a writable contiguous buffer"));
        }
        Some(b) => RawRows(b.buf_ptr().cast::<f64>(), b.item_count()),
        None => RawRows(std::ptr::NonNull::<f64>::dangling().as_ptr(), 0),
    };
    let responses_ref = &rs;
    let c = py
        .detach(move || {
            let rows = rows;
            // SAFETY: `buffer` (alive until the end of this function) exports the array's
            // memory, so the array cannot be resized or freed; the array was created above
            // and no other code holds it yet, so nothing else reads or writes it meanwhile.
            // With no pairs the pointer is dangling but aligned and the length 0, as
            // `from_raw_parts_mut` allows.
            let upper: &mut [f64] = unsafe { std::slice::from_raw_parts_mut(rows.0, rows.1) };
            consensus::compute_consensus_into(responses_ref, t, sim, upper)
        })
        .map_err(|e| PyValueError::new_err(format!("internal: {e}")))?;
    // `c` borrows the buffer's memory: it is dropped before `buffer` releases the export
    // (locals drop in reverse order).
    let clusters = c.clusters.iter().map(|cl| cluster_dict(py, &held, cl)).collect::<PyResult<Vec<_>>>()?;
    let out = PyDict::new(py);
    out.set_item(intern!(py, "count"), rs.len())?;
    out.set_item(intern!(py, "similarity"), c.similarity.name())?;
    out.set_item(intern!(py, "threshold"), c.threshold)?;
    out.set_item(intern!(py, "matrix"), matrix)?;
    out.set_item(intern!(py, "clusters"), PyList::new(py, clusters)?)?;
    match c.clusters.first() {
        Some(m) => out.set_item(intern!(py, "majority_cluster"), cluster_dict(py, &held, m)?)?,
        None => out.set_item(intern!(py, "majority_cluster"), py.None())?,
    }
    out.set_item(intern!(py, "dissenting_indices"), &c.dissenting)?;
    out.set_item(intern!(py, "dissenting_experts"), experts(py, &held, &c.dissenting)?)?;
    out.set_item(intern!(py, "agreement_score"), c.agreement_score)?;
    out.set_item(intern!(py, "majority_share"), c.majority_share)?;
    out.set_item(intern!(py, "level"), c.level)?;
    Ok(out)
}

/// Per-expert or per-model rows: each a copy of one key template (made once per call;
/// callgrind: a new dict and six `set_item`s, its first key a new string, cost ~1,800
/// instructions per row), named by the group's first response's own string.
fn breakdown_list<'py>(
    py: Python<'py>,
    key: &Bound<'py, PyString>,
    rows: &[Breakdown],
    name_of: impl Fn(usize) -> Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyList>> {
    let k = (
        intern!(py, "responses"), intern!(py, "mean_confidence"), intern!(py, "mean_latency_ms"),
        intern!(py, "total_tokens"), intern!(py, "cost_usd"),
    );
    let keys = template(py, &[key, k.0, k.1, k.2, k.3, k.4])?;
    let items = rows
        .iter()
        .map(|b| {
            let d = keys.copy()?;
            d.set_item(key, name_of(b.first))?;
            d.set_item(k.0, b.responses)?;
            d.set_item(k.1, b.mean_confidence)?;
            d.set_item(k.2, b.mean_latency_ms)?;
            d.set_item(k.3, b.total_tokens)?;
            d.set_item(k.4, b.cost_usd)?;
            Ok(d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

fn statistics_dict<'py>(py: Python<'py>, s: &Statistics, held: &[convert::Held<'py>]) -> PyResult<Dict<'py>> {
    let conf = PyDict::new(py);
    conf.set_item(intern!(py, "mean"), s.confidence_mean)?;
    conf.set_item(intern!(py, "median"), s.confidence_median)?;
    conf.set_item(intern!(py, "stdev"), s.confidence_stdev)?;
    conf.set_item(intern!(py, "min"), s.confidence_min)?;
    conf.set_item(intern!(py, "max"), s.confidence_max)?;
    let lat = PyDict::new(py);
    lat.set_item(intern!(py, "mean"), s.latency_mean)?;
    lat.set_item(intern!(py, "p50"), s.latency_p50)?;
    lat.set_item(intern!(py, "p95"), s.latency_p95)?;
    lat.set_item(intern!(py, "max"), s.latency_max)?;
    let tokens = PyDict::new(py);
    tokens.set_item(intern!(py, "prompt"), s.prompt_tokens)?;
    tokens.set_item(intern!(py, "completion"), s.completion_tokens)?;
    tokens.set_item(intern!(py, "total"), s.prompt_tokens + s.completion_tokens)?;
    let d = PyDict::new(py);
    d.set_item(intern!(py, "confidence"), conf)?;
    d.set_item(intern!(py, "latency_ms"), lat)?;
    d.set_item(intern!(py, "tokens"), tokens)?;
    d.set_item(intern!(py, "cost_usd"), s.cost_usd)?;
    let experts = breakdown_list(py, intern!(py, "expert"), &s.per_expert, |i| held[i].expert().clone())?;
    d.set_item(intern!(py, "per_expert"), experts)?;
    let models = breakdown_list(py, intern!(py, "model"), &s.per_model, |i| held[i].model().clone())?;
    d.set_item(intern!(py, "per_model"), models)?;
    d.set_item(intern!(py, "confidence_histogram"), s.confidence_histogram.to_vec())?;
    Ok(d)
}

#[pyfunction]
fn aggregate_responses<'py>(py: Python<'py>, responses: &Bound<'py, PyAny>) -> PyResult<Dict<'py>> {
    let held = convert::responses(responses)?;
    let rs: Vec<codeperf_core::Response<'_>> = held.iter().map(convert::Held::response).collect();
    let agg = py.detach(|| aggregate::aggregate_responses(&rs));
    let k = (
        intern!(py, "text"), intern!(py, "support"), intern!(py, "experts"), intern!(py, "response_indices"),
        intern!(py, "variants"), intern!(py, "mean_confidence"), intern!(py, "score"),
    );
    let rec_keys = template(py, &[k.0, k.1, k.2, k.3, k.4, k.5, k.6])?;
    let recs = agg
        .recommendations
        .iter()
        .map(|r| {
            let d = rec_keys.copy()?;
            d.set_item(k.0, &r.text)?;
            d.set_item(k.1, r.support)?;
            d.set_item(k.2, experts(py, &held, &r.response_indices)?)?;
            d.set_item(k.3, &r.response_indices)?;
            d.set_item(k.4, r.variants)?;
            d.set_item(k.5, r.mean_confidence)?;
            d.set_item(k.6, r.score)?;
            Ok(d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    let recs = PyList::new(py, recs)?;
    let out = PyDict::new(py);
    out.set_item(intern!(py, "count"), rs.len())?;
    out.set_item(intern!(py, "recommendations"), recs)?;
    out.set_item(intern!(py, "statistics"), statistics_dict(py, &agg.statistics, &held)?)?;
    Ok(out)
}

/// Rust heap of this extension: current and peak bytes, allocation and deallocation counts.
#[pyfunction]
fn allocation_stats<'py>(py: Python<'py>) -> PyResult<Dict<'py>> {
    let s = alloc::stats();
    let d = PyDict::new(py);
    d.set_item(intern!(py, "current_bytes"), s.current)?;
    d.set_item(intern!(py, "peak_bytes"), s.peak)?;
    d.set_item(intern!(py, "allocations"), s.allocations)?;
    d.set_item(intern!(py, "deallocations"), s.deallocations)?;
    Ok(d)
}

#[pyfunction]
fn reset_peak() {
    alloc::reset_peak();
}

/// Returns its argument: the cost of crossing the Python/Rust boundary and nothing else.
#[pyfunction]
fn noop(x: Py<PyAny>) -> Py<PyAny> {
    x
}

/// Holds exactly `nbytes` of Rust heap until dropped: a known allocation for calibrating
/// memory measurements.
#[pyclass(frozen)]
struct HeapBlock {
    data: Vec<u8>,
}

#[pymethods]
impl HeapBlock {
    fn __len__(&self) -> usize {
        self.data.len()
    }
}

#[pyfunction]
fn allocate_for_test(nbytes: usize) -> HeapBlock {
    let mut data = Vec::with_capacity(nbytes);
    data.resize(nbytes, 1u8); // touch the pages so RSS sees them too
    HeapBlock { data }
}

/// The engine's constant tables, so tests can check they equal the Python twin's.
#[pyfunction]
fn spec_constants<'py>(py: Python<'py>) -> PyResult<Dict<'py>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "stopwords"), text::STOPWORDS.to_vec())?;
    d.set_item(intern!(py, "hedging_markers"), text::HEDGING_MARKERS.to_vec())?;
    d.set_item(intern!(py, "certainty_markers"), text::CERTAINTY_MARKERS.to_vec())?;
    d.set_item(intern!(py, "recommend_markers"), text::RECOMMEND_MARKERS.to_vec())?;
    d.set_item(intern!(py, "non_word_ranges"), text::NON_WORD_RANGES.to_vec())?;
    d.set_item(intern!(py, "near_duplicate"), aggregate::NEAR_DUPLICATE)?;
    d.set_item(intern!(py, "default_matrix_budget_bytes"), codeperf_core::model::DEFAULT_MATRIX_BUDGET_BYTES)?;
    d.set_item(intern!(py, "top_keywords"), analysis::TOP_KEYWORDS)?;
    Ok(d)
}

/// Tokens of `text` under the engine's rules (for twin tests of the tokenizer alone).
#[pyfunction]
fn tokenize(text: &str) -> Vec<String> {
    text::tokens(text)
}

#[pyfunction]
fn rayon_threads() -> usize {
    rayon::current_num_threads()
}

#[pymodule]
fn _rust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("BUILD_PROFILE", if cfg!(debug_assertions) { "debug" } else { "release" })?;
    m.add_function(wrap_pyfunction!(analyze_responses, m)?)?;
    m.add_function(wrap_pyfunction!(compute_consensus, m)?)?;
    m.add_function(wrap_pyfunction!(aggregate_responses, m)?)?;
    m.add_function(wrap_pyfunction!(allocation_stats, m)?)?;
    m.add_function(wrap_pyfunction!(reset_peak, m)?)?;
    m.add_function(wrap_pyfunction!(noop, m)?)?;
    m.add_function(wrap_pyfunction!(allocate_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(spec_constants, m)?)?;
    m.add_function(wrap_pyfunction!(tokenize, m)?)?;
    m.add_function(wrap_pyfunction!(rayon_threads, m)?)?;
    m.add_function(wrap_pyfunction!(marker::callgrind_start, m)?)?;
    m.add_function(wrap_pyfunction!(marker::callgrind_stop, m)?)?;
    m.add_function(wrap_pyfunction!(marker::rayon_on_calling_thread, m)?)?;
    m.add_class::<HeapBlock>()?;
    Ok(())
}
