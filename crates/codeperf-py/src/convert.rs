//! Python objects in: the same type checks, order and messages as
//! python/codeperf/engine/validation.py.

use codeperf_core::model::{
    check_confidence, check_non_negative, check_threshold, format_field_error, InputError, Response, Similarity,
    DEFAULT_MATRIX_BUDGET_BYTES, MAX_CONTENT_CHARS,
};
use pyo3::exceptions::{PyAttributeError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyComplex, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple,
};

fn fail(i: usize, field: &str, reason: &str) -> PyErr {
    PyValueError::new_err(format_field_error(i, field, reason))
}

fn field<'py>(item: &Bound<'py, PyAny>, name: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if let Ok(d) = item.cast::<PyDict>() {
        return d.get_item(name);
    }
    match item.getattr(name) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_instance_of::<PyAttributeError>(item.py()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A string field, checked as the twin checks it (its UTF-8 form must exist).
fn text<'py>(i: usize, name: &str, value: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyString>> {
    let value = value.ok_or_else(|| fail(i, name, "missing"))?;
    let s = value.cast_into::<PyString>().map_err(|_| fail(i, name, "must be a string"))?;
    s.to_str().map_err(|_| fail(i, name, "must be valid Unicode (no lone surrogates)"))?;
    Ok(s)
}

fn number(i: usize, name: &str, value: Option<Bound<'_, PyAny>>) -> PyResult<f64> {
    let value = value.ok_or_else(|| fail(i, name, "missing"))?;
    if value.is_instance_of::<PyBool>() || !(value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>()) {
        return Err(fail(i, name, "must be a number"));
    }
    value.extract::<f64>().map_err(|_| fail(i, name, "must be a finite number"))
}

fn count(i: usize, name: &str, value: Option<Bound<'_, PyAny>>) -> PyResult<u64> {
    let value = value.ok_or_else(|| fail(i, name, "missing"))?;
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Err(fail(i, name, "must be an integer"));
    }
    match value.extract::<i64>() {
        Ok(v) if v < 0 => Err(fail(i, name, "must be >= 0")),
        Ok(v) => Ok(v as u64),
        Err(_) if value.lt(0i64)? => Err(fail(i, name, "must be >= 0")),
        Err(_) => Err(fail(i, name, "must be < 2**63")),
    }
}

fn checked<T>(i: usize, name: &str, r: Result<T, InputError>) -> PyResult<T> {
    r.map_err(|reason| fail(i, name, &reason.to_string()))
}

/// Items that cannot be a response (the twin's `_NOT_RESPONSES`): reported as such, not
/// as a missing first field.
fn not_a_response(item: &Bound<'_, PyAny>) -> bool {
    item.is_none()
        || item.is_instance_of::<PyInt>() // bool too
        || item.is_instance_of::<PyFloat>()
        || item.is_instance_of::<PyComplex>()
        || item.is_instance_of::<PyString>()
        || item.is_instance_of::<PyBytes>()
        || item.is_instance_of::<PyByteArray>()
        || item.is_instance_of::<PyList>()
        || item.is_instance_of::<PyTuple>()
        || item.is_instance_of::<PySet>()
        || item.is_instance_of::<PyFrozenSet>()
}

/// A validated response whose strings are still Python's: `Response` borrows from them,
/// so the text is never copied (the objects stay alive, and immutable, for the call).
pub struct Held<'py> {
    expert: Bound<'py, PyString>,
    model: Bound<'py, PyString>,
    content: Bound<'py, PyString>,
    confidence: f64,
    latency_ms: f64,
    prompt_tokens: u64,
    completion_tokens: u64,
    cost_usd: f64,
}

impl<'py> Held<'py> {
    /// The caller's own `expert` string: results name experts with the input's objects
    /// (as the twin does) instead of new copies.
    pub fn expert(&self) -> &Bound<'py, PyString> {
        &self.expert
    }

    pub fn model(&self) -> &Bound<'py, PyString> {
        &self.model
    }

    pub fn response(&self) -> Response<'_> {
        // Each string was checked by `text`, so its UTF-8 form exists (cached by Python).
        Response {
            expert: utf8(&self.expert),
            model: utf8(&self.model),
            content: utf8(&self.content),
            confidence: self.confidence,
            latency_ms: self.latency_ms,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cost_usd: self.cost_usd,
        }
    }
}

