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

pub fn check_confidence(v: f64) -> Result<f64, &'static str> {
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err("must be in [0, 1]") }
}

pub fn check_non_negative(v: f64) -> Result<f64, &'static str> {
    if v.is_finite() && v >= 0.0 { Ok(v) } else { Err("must be finite and >= 0") }
}

pub fn check_threshold(v: f64) -> Result<f64, &'static str> {
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err("threshold: must be a number in [0, 1]") }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Similarity {
    Cosine,
    Jaccard,
}

impl Similarity {
    pub fn parse(name: &str) -> Result<Self, &'static str> {
        match name {
            "cosine" => Ok(Similarity::Cosine),
            "jaccard" => Ok(Similarity::Jaccard),
            _ => Err("similarity: must be 'cosine' or 'jaccard'"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(check_confidence(f64::NAN).is_err());
        assert!(check_confidence(1.0).is_ok());
        assert!(check_non_negative(f64::INFINITY).is_err());
        assert!(check_non_negative(-0.0).is_ok());
        assert!(Similarity::parse("dice").is_err());
    }
}
