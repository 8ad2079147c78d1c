//! Text primitives (docs/algorithms.md, "Text"): the exact twin of
//! python/codeperf/engine/text.py.
//!
//! Python's and Rust's Unicode tables differ (by version and by definition), so the
//! engine defines its own word characters and case mapping, written out below.

use std::sync::OnceLock;

use crate::classify::Classified;
use crate::packed;

/// ASCII white space as the engine strips it (includes \x0b, unlike `u8::is_ascii_whitespace`).
pub const ASCII_WS: &[u8] = b" \t\n\r\x0b\x0c";

/// Non-ASCII code points that are NOT word characters (inclusive ranges, ascending).
pub const NON_WORD_RANGES: &[(u32, u32)] = &[
    (0x0080, 0x00BF),
    (0x00D7, 0x00D7),
    (0x00F7, 0x00F7),
    (0x1680, 0x1680),
    (0x180E, 0x180E),
    (0x2000, 0x2BFF),
    (0x2E00, 0x2E7F),
    (0x3000, 0x303F),
    (0xD800, 0xDFFF),
    (0xFE10, 0xFE1F),
    (0xFE30, 0xFE6F),
    (0xFEFF, 0xFEFF),
    (0xFF00, 0xFF0F),
    (0xFF1A, 0xFF20),
    (0xFF3B, 0xFF40),
    (0xFF5B, 0xFF65),
    (0xFFF0, 0xFFFF),
    (0x1F000, 0x1FAFF),
];

pub const STOPWORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
    "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
    "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once",
    "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "so",
    "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then",
    "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up",
    "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why",
    "will", "with", "would", "you", "your", "yours", "yourself", "yourselves",
];

pub const HEDGING_MARKERS: &[&str] = &[
    "might", "may", "could", "possibly", "perhaps", "probably", "maybe", "likely", "unlikely",
    "unclear", "uncertain", "seems", "seem", "appears", "arguably", "generally", "typically",
    "often", "somewhat",
];

pub const CERTAINTY_MARKERS: &[&str] = &[
    "definitely", "certainly", "clearly", "always", "never", "must", "guaranteed", "undoubtedly",
    "obviously", "absolutely", "proven", "exactly", "sure",
];

pub const RECOMMEND_MARKERS: &[&str] = &[
    "should", "recommend", "recommended", "recommends", "suggest", "suggests", "must",
    "consider", "prefer", "avoid", "ensure",
];

/// The longest word on any list (bytes): longer words need no lookup.
pub(crate) const LONGEST_LISTED: usize = 11;

pub(crate) const STOP: u8 = 1;
pub(crate) const HEDGE: u8 = 2;
pub(crate) const CERTAIN: u8 = 4;
pub(crate) const RECOMMEND: u8 = 8;

/// Every listed word with the lists it belongs to, so one lookup classifies a token.
/// Every listed word packs (`packed`, at most 16 bytes): a small open-addressed table
/// of packed words, probed linearly from the top bits of the packed hash.
pub(crate) struct WordClasses {
    slots: Box<[(u128, u8); CLASS_SLOTS]>,
}

/// A power of two, more than twice the number of listed words (about 160).
const CLASS_SLOTS: usize = 512;

impl WordClasses {
    #[cfg(test)]
    pub(crate) fn get(&self, tok: &str) -> u8 {
        if tok.is_empty() || tok.len() > packed::MAX_LEN {
            return 0;
        }
        self.get_packed(packed::pack(tok.as_bytes(), 0, tok.len()))
    }

    /// The classes of a packed (lowered) token; 0 for words on no list.
    #[inline]
    pub(crate) fn get_packed(&self, key: u128) -> u8 {
        let mut i = Self::slot(key);
        loop {
            let (k, bits) = self.slots[i];
            if k == key {
                return bits;
            }
            if k == 0 {
                return 0;
            }
            i = (i + 1) & (CLASS_SLOTS - 1);
        }
    }

    #[inline]
    fn slot(key: u128) -> usize {
        (packed::hash(key) >> (64 - CLASS_SLOTS.trailing_zeros())) as usize
    }
}