fn utf8<'a>(p: &'a Bound<'_, PyString>) -> &'a str {
    p.to_str().expect("validated as UTF-8 when extracted")
}

pub fn responses<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<Held<'py>>> {
    let items: Vec<Bound<'py, PyAny>> = if let Ok(list) = obj.cast::<PyList>() {
        list.iter().collect()
    } else if let Ok(tuple) = obj.cast::<PyTuple>() {
        tuple.iter().collect()
    } else {
        return Err(PyTypeError::new_err("responses: must be a list of dicts or ExpertResponse objects"));
    };
    let mut out = Vec::with_capacity(items.len());
    // Field names as interned Python strings: created once, not once per lookup.
    let py = obj.py();
    let k_expert = intern!(py, "expert");
    let k_model = intern!(py, "model");
    let k_content = intern!(py, "content");
    let k_confidence = intern!(py, "confidence");
    let k_latency = intern!(py, "latency_ms");
    let k_prompt = intern!(py, "prompt_tokens");
    let k_completion = intern!(py, "completion_tokens");
    let k_cost = intern!(py, "cost_usd");
    for (i, item) in items.iter().enumerate() {
        if not_a_response(item) {
            let type_name = item.get_type().name()?;
            return Err(PyValueError::new_err(format!(
                "responses[{i}]: must be a dict or an object with the response fields, not {type_name}"
            )));
        }
        let expert = text(i, "expert", field(item, k_expert)?)?;
        let model = text(i, "model", field(item, k_model)?)?;
        let content = text(i, "content", field(item, k_content)?)?;
        // Offsets within a response are u32 in the core: 2^30 code points are under 2^32
        // bytes of UTF-8. The twin's check and message (`MAX_CONTENT_CHARS`).
        if content.len()? >= MAX_CONTENT_CHARS {
            return Err(fail(i, "content", "must be shorter than 2**30 characters"));
        }
        let confidence = checked(i, "confidence", check_confidence(number(i, "confidence", field(item, k_confidence)?)?))?;
        let latency_ms = checked(i, "latency_ms", check_non_negative(number(i, "latency_ms", field(item, k_latency)?)?))?;
        let prompt_tokens = count(i, "prompt_tokens", field(item, k_prompt)?)?;
        let completion_tokens = count(i, "completion_tokens", field(item, k_completion)?)?;
        let cost_usd = checked(i, "cost_usd", check_non_negative(number(i, "cost_usd", field(item, k_cost)?)?))?;
        out.push(Held { expert, model, content, confidence, latency_ms, prompt_tokens, completion_tokens, cost_usd });
    }
    Ok(out)
}

pub fn params(threshold: &Bound<'_, PyAny>, similarity: &Bound<'_, PyAny>) -> PyResult<(f64, Similarity)> {
    const BAD_THRESHOLD: &str = "threshold: must be a number in [0, 1]";
    if threshold.is_instance_of::<PyBool>() || !(threshold.is_instance_of::<PyInt>() || threshold.is_instance_of::<PyFloat>()) {
        return Err(PyValueError::new_err(BAD_THRESHOLD));
    }
    let t = threshold.extract::<f64>().map_err(|_| PyValueError::new_err(BAD_THRESHOLD))?;
    let t = check_threshold(t).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let name = similarity.cast::<PyString>().ok().and_then(|s| s.to_str().ok().map(str::to_owned));
    let sim = Similarity::parse(name.as_deref().unwrap_or("")).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((t, sim))
}

/// `matrix_budget_bytes`: None for the default, else an int >= 0 (not bool), as the twin's
/// `validate_matrix_budget`. Ints beyond u64 are as good as no limit.
pub fn matrix_budget(value: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
    const BAD_BUDGET: &str = "matrix_budget_bytes: must be an integer >= 0";
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(DEFAULT_MATRIX_BUDGET_BYTES);
    };
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() || value.lt(0i64)? {
        return Err(PyValueError::new_err(BAD_BUDGET));
    }
    Ok(value.extract::<u64>().unwrap_or(u64::MAX))
}
