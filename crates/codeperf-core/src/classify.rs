//! The per-byte pass of the analysis: one sweep over a response's bytes that lowers
//! it (the engine's case mapping, docs/algorithms.md "Text") and marks, in bitmasks of
//! 64 bytes, which bytes belong to word characters and where sentences end. Tokens are
//! then read from the masks (a few bit operations per token) instead of testing each
//! byte again, and every token is hashed from the lowered copy, already lowered.
//!
//! Profiled (callgrind, 100 x 2 KB): the byte-at-a-time tokenizer with per-token
//! lowering spent about 9 instructions per byte; this pass spends about 2 (16 bytes per
//! step with SSE2, part of x86-64's baseline, so no run-time detection is needed; other
//! targets use the scalar twin `chunk_scalar`, which the tests hold equal to it).

use crate::text::{is_ascii_ws, word_at};
#[cfg(test)]
use crate::text::is_word_code_point;

/// Bytes after the text in `low`: a 16-byte load at any token start stays in bounds,
/// and the last chunk's 16-byte store fits.
pub(crate) const PAD: usize = 32;

/// A response's bytes, classified. Reused from one response to the next (a thread's
/// scratch), so its buffers are allocated once.
#[derive(Default)]
pub(crate) struct Classified {
    /// The text under the engine's case mapping (every mapped character keeps its UTF-8
    /// length, so offsets are the content's), then `PAD` bytes that no token reads.
    pub(crate) low: Vec<u8>,
    /// Bit k of block b: byte 64 b + k belongs to a word character. Two zero blocks
    /// follow the text, so a search for a token's end always stops.
    word: Vec<u64>,
    /// Bit k of block b: byte 64 b + k is '.', '!' or '?' followed by ASCII white space
    /// or the end of the text (a sentence end, when inside the range being read).
    send: Vec<u64>,
}

/// One 16-byte chunk's masks (bit i: byte i of the chunk).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ChunkMasks {
    /// ASCII letters and digits.
    word: u16,
    /// Lead bytes of multi-byte characters (0xC0..=0xFF) other than those below:
    /// classified one by one after.
    lead: u16,
    /// Lead bytes of two-byte characters that are all word characters (C4..=DF:
    /// U+0100..=U+07FF: Latin Extended, Greek, Cyrillic, Hebrew, Arabic...).
    word2: u16,
    /// Lead bytes of three-byte characters that are all word characters (E4..=EC and
    /// EE: U+4000..=U+CFFF and U+E000..=U+EFFF, where no non-word range lies: CJK...).
    word3: u16,
    /// Sentence-ending punctuation followed by ASCII white space.
    send: u16,
}

/// Lowers `src[..16]` into `dst[..16]` and classifies it. `src` has 17 bytes: the
/// 17th tells whether the 16th ends a sentence.
#[inline(always)]
fn chunk(src: &[u8; 17], dst: &mut [u8; 16]) -> ChunkMasks {
    #[cfg(target_arch = "x86_64")]
    {
        chunk_sse2(src, dst)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        chunk_scalar(src, dst)
    }
}

