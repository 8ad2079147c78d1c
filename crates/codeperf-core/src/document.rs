//! Markdown structure the engine reads (docs/algorithms.md, "Document"): prose lines,
//! fenced code blocks and list items. Twin of python/codeperf/engine/document.py.

use crate::text::{is_ascii_ws, lower, strip_ws};

#[derive(Debug, Clone, PartialEq)]
pub struct CodeBlock {
    pub language: Language,
    pub lines: u64,
    pub closed: bool,
}

/// The longest language name kept without a heap allocation.
const INLINE_LANGUAGE: usize = 22;

/// A code block's language (its info string's first word, lowered). Names of up to 22
/// bytes (every common one) are kept inline: a `String` per block cost an allocation
/// while parsing and a free on the thread that holds the GIL (profiled on the `code`
/// family: ~300 instructions per block of the ~530 per call).
///
/// Its representation is private: `as_str` reads the inline bytes unchecked, which is
/// sound only because this module alone builds them (a public variant let safe code
/// outside build invalid UTF-8; found by review).
#[derive(Clone, PartialEq, Eq)]
pub struct Language(Repr);

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE_LANGUAGE] },
    Heap(String),
}

impl Language {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // SAFETY: `bytes[..len]` was copied from a `&str` (`From<&str>`), or is an
            // ASCII text lowered byte by byte (`language`), the only two constructors
            // (the representation is private): valid UTF-8 either way.
            Repr::Inline { len, bytes } => unsafe { std::str::from_utf8_unchecked(&bytes[..*len as usize]) },
            Repr::Heap(s) => s,
        }
    }
}

impl From<&str> for Language {
    /// Inline exactly when it fits, so equal names are equal values.
    fn from(s: &str) -> Self {
        if s.len() > INLINE_LANGUAGE {
            return Language(Repr::Heap(s.to_owned()));
        }
        let mut bytes = [0u8; INLINE_LANGUAGE];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Language(Repr::Inline { len: s.len() as u8, bytes })
    }
}

impl std::fmt::Debug for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// Prose lines as byte ranges into the content (a trailing '\r' excluded) and the code blocks.
#[derive(Debug, Default)]
pub struct Document {
    pub prose_lines: Vec<(usize, usize)>,
    pub code_blocks: Vec<CodeBlock>,
}

fn opening_fence(line: &str) -> Option<&str> {
    let stripped = line.trim_start_matches(' ');
    if line.len() - stripped.len() <= 3 && stripped.starts_with("```") {
        Some(stripped)
    } else {
        None
    }
}

fn is_closing_fence(line: &str) -> bool {
    // A closing fence's last byte before trailing white space is a backtick: most code
    // lines fail that test, without a scan of their indentation (profiled on the `code`
    // family: stripping every code line was 3 % of `analyze`).
    let b = line.as_bytes();
    let mut end = b.len();
    while end > 0 && is_ascii_ws(b[end - 1]) {
        end -= 1;
    }
    if end == 0 || b[end - 1] != b'`' {
        return false;
    }
    let body = strip_ws(line);
    body.len() >= 3 && body.bytes().all(|b| b == b'`')
}

fn language(info: &str) -> Language {
    let info = strip_ws(info.trim_start_matches('`'));
    let end = info.bytes().position(is_ascii_ws).unwrap_or(info.len());
    let name = &info[..end];
    if name.len() <= INLINE_LANGUAGE && name.is_ascii() {
        // The case mapping of ASCII text, lowered straight into the inline bytes.
        let mut bytes = [0u8; INLINE_LANGUAGE];
        for (b, &c) in bytes.iter_mut().zip(name.as_bytes()) {
            *b = c.to_ascii_lowercase();
        }
        return Language(Repr::Inline { len: name.len() as u8, bytes });
    }
    Language::from(lower(name).as_str())
}

// Not inlined into `analysis::analyze_one_with`: kept apart, changes here do not move
// the register allocation of the token loop there (measured: +-0.5 % either way).
#[inline(never)]
pub(crate) fn parse(content: &str) -> Document {
    // Every reading of a response starts here, and keeps offsets into it as u32 (some
    // read unchecked): a longer text is refused, never wrapped (callers through Python
    // were refused before this, at `model::MAX_CONTENT_CHARS` code points).
    assert!(u32::try_from(content.len()).is_ok(), "a response's text must be under 4 GiB");
    let mut doc = Document { prose_lines: Vec::with_capacity(content.len() / 48 + 4), code_blocks: Vec::new() };
    let bytes = content.as_bytes();
    let len = bytes.len();
    // Prose lines one by one, by a vectorised search (`next_newline`; the standard
    // library's `split('\n')` scans a word at a time: about 2 instructions per byte on
    // the profile). The text after its last '\n' is a line too, empty or not.
    let mut offset = 0usize;
    while offset <= len {
        let start = offset;
        let end = next_newline(bytes, start).unwrap_or(len);
        offset = end + 1;
        // Both ends are character boundaries ('\n' is ASCII).
        let raw = &content[start..end];
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        // Only a line starting with a space or a backtick can open a block: the others
        // are rejected on their first byte.
        let may_open = matches!(line.as_bytes().first(), Some(b' ' | b'`'));
        if let Some(stripped) = if may_open { opening_fence(line) } else { None } {
            let language = language(stripped);
            let (lines, after) = code_body(content, offset);
            doc.code_blocks.push(CodeBlock { language, lines, closed: after.is_some() });
            offset = after.unwrap_or(len + 1);
        } else {
            doc.prose_lines.push((start, start + line.len()));
        }
    }
    doc
}