pub(crate) fn word_classes() -> &'static WordClasses {
    static CLASSES: OnceLock<WordClasses> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let mut classes = WordClasses { slots: Box::new([(0u128, 0u8); CLASS_SLOTS]) };
        for (list, bit) in [(STOPWORDS, STOP), (HEDGING_MARKERS, HEDGE), (CERTAINTY_MARKERS, CERTAIN), (RECOMMEND_MARKERS, RECOMMEND)] {
            for w in list {
                assert!(w.len() <= LONGEST_LISTED && LONGEST_LISTED <= packed::MAX_LEN, "listed words pack");
                let key = packed::pack(w.as_bytes(), 0, w.len());
                let mut i = WordClasses::slot(key);
                while classes.slots[i].0 != 0 && classes.slots[i].0 != key {
                    i = (i + 1) & (CLASS_SLOTS - 1);
                }
                classes.slots[i].0 = key;
                classes.slots[i].1 |= bit;
            }
        }
        classes
    })
}

const fn ascii_word_table() -> [bool; 128] {
    let mut t = [false; 128];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric();
        i += 1;
    }
    t
}
static ASCII_WORD: [bool; 128] = ascii_word_table();

/// Word characters (docs/algorithms.md, "Text"), by code point.
#[inline]
pub(crate) fn is_word_code_point(cp: u32) -> bool {
    if cp < 0x80 {
        return ASCII_WORD[cp as usize];
    }
    // Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Indic...: below U+1680 only the
    // first three ranges apply, and most non-ASCII text is there.
    if cp < 0x1680 {
        return !(cp <= 0xBF || cp == 0xD7 || cp == 0xF7);
    }
    // Elsewhere a binary search for the last range starting at or below cp.
    let k = NON_WORD_RANGES.partition_point(|&(lo, _)| lo <= cp);
    k == 0 || cp > NON_WORD_RANGES[k - 1].1
}

#[inline]
pub(crate) fn is_ascii_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

pub(crate) fn strip_ws(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut end = bytes.len();
    while start < end && is_ascii_ws(bytes[start]) {
        start += 1;
    }
    while end > start && is_ascii_ws(bytes[end - 1]) {
        end -= 1;
    }
    &s[start..end]
}

/// The engine's case mapping: ASCII A-Z and Latin-1 U+00C0..=U+00DE (but U+00D7) map to +0x20.
/// Every mapped character keeps its UTF-8 length, so byte offsets are preserved.
pub(crate) fn lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase(); // vectorised; the common case
    }
    let mut bytes = s.as_bytes().to_vec();
    lower_bytes(&mut bytes);
    // Only ASCII bytes and second bytes of C3 xx pairs changed, within valid ranges.
    String::from_utf8(bytes).expect("case mapping preserves UTF-8")
}