/// The scalar twin of `chunk_sse2`, byte by byte.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn chunk_scalar(src: &[u8; 17], dst: &mut [u8; 16]) -> ChunkMasks {
    let mut m = ChunkMasks { word: 0, lead: 0, word2: 0, word3: 0, send: 0 };
    for i in 0..16 {
        let b = src[i];
        let l = if b.is_ascii_uppercase() { b + 0x20 } else { b };
        dst[i] = l;
        if l.is_ascii_lowercase() || b.is_ascii_digit() {
            m.word |= 1 << i;
        }
        if (0xC4..=0xDF).contains(&b) {
            m.word2 |= 1 << i;
        } else if (0xE4..=0xEC).contains(&b) || b == 0xEE {
            m.word3 |= 1 << i;
        } else if b >= 0xC0 {
            m.lead |= 1 << i;
        }
        if matches!(b, b'.' | b'!' | b'?') && is_ascii_ws(src[i + 1]) {
            m.send |= 1 << i;
        }
    }
    m
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn chunk_sse2(src: &[u8; 17], dst: &mut [u8; 16]) -> ChunkMasks {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86_64 baseline (every x86_64 CPU has it, and the
    // compiler enables it for this target), so these intrinsics are always available.
    // The two unaligned loads read src[0..16] and src[1..17], both within the 17-byte
    // array; the unaligned store writes dst[0..16], exactly the 16-byte array.
    unsafe {
        let v = _mm_loadu_si128(src.as_ptr().cast());
        let next = _mm_loadu_si128(src.as_ptr().add(1).cast());
        // x in lo..lo+n, as one signed comparison: x - lo + 0x80 (mod 256) is below
        // -128 + n exactly for those n values.
        let in_range = |x: __m128i, lo: u8, n: u8| {
            let shifted = _mm_add_epi8(x, _mm_set1_epi8(0x80u8.wrapping_sub(lo) as i8));
            _mm_cmplt_epi8(shifted, _mm_set1_epi8((0x80u8.wrapping_add(n)) as i8))
        };
        let upper = in_range(v, b'A', 26);
        let low = _mm_add_epi8(v, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
        _mm_storeu_si128(dst.as_mut_ptr().cast(), low);
        let word = _mm_or_si128(in_range(low, b'a', 26), in_range(v, b'0', 10));
        let term = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8)), _mm_cmpeq_epi8(v, _mm_set1_epi8(b'!' as i8))),
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'?' as i8)),
        );
        // ASCII white space: \t \n \x0b \x0c \r (9..=13) and ' '.
        let ws_next = _mm_or_si128(in_range(next, 9, 5), _mm_cmpeq_epi8(next, _mm_set1_epi8(b' ' as i8)));
        let mut m = ChunkMasks {
            word: _mm_movemask_epi8(word) as u16,
            lead: 0,
            word2: 0,
            word3: 0,
            send: _mm_movemask_epi8(_mm_and_si128(term, ws_next)) as u16,
        };
        // Most chunks of most texts are ASCII: the lead-byte masks only when needed.
        let non_ascii = _mm_movemask_epi8(v) as u16;
        if non_ascii != 0 {
            // Lead bytes are 0xC0..=0xFF: bits 7 and 6 set (v + v moves bit 6 to bit 7).
            let lead = non_ascii & _mm_movemask_epi8(_mm_add_epi8(v, v)) as u16;
            m.word2 = _mm_movemask_epi8(in_range(v, 0xC4, 28)) as u16;
            m.word3 = _mm_movemask_epi8(_mm_or_si128(in_range(v, 0xE4, 9), _mm_cmpeq_epi8(v, _mm_set1_epi8(0xEEu8 as i8)))) as u16;
            m.lead = lead & !(m.word2 | m.word3);
        }
        m
    }
}

/// One 64-byte block: lowers `src[..64]` into `dst` and returns its word, lead-byte and
/// sentence-end masks. `src` has 65 bytes (the 65th tells whether the 64th ends a
/// sentence).
#[inline(always)]
fn block(src: &[u8; 65], dst: &mut [u8; 64]) -> (u64, u64, u64, u64, u64) {
    let (mut word, mut lead, mut send, mut word2, mut word3) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for j in 0..4 {
        let s: &[u8; 17] = src[16 * j..16 * j + 17].try_into().expect("17 bytes");
        let d: &mut [u8; 16] = (&mut dst[16 * j..16 * j + 16]).try_into().expect("16 bytes");
        let m = chunk(s, d);
        word |= u64::from(m.word) << (16 * j);
        lead |= u64::from(m.lead) << (16 * j);
        send |= u64::from(m.send) << (16 * j);
        word2 |= u64::from(m.word2) << (16 * j);
        word3 |= u64::from(m.word3) << (16 * j);
    }
    (word, lead, send, word2, word3)
}

impl Classified {
    /// Classifies `content`. The buffers are reused and only grow: every byte and block
    /// that is read afterwards is written here (no clearing pass).
    pub(crate) fn fill(&mut self, content: &str) {
        self.fill_lines(content, &[(0, content.len())]);
    }