/// A code block's body from the line starting at `from` (past the text when the fence
/// was its last line): how many lines it holds, and where the line after its closing
/// fence starts (None when no line closes it: every line left is the body's).
///
/// A closing fence holds a backtick, so only lines with one are looked at; the lines
/// before such a line are counted by their line breaks (profiled on the `code` family:
/// finding every code line's end and testing it was ~5 % of `analyze`).
fn code_body(content: &str, mut from: usize) -> (u64, Option<usize>) {
    let bytes = content.as_bytes();
    let len = bytes.len();
    let mut lines = 0u64;
    while from <= len {
        let Some(tick) = memchr::memchr(b'`', &bytes[from..]).map(|i| from + i) else {
            return (lines + line_breaks(&bytes[from..]) + 1, None);
        };
        let start = memchr::memrchr(b'\n', &bytes[from..tick]).map_or(from, |i| from + i + 1);
        lines += line_breaks(&bytes[from..start]);
        let end = next_newline(bytes, tick).unwrap_or(len);
        let raw = &content[start..end];
        if is_closing_fence(raw.strip_suffix('\r').unwrap_or(raw)) {
            return (lines, Some(end + 1));
        }
        lines += 1;
        from = end + 1;
    }
    (lines, None)
}

/// The first '\n' in `bytes` at or after `from`.
///
/// Lines are short (~40 bytes in the corpora): memchr's call, dispatch and set-up cost
/// ~70 instructions a line on the profile, more than its search; this one is inlined and
/// reads 32 bytes a step (~10 instructions).
#[inline(always)]
fn next_newline(bytes: &[u8], from: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        next_newline_sse2(bytes, from)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        memchr::memchr(b'\n', &bytes[from..]).map(|i| from + i)
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn next_newline_sse2(bytes: &[u8], mut at: usize) -> Option<usize> {
    use std::arch::x86_64::*;
    let len = bytes.len();
    // SAFETY: SSE2 is part of the x86_64 baseline (as in `classify`); each unaligned load
    // reads 16 bytes within bytes[at..at + 32] (at + 32 <= len) or bytes[at..at + 16]
    // (at + 16 <= len), within the slice.
    unsafe {
        let nl = _mm_set1_epi8(b'\n' as i8);
        // 32 bytes a step (two loads, one mask), then 16, then byte by byte at the text's end.
        while at + 32 <= len {
            let p = bytes.as_ptr().add(at);
            let lo = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p.cast()), nl)) as u32;
            let hi = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p.add(16).cast()), nl)) as u32;
            let m = lo | (hi << 16);
            if m != 0 {
                return Some(at + m.trailing_zeros() as usize);
            }
            at += 32;
        }
        if at + 16 <= len {
            let m = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(bytes.as_ptr().add(at).cast()), nl));
            if m != 0 {
                return Some(at + m.trailing_zeros() as usize);
            }
            at += 16;
        }
    }
    bytes[at..].iter().position(|&b| b == b'\n').map(|i| at + i)
}

/// The number of '\n' in `bytes`.
fn line_breaks(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        line_breaks_sse2(bytes)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        line_breaks_scalar(bytes)
    }
}

/// The plain count (the tests hold `line_breaks_sse2` equal to it).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn line_breaks_scalar(bytes: &[u8]) -> u64 {
    bytes.iter().map(|&b| u64::from(b == b'\n')).sum()
}

/// 64 bytes per step: four byte-wise compares subtracted into one accumulator (-1 per
/// match), summed by `psadbw` (~0.3 instructions per byte; a plain `filter().count()`
/// compiled to ~2.5, a 32-byte chunked sum to ~1.2).
#[cfg(target_arch = "x86_64")]
fn line_breaks_sse2(bytes: &[u8]) -> u64 {
    use std::arch::x86_64::*;
    let chunks = bytes.chunks_exact(64);
    let rest = chunks.remainder();
    let mut n = 0u64;
    // SAFETY: SSE2 is part of the x86_64 baseline (as in `classify`); each unaligned
    // load reads 16 of the chunk's 64 bytes.
    unsafe {
        let nl = _mm_set1_epi8(b'\n' as i8);
        let zero = _mm_setzero_si128();
        for chunk in chunks {
            let p = chunk.as_ptr();
            let mut acc = zero;
            for k in 0..4 {
                acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128(p.add(16 * k).cast()), nl));
            }
            let sums = _mm_sad_epu8(acc, zero);
            n += (_mm_cvtsi128_si64(sums) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums))) as u64;
        }
    }
    n + line_breaks_scalar(rest)
}