/// Whether the character starting at byte `i` is a word character, and its width.
#[inline(always)]
pub(crate) fn word_at(s: &str, i: usize) -> (bool, usize) {
    let bytes = s.as_bytes();
    let b = bytes[i];
    if b < 0x80 {
        return (ASCII_WORD[b as usize], 1);
    }
    // Fast paths from the lead byte alone (profiled on the multilingual family, where
    // the decode and table search ran once per character): two-byte characters are
    // U+0080..U+07FF, where only U+0080..U+00BF (lead C2), U+00D7 and U+00F7 (C3 97,
    // C3 B7) are not word characters; three-byte leads E4..EC and EE cover
    // U+4000..U+CFFF and U+E000..U+EFFF, where no range of the table lies.
    if (0xC3..0xE0).contains(&b) {
        return (b != 0xC3 || !matches!(bytes[i + 1], 0x97 | 0xB7), 2);
    }
    if b == 0xC2 {
        return (false, 2);
    }
    if (0xE4..=0xEC).contains(&b) || b == 0xEE {
        return (true, 3);
    }
    // Decoded from the bytes (`s` is valid UTF-8 and `i` a character boundary), without
    // going through `chars()` and its checks.
    let cont = |k: usize| u32::from(bytes[i + k] & 0x3F);
    let (cp, width) = if b < 0xE0 {
        ((u32::from(b & 0x1F) << 6) | cont(1), 2)
    } else if b < 0xF0 {
        ((u32::from(b & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        ((u32::from(b & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3), 4)
    };
    (is_word_code_point(cp), width)
}

/// The byte-wise case mapping of `lower`: ASCII A-Z, and the
/// second byte of a Latin-1 capital (C3 80..=9E but 97), each +0x20.
#[inline]
fn lower_bytes(bytes: &mut [u8]) {
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        let b = bytes[i];
        if b.is_ascii_uppercase() {
            bytes[i] = b + 0x20;
        } else if b == 0xC3 && i + 1 < n {
            let next = bytes[i + 1];
            if (0x80..=0x9E).contains(&next) && next != 0x97 {
                bytes[i + 1] = next + 0x20;
            }
            i += 1;
        }
        i += 1;
    }
}

/// Lower-cased tokens of `text` (a convenience for tests and small inputs).
pub fn tokens(text: &str) -> Vec<String> {
    let mut c = Classified::default();
    c.fill(text);
    let mut out = Vec::new();
    let mut found = c.tokens(0, text.len());
    while let Some((s, e)) = found.next_token() {
        out.push(String::from_utf8(c.low[s..e].to_vec()).expect("whole characters, lowered within UTF-8"));
    }
    out
}

/// At least two code points (a token is never empty).
#[inline]
pub(crate) fn has_two_code_points(tok: &[u8]) -> bool {
    // More bytes than the first character's UTF-8 width, read from its lead byte.
    let lead = tok[0];
    let first = if lead < 0x80 { 1 } else if lead < 0xE0 { 2 } else if lead < 0xF0 { 3 } else { 4 };
    tok.len() > first
}

/// Tokens that carry meaning: at least two code points and not a stopword. `classes`
/// is the token's `word_classes().get(tok)`, for callers that already looked it up.
#[inline]
pub(crate) fn is_content(tok: &[u8], classes: u8) -> bool {
    classes & STOP == 0 && has_two_code_points(tok)
}

#[cfg(test)]
pub(crate) fn is_content_token(tok: &str) -> bool {
    is_content(tok.as_bytes(), word_classes().get(tok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_maps_ascii_and_latin1_only() {
        assert_eq!(lower("ÀÉÎÕÜ×Þ ABC ẞ Ω"), "àéîõü×þ abc ẞ Ω");
    }

    #[test]
    fn tokens_split_on_non_word_ranges() {
        assert_eq!(tokens("Hello, World! naïve—café 東京 😀x"), ["hello", "world", "naïve", "café", "東京", "x"]);
        assert_eq!(tokens("snake_case 3.14"), ["snake", "case", "3", "14"]);
    }

    #[test]
    fn content_tokens_need_two_code_points() {
        assert!(!is_content_token("a"));
        assert!(!is_content_token("é"));
        assert!(is_content_token("東京"));
        assert!(!is_content_token("the"));
        assert!(is_content_token("pool"));
    }

    #[test]
    fn sentences_end_before_white_space() {
        // "One." | "Two?Three!" | "e.g." : a sentence ends before tokens 2 and 4.
        let text = "One. Two?Three! e.g.";
        let mut c = Classified::default();
        c.fill(text);
        let mut flags = Vec::new();
        let mut found = c.tokens(0, text.len());
        while let Some((s, _)) = found.next_token() {
            flags.push(found.sentence_before(s));
        }
        assert_eq!(flags, vec![false, true, false, true, false]);
    }

    #[test]
    fn word_at_fast_paths_equal_the_code_point_rule() {
        for cp in 0x80..=0x10FFFFu32 {
            let Some(c) = char::from_u32(cp) else { continue };
            let text = format!("{c}x");
            assert_eq!(word_at(&text, 0), (is_word_code_point(cp), c.len_utf8()), "U+{cp:04X}");
        }
    }

    #[test]
    fn longest_listed_is_the_longest_listed_word() {
        let lists = [STOPWORDS, HEDGING_MARKERS, CERTAINTY_MARKERS, RECOMMEND_MARKERS];
        assert_eq!(lists.iter().flat_map(|l| l.iter()).map(|w| w.len()).max(), Some(LONGEST_LISTED));
    }

    #[test]
    fn strip_includes_vertical_tab() {
        assert_eq!(strip_ws("\x0b\t x \x0c"), "x");
    }

    #[test]
    fn word_table_fast_paths_equal_the_plain_range_scan() {
        for cp in 0x80..=0x10FFFFu32 {
            let plain = !NON_WORD_RANGES.iter().any(|&(lo, hi)| lo <= cp && cp <= hi);
            assert_eq!(is_word_code_point(cp), plain, "U+{cp:04X}");
        }
    }

    #[test]
    fn only_latin1_capitals_are_lowered() {
        assert_eq!(tokens("東京 ολα Ärger straße İ ÀB ÀÉ×Þx"), ["東京", "ολα", "ärger", "straße", "İ", "àb", "àé", "þx"]);
    }
}