    /// Classifies the blocks of `content` that hold a byte of `lines` (ascending byte
    /// ranges whose tokens will be read, as `tokens` needs them) or the byte after one;
    /// the other blocks' masks are zeroed (no word, no sentence end) and their lowered
    /// bytes left as they were. Profiled on the `code` family: most of an answer is
    /// fenced code, which analysis never reads, and this pass over it was 9 % of
    /// `analyze`.
    ///
    /// A skipped block holds no byte of a line: a multi-byte character that runs into it
    /// from a classified block ends before the byte after that block's last line, so no
    /// token reads the carried bits or the Latin-1 capital's lowered second byte, and both
    /// are dropped. A classified block after a skipped one starts with neither: the bytes
    /// a character of the skipped block would carry into it come before its first line's
    /// start (a line starts after a '\n', or at the text's start).
    pub(crate) fn fill_lines(&mut self, content: &str, lines: &[(usize, usize)]) {
        let bytes = content.as_bytes();
        let len = bytes.len();
        let full = len / 64;
        // Blocks with text, then two zero blocks; `low` covers them all, plus `PAD`.
        let blocks = full + 3;
        if self.low.len() < 64 * blocks + PAD {
            self.low.resize(64 * blocks + PAD, 0);
            self.word.resize(blocks, 0);
            self.send.resize(blocks, 0);
        }
        // Bits of a multi-byte word character that runs into the next block, and whether
        // that block's first byte is the second byte of a Latin-1 capital (lowered after
        // the block is written, or the write would undo it).
        let mut carry = 0u64;
        let mut lower_first = false;
        // The last block (and the one before it when fewer than 65 bytes are left) is
        // read from a copy padded with spaces: the text's end reads as white space (a
        // sentence end) and no word character, and the padding as nothing.
        let mut tail = [b' '; 129];
        let mut line = 0;
        for b in 0..full + 2 {
            let at = 64 * b;
            // Lines ending (their byte after included) before this block are done with.
            while line < lines.len() && lines[line].1 < at {
                line += 1;
            }
            if line == lines.len() || lines[line].0 >= at + 64 {
                self.word[b] = 0;
                self.send[b] = 0;
                carry = 0;
                lower_first = false;
                continue;
            }
            let dst: &mut [u8; 64] = (&mut self.low[at..at + 64]).try_into().expect("64 bytes");
            let (mut word, mut lead, send, word2, word3) = if at + 65 <= len {
                block(bytes[at..at + 65].try_into().expect("65 bytes"), dst)
            } else if at < len {
                let n = (len - at).min(129);
                tail[..n].copy_from_slice(&bytes[at..at + n]);
                tail[n..].fill(b' ');
                block(tail[..65].try_into().expect("65 bytes"), dst)
            } else {
                (0, 0, 0, 0, 0)
            };
            // Two- and three-byte word characters from their lead bytes' masks: each
            // lead's bit spread over the character's bytes (leads are at least as far
            // apart as the width, so the products add no overlapping bits).
            let spread = u128::from(word2) * 0b11 + u128::from(word3) * 0b111;
            word |= carry | spread as u64;
            carry = (spread >> 64) as u64;
            if lower_first {
                dst[0] += 0x20;
                lower_first = false;
            }
            // Multi-byte characters, one by one from their lead byte.
            while lead != 0 {
                let k = lead.trailing_zeros() as usize;
                lead &= lead - 1;
                let p = at + k;
                let (is_word, width) = word_at(content, p);
                if is_word {
                    // The character's bytes, the ones past this block carried over
                    // (shifted in two steps: a shift by 64 is not one).
                    let bits = (1u64 << width) - 1;
                    word |= bits << k;
                    carry |= (bits >> 1) >> (63 - k);
                    // The case mapping's non-ASCII part: U+00C0..=U+00DE but U+00D7
                    // (C3 80..=9E but C3 97) gain 0x20 in their second byte.
                    if bytes[p] == 0xC3 && (0x80..=0x9E).contains(&bytes[p + 1]) && bytes[p + 1] != 0x97 {
                        if k == 63 {
                            lower_first = true;
                        } else {
                            dst[k + 1] += 0x20;
                        }
                    }
                }
            }
            self.word[b] = word;
            self.send[b] = send;
        }
        self.word[full + 2] = 0;
        self.send[full + 2] = 0;
    }

    /// The tokens of `start..end`, a range that both ends border a byte that is no word
    /// character (white space, a line break, the text's ends): exactly the runs of word
    /// bytes that start in it.
    #[inline(always)]
    pub(crate) fn tokens(&self, start: usize, end: usize) -> Tokens<'_> {
        let b = start >> 6;
        let bits = self.word[b] & (!0u64 << (start & 63));
        Tokens { word: &self.word, send: &self.send, b, bits, end, next_sentence: next_bit(&self.send, start, end) }
    }
}

/// A cursor over the tokens of a range (`Classified::tokens`): a few bit operations per
/// token on the current block's mask, kept in a register.
pub(crate) struct Tokens<'a> {
    word: &'a [u64],
    send: &'a [u64],
    /// The current block, and its word bits not yet read.
    b: usize,
    bits: u64,
    end: usize,
    /// The next sentence end's position in the range, or `usize::MAX`.
    next_sentence: usize,
}