/// The byte range (relative to `line`) of a list item's text ('- x', '* x', '+ x', '1. x',
/// '1) x'), or None when the line is not a list item.
pub(crate) fn list_item(line: &str) -> Option<(usize, usize)> {
    let stripped = strip_ws(line);
    let lead = stripped.as_ptr() as usize - line.as_ptr() as usize;
    let b = stripped.as_bytes();
    let mut pos = match b.first() {
        Some(b'-' | b'*' | b'+') => 1,
        Some(c) if c.is_ascii_digit() => {
            let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 9 || !matches!(b.get(digits), Some(b'.' | b')')) {
                return None;
            }
            digits + 1
        }
        _ => return None,
    };
    if !matches!(b.get(pos), Some(b' ' | b'\t')) {
        return None;
    }
    while matches!(b.get(pos), Some(b' ' | b'\t')) {
        pos += 1;
    }
    Some((lead + pos, lead + b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain reading, line by line (the twin's): `parse` must give exactly this.
    fn parse_by_lines(content: &str) -> Document {
        let mut doc = Document::default();
        // The language as the spec says it (the info string's first word, lowered),
        // without `language`'s inline fast path.
        let plain_language = |fence: &str| {
            let info = strip_ws(fence.trim_start_matches('`'));
            let end = info.bytes().position(is_ascii_ws).unwrap_or(info.len());
            Language::from(lower(&info[..end]).as_str())
        };
        let (mut in_block, mut lang, mut body_lines, mut offset) = (false, Language::from(""), 0u64, 0usize);
        for raw in content.split('\n') {
            let start = offset;
            offset += raw.len() + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if in_block {
                if is_closing_fence(line) {
                    doc.code_blocks.push(CodeBlock { language: lang.clone(), lines: body_lines, closed: true });
                    in_block = false;
                } else {
                    body_lines += 1;
                }
            } else if let Some(stripped) = opening_fence(line) {
                (in_block, lang, body_lines) = (true, plain_language(stripped), 0);
            } else {
                doc.prose_lines.push((start, start + line.len()));
            }
        }
        if in_block {
            doc.code_blocks.push(CodeBlock { language: lang, lines: body_lines, closed: false });
        }
        doc
    }

    proptest::proptest! {
        #[test]
        fn parse_equals_the_line_by_line_reading(content in "(?s)(```|`| |\\n|\\r|x|~|py|Py|ÉLan|a-Very-Long-Language-Name-Here| - |1\\. ){0,60}") {
            let (a, b) = (parse(&content), parse_by_lines(&content));
            proptest::prop_assert_eq!(a.prose_lines, b.prose_lines);
            proptest::prop_assert_eq!(a.code_blocks, b.code_blocks);
        }
    }

    #[cfg(target_arch = "x86_64")]
    proptest::proptest! {
        #[test]
        fn line_breaks_sse2_equals_the_plain_count(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), nl in 0usize..400) {
            let mut bytes = bytes;
            for k in (0..bytes.len()).step_by(nl % 7 + 1) {
                bytes[k] = b'\n';
            }
            proptest::prop_assert_eq!(line_breaks_sse2(&bytes), line_breaks_scalar(&bytes));
        }
    }

    proptest::proptest! {
        #[test]
        fn next_newline_equals_the_plain_search(text in "[ab\\n]{0,100}|[ab\\n]{0,3}a{60,200}[ab\\n]{0,3}", from in 0usize..210) {
            let bytes = text.as_bytes();
            let from = from.min(bytes.len());
            proptest::prop_assert_eq!(next_newline(bytes, from), (from..bytes.len()).find(|&i| bytes[i] == b'\n'));
        }
    }

    #[test]
    fn fences_and_prose() {
        let doc = parse("intro\r\n```Python extra\nx = 1\n```\nafter\n   ```\nopen");
        assert_eq!(doc.prose_lines.len(), 2);
        assert_eq!(doc.code_blocks, vec![
            CodeBlock { language: "python".into(), lines: 1, closed: true },
            CodeBlock { language: "".into(), lines: 1, closed: false },
        ]);
    }

    #[test]
    fn list_items() {
        let text = "  12) do this ";
        let (a, b) = list_item(text).unwrap();
        assert_eq!(&text[a..b], "do this");
        assert!(list_item("-x").is_none());
        assert!(list_item("1234567890. x").is_none());
        assert!(list_item("- ").is_none());
    }
}
