//! The engine's input and the value checks both backends apply (docs/algorithms.md, "Input").
//! Type checks belong to the binding (it sees Python objects); the range checks and their
//! messages live here so the binding and the tests share them.

/// One expert's answer. Text fields are borrowed: the binding lends Python's own
/// strings for the duration of a call, so inputs are never copied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Response<'a> {
    pub expert: &'a str,
    pub model: &'a str,
    pub content: &'a str,
    pub confidence: f64,
    pub latency_ms: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

/// Why an input was refused. `Display` gives the exact message both backends raise as
/// `ValueError` (docs/algorithms.md, "Input"); the binding adds nothing but the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputError {
    /// A confidence outside [0, 1] (NaN included).
    ConfidenceRange,
    /// A latency or cost that is not finite or is negative.
    NotFiniteNonNegative,
    /// A threshold that is not a number in [0, 1].
    Threshold,
    /// A similarity name other than "cosine" or "jaccard".
    Similarity,
    /// A similarity matrix larger than the caller's budget.
    MatrixBudget { responses: usize, needed_bytes: u128, budget_bytes: u64 },
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::ConfidenceRange => f.write_str("must be in [0, 1]"),
            InputError::NotFiniteNonNegative => f.write_str("must be finite and >= 0"),
            InputError::Threshold => f.write_str("threshold: must be a number in [0, 1]"),
            InputError::Similarity => f.write_str("similarity: must be 'cosine' or 'jaccard'"),
            InputError::MatrixBudget { responses, needed_bytes, budget_bytes } => write!(
                f,
                "responses: the similarity matrix of {responses} responses needs {needed_bytes} bytes \
                 (n*(n-1)/2 float64), over the budget of {budget_bytes} bytes; pass fewer responses \
                 or a larger matrix_budget_bytes"
            ),
        }
    }
}

impl std::error::Error for InputError {}

pub fn check_confidence(v: f64) -> Result<f64, InputError> {
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err(InputError::ConfidenceRange) }
}

pub fn check_non_negative(v: f64) -> Result<f64, InputError> {
    if v.is_finite() && v >= 0.0 { Ok(v) } else { Err(InputError::NotFiniteNonNegative) }
}

pub fn check_threshold(v: f64) -> Result<f64, InputError> {
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err(InputError::Threshold) }
}

/// A response's text must be shorter than this many code points (the binding and the
/// twin refuse longer ones with the same message): the engine keeps byte offsets within
/// a response as u32, and 2^30 code points are under 2^32 bytes of UTF-8.
pub const MAX_CONTENT_CHARS: usize = 1 << 30;

/// compute_consensus refuses inputs whose matrix would exceed this many bytes unless
/// the caller gives another budget: 512 MiB admits up to 11,585 responses.
pub const DEFAULT_MATRIX_BUDGET_BYTES: u64 = 512 * 1024 * 1024;

/// Bytes of the condensed similarity matrix of n responses: n (n - 1) / 2 doubles.
/// n (n - 1) / 2 fits a u128 for any usize n; the bytes saturate (at n near
/// usize::MAX they would overflow it, and every budget refuses them anyway).
pub fn matrix_bytes(n: usize) -> u128 {
    let n = n as u128;
    (n * n.saturating_sub(1) / 2).saturating_mul(8)
}

pub fn check_matrix_budget(n: usize, budget_bytes: u64) -> Result<(), InputError> {
    let needed_bytes = matrix_bytes(n);
    if needed_bytes > u128::from(budget_bytes) {
        Err(InputError::MatrixBudget { responses: n, needed_bytes, budget_bytes })
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Similarity {
    Cosine,
    Jaccard,
}

impl Similarity {
    pub fn parse(name: &str) -> Result<Self, InputError> {
        match name {
            "cosine" => Ok(Similarity::Cosine),
            "jaccard" => Ok(Similarity::Jaccard),
            _ => Err(InputError::Similarity),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Similarity::Cosine => "cosine",
            Similarity::Jaccard => "jaccard",
        }
    }
}

pub fn format_field_error(index: usize, field: &str, reason: &str) -> String {
    format!("responses[{index}].{field}: {reason}")
}

/// Responses around the given texts, every other field fixed (the core's tests).
#[cfg(test)]
pub(crate) fn responses_of(texts: &[String]) -> Vec<Response<'_>> {
    texts
        .iter()
        .map(|t| Response {
            expert: "e",
            model: "m",
            content: t,
            confidence: 0.5,
            latency_ms: 0.0,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(check_confidence(f64::NAN).is_err());
        assert!(check_confidence(1.0).is_ok());
        assert!(check_non_negative(f64::INFINITY).is_err());
        assert!(check_non_negative(-0.0).is_ok());
        assert_eq!(Similarity::parse("dice"), Err(InputError::Similarity));
    }

    #[test]
    fn messages_are_the_documented_ones() {
        assert_eq!(check_confidence(1.5).unwrap_err().to_string(), "must be in [0, 1]");
        assert_eq!(check_non_negative(-1.0).unwrap_err().to_string(), "must be finite and >= 0");
        assert_eq!(check_threshold(2.0).unwrap_err().to_string(), "threshold: must be a number in [0, 1]");
        assert_eq!(format_field_error(3, "cost_usd", "must be finite and >= 0"), "responses[3].cost_usd: must be finite and >= 0");
    }

    #[test]
    fn matrix_budget() {
        assert_eq!(matrix_bytes(0), 0);
        assert_eq!(matrix_bytes(1), 0);
        assert_eq!(matrix_bytes(10_000), 399_960_000);
        assert!(check_matrix_budget(10_000, DEFAULT_MATRIX_BUDGET_BYTES).is_ok());
        let err = check_matrix_budget(3, 23).unwrap_err();
        assert_eq!(
            err.to_string(),
            "responses: the similarity matrix of 3 responses needs 24 bytes (n*(n-1)/2 float64), \
             over the budget of 23 bytes; pass fewer responses or a larger matrix_budget_bytes"
        );
        // No overflow however large n is.
        assert!(check_matrix_budget(usize::MAX, u64::MAX).is_err());
    }
}