impl Tokens<'_> {
    /// The next token's byte range.
    #[inline(always)]
    pub(crate) fn next_token(&mut self) -> Option<(usize, usize)> {
        // SAFETY (both unchecked reads): `fill_lines` sized `word` to at least the text's
        // blocks plus two, and the range ends within the text: a block holding a byte
        // before `end` is in `word`, and the search for a token's end stops at the
        // latest at the first zero block after the text (the checks were ~4 instructions
        // and a live length per token).
        while self.bits == 0 {
            self.b += 1;
            if self.b * 64 >= self.end {
                return None;
            }
            debug_assert!(self.b < self.word.len());
            // SAFETY: `self.b` is a block before `end` (checked just above): in `word`.
            self.bits = unsafe { *self.word.get_unchecked(self.b) };
        }
        let k = self.bits.trailing_zeros();
        let start = self.b * 64 + k as usize;
        if start >= self.end {
            return None;
        }
        // The token's end: the first byte at or after `start` that is not in a word.
        let mut rest = !self.bits & (!0u64 << k);
        while rest == 0 {
            self.b += 1;
            debug_assert!(self.b < self.word.len());
            // SAFETY: the token started before `end`, and the zero block after the text
            // (`fill_lines` sizes `word` for it) stops this loop: `self.b` stays in `word`.
            self.bits = unsafe { *self.word.get_unchecked(self.b) };
            rest = !self.bits;
        }
        let e = rest.trailing_zeros();
        // The bits after the token (none when it ends the block).
        self.bits &= (!0u64).checked_shl(e).unwrap_or(0);
        let stop = self.b * 64 + e as usize;
        debug_assert!(stop <= self.end, "tokens end at the range's end");
        Some((start, stop))
    }

    /// Whether a sentence ended ('.', '!' or '?' followed by ASCII white space or the
    /// text's end) since the previous call (or the range's start), before `before`.
    /// Sentence ends are rare: the next one's position is kept, so the usual answer is
    /// one comparison.
    #[inline(always)]
    pub(crate) fn sentence_before(&mut self, before: usize) -> bool {
        if self.next_sentence >= before {
            return false;
        }
        self.next_sentence = next_bit(self.send, before, self.end);
        true
    }
}

/// The first set bit of `masks` at or after `from` and before `end`, or `usize::MAX`.
#[inline(always)]
fn next_bit(masks: &[u64], from: usize, end: usize) -> usize {
    let mut b = from >> 6;
    let mut m = masks[b] & (!0u64 << (from & 63));
    loop {
        if m != 0 {
            let p = b * 64 + m.trailing_zeros() as usize;
            return if p < end { p } else { usize::MAX };
        }
        b += 1;
        if b * 64 >= end {
            return usize::MAX;
        }
        m = masks[b];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[cfg(target_arch = "x86_64")]
    fn both(src: &[u8; 17]) {
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        assert_eq!(chunk_scalar(src, &mut a), chunk_sse2(src, &mut b), "{src:?}");
        assert_eq!(a, b);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sse2_chunk_equals_the_scalar_chunk_for_every_byte() {
        for x in 0..=255u8 {
            for next in [b' ', b'\t', b'\r', 0x0b, 0x0c, b'\n', b'x', 0x80, 0x08, 0x0e, 0x1f, 0x21] {
                let mut src = [x; 17];
                src[16] = next;
                src[3] = next;
                both(&src);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    proptest! {
        #[test]
        fn sse2_chunk_equals_the_scalar_chunk(bytes in proptest::collection::vec(any::<u8>(), 17)) {
            both(bytes[..].try_into().unwrap());
        }
    }

    /// Tokens and sentence flags by `next_token` over the whole text.
    fn read(text: &str) -> Vec<(String, bool)> {
        let mut c = Classified::default();
        c.fill(text);
        let mut out = Vec::new();
        let mut tokens = c.tokens(0, text.len());
        while let Some((s, e)) = tokens.next_token() {
            let sentence = tokens.sentence_before(s);
            out.push((String::from_utf8(c.low[s..e].to_vec()).unwrap(), sentence));
        }
        out
    }

    /// The plain reading, character by character: tokens are maximal runs of word
    /// characters, lowered; a token's flag says whether '.', '!' or '?' followed by ASCII
    /// white space or the end came since the previous token.
    fn read_by_chars(text: &str) -> Vec<(String, bool)> {
        let chars: Vec<char> = text.chars().collect();
        let (mut out, mut cur, mut sentence) = (Vec::new(), String::new(), false);
        for (i, &c) in chars.iter().enumerate() {
            if is_word_code_point(c as u32) {
                let cp = c as u32;
                let mapped = if (0x41..=0x5A).contains(&cp) || ((0xC0..=0xDE).contains(&cp) && cp != 0xD7) { cp + 0x20 } else { cp };
                cur.push(char::from_u32(mapped).unwrap());
                continue;
            }
            if !cur.is_empty() {
                out.push((std::mem::take(&mut cur), sentence));
                sentence = false;
            }
            let ends = matches!(c, '.' | '!' | '?') && chars.get(i + 1).is_none_or(|&n| n.is_ascii() && is_ascii_ws(n as u8));
            sentence |= ends;
        }
        if !cur.is_empty() {
            out.push((cur, sentence));
        }
        out
    }

    proptest! {
        #[test]
        fn tokens_equal_the_plain_reading(text in "(?s)[a-zA-Z0-9 .!?\\t\\r\\n\\x0b\\x0c_,\\-ÀÉ×ÞßàéİΣσ東京😀\\u{2000}\\u{00A0}\\u{0300}]{0,200}") {
            prop_assert_eq!(read(&text), read_by_chars(&text));
        }

        #[test]
        fn tokens_equal_the_plain_reading_on_any_text(text in any::<String>()) {
            prop_assert_eq!(read(&text), read_by_chars(&text));
        }
    }

    /// Tokens and sentence flags of each range, read from `c`.
    fn read_lines(c: &Classified, lines: &[(usize, usize)]) -> Vec<Vec<(String, bool)>> {
        lines
            .iter()
            .map(|&(a, b)| {
                let mut out = Vec::new();
                let mut tokens = c.tokens(a, b);
                while let Some((s, e)) = tokens.next_token() {
                    let sentence = tokens.sentence_before(s);
                    out.push((String::from_utf8(c.low[s..e].to_vec()).unwrap(), sentence));
                }
                out
            })
            .collect()
    }

    proptest! {
        /// Classifying only some lines (after another text filled the buffers) reads
        /// those lines exactly as classifying the whole text does.
        #[test]
        fn classifying_some_lines_reads_them_as_the_whole_text(
            text in "(?s)[a-zA-Z0-9 .!?\\t\\r\\n_`ÀÉ×ÞßàéİΣσ東京😀\\u{00A0}]{0,400}",
            keep in proptest::collection::vec(any::<bool>(), 0..64),
            before in "[a-zA-Z .\\nÀ]{0,500}",
        ) {
            let mut lines = Vec::new();
            let mut start = 0;
            for (k, end) in text.match_indices('\n').map(|(i, _)| i).chain(std::iter::once(text.len())).enumerate() {
                if keep.get(k).copied().unwrap_or(true) {
                    lines.push((start, end));
                }
                start = end + 1;
            }
            let mut whole = Classified::default();
            whole.fill(&text);
            let mut some = Classified::default();
            some.fill(&before);
            some.fill_lines(&text, &lines);
            prop_assert_eq!(read_lines(&some, &lines), read_lines(&whole, &lines));
        }
    }

    #[test]
    fn tokens_cross_blocks_and_sentences_are_seen_between_them() {
        let long = "x".repeat(100);
        let text = format!("Ab. {long} Ünd? ÉÀ×Þ東京 end.");
        let got = read(&text);
        let words: Vec<&str> = got.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(words, ["ab", long.as_str(), "ünd", "éà", "þ東京", "end"]);
        let flags: Vec<bool> = got.iter().map(|&(_, f)| f).collect();
        assert_eq!(flags, [false, true, false, true, false, false]);
    }

    #[test]
    fn a_multi_byte_word_character_on_a_block_edge_is_one_token() {
        for shift in 0..70 {
            let text = format!("{}Àé東😀Ωz", " ".repeat(shift));
            // "àé東" and "Ωz" (the emoji is not a word character; Ω is not lowered),
            // whichever block edge falls inside them.
            let words: Vec<String> = read(&text).into_iter().map(|(w, _)| w).collect();
            assert_eq!(words, ["àé東", "Ωz"], "shift {shift}");
        }
    }
}
