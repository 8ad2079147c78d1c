//! Aggregation's reading of a response: its recommendations and their keys, and
//! nothing else (docs/algorithms.md, "Aggregation": candidates are "every response's
//! recommendations (as in analysis)").
//!
//! Aggregation never reads a response's token count, distinct tokens, sentence count,
//! marker counts, content counts or code blocks, so this scan does not compute them.
//! It interns (hash probe, distinct-word record, word-list lookup) only the tokens of
//! recommendation candidates: list items, and the sentences of other lines that hold a
//! recommending marker. Every other token costs its boundaries (read from the classify
//! masks) and, when it is as long as a marker (4 to 11 bytes), one multiplication and
//! one comparison against a perfect-hash table of the 11 markers. A sentence that turns
//! out to recommend is read a second time from its first token's start to its last
//! token's end, and its tokens interned then. On the corpus families 23-65 % of tokens
//! are in candidates (the rest were interned for nothing before).
//!
//! The result equals the full scan's (`analysis::analyze_one_with` with
//! `Need::Recommendations`, kept as the reference the tests compare with): the same
//! recommendations in the same order, deduplicated by their token-id sequences, with the
//! same keys. It is shaped for the merge alone (`Found`): each key as its words' packed
//! forms (`packed`), which the merge joins into global ids with one probe per word and
//! no text, and each recommendation as its byte range in the content, from which the
//! text is rebuilt only for the few that head a merged group. No arena of words, no
//! word ranges and no texts are built per response.

use hashbrown::HashTable;
use rustc_hash::FxHasher;
use std::hash::Hasher;
use memchr::memmem;
use std::mem::take;
use std::sync::OnceLock;


use crate::analysis::per_response;
use crate::classify::Classified;
use crate::document;
use crate::intern::KeyTable;
use crate::model::Response;
use crate::packed;
use crate::text::{is_ascii_ws, is_content, word_classes, LONGEST_LISTED, RECOMMEND_MARKERS};

/// The shortest and longest recommending markers ("must", "recommended"), in bytes.
const MARKER_MIN: usize = 4;
const MARKER_MAX: usize = 11;

/// Slots of the markers' perfect-hash table (a power of two).
const MARKER_BITS: u32 = 5;
const MARKER_SLOTS: usize = 1 << MARKER_BITS;

/// A marker's packed form (`packed`) at compile time.
const fn pack_const(w: &[u8]) -> u128 {
    let mut v = 0u128;
    let mut i = 0;
    while i < w.len() {
        v |= (w[i] as u128) << (8 * i);
        i += 1;
    }
    v
}

/// The slot of a packed token of `len` bytes: its first 8 bytes and its length (which
/// tells "recommend", "recommends" and "recommended" apart), multiplied.
#[inline(always)]
const fn marker_slot(key: u128, len: usize, mult: u64) -> usize {
    (((key as u64) ^ (len as u64)).wrapping_mul(mult) >> (64 - MARKER_BITS)) as usize
}

/// The first multiplier (from a fixed sequence) that puts every marker in a slot of its
/// own, and the table: each slot holds its marker's packed form, or 0 (no token packs
/// to 0). Computed by the compiler, so a lookup is one multiplication, one load and one
/// comparison, without probing.
const MARKER_TABLE: (u64, [u128; MARKER_SLOTS]) = {
    let mut mult: u64 = 0x9E37_79B9_7F4A_7C15;
    loop {
        let mut table = [0u128; MARKER_SLOTS];
        let mut ok = true;
        let mut i = 0;
        while i < RECOMMEND_MARKERS.len() {
            let w = RECOMMEND_MARKERS[i].as_bytes();
            assert!(w.len() >= MARKER_MIN && w.len() <= MARKER_MAX);
            let s = marker_slot(pack_const(w), w.len(), mult);
            if table[s] != 0 {
                ok = false;
            }
            table[s] = pack_const(w);
            i += 1;
        }
        if ok {
            break (mult, table);
        }
        mult = mult.wrapping_add(0x2545_F491_4F6C_DD1E) | 1;
    }
};

/// Whether the token `low[s..s + len]` is a recommending marker.
#[inline(always)]
fn is_marker(low: &[u8], s: usize, len: usize) -> bool {
    if !(MARKER_MIN..=MARKER_MAX).contains(&len) {
        return false;
    }
    // `low` has `classify::PAD` bytes after the text: one 16-byte load, masked.
    let key = packed::pack(low, s, len);
    MARKER_TABLE.1[marker_slot(key, len, MARKER_TABLE.0)] == key
}

/// One response's recommendations as the merge reads them.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Each kept recommendation's byte range in the content (its first token's start to
    /// its last token's end), in reading order.
    spans: Vec<(u32, u32)>,
    /// Each key's words (its distinct content tokens, in no particular order) back to
    /// back, each as a `WordKey`, and where each key ends.
    key_words: Vec<u128>,
    key_ends: Vec<u32>,
    /// Words longer than 16 bytes (lowered) back to back, and where each ends: a
    /// `WordKey` of such a word names its index here.
    long: String,
    long_ends: Vec<u32>,
}

/// A word of a key: its packed form (`packed`: its low byte is the word's first byte,
/// never 0), or, for a word longer than 16 bytes, its index in `Found::long` shifted up
/// one byte (low byte 0).
pub(crate) type WordKey = u128;

impl Found {
    /// Each kept recommendation's key, in reading order.
    pub(crate) fn keys(&self) -> impl ExactSizeIterator<Item = &[WordKey]> + '_ {
        (0..self.key_ends.len()).map(move |k| {
            let from = if k == 0 { 0 } else { self.key_ends[k - 1] as usize };
            &self.key_words[from..self.key_ends[k] as usize]
        })
    }

    /// The word of a `WordKey` whose low byte is 0 (a long word).
    pub(crate) fn long_word(&self, key: WordKey) -> &str {
        let k = (key >> 8) as usize;
        let from = if k == 0 { 0 } else { self.long_ends[k - 1] as usize };
        &self.long[from..self.long_ends[k] as usize]
    }

    /// The k-th recommendation's text: its tokens, lowered, joined by single spaces, read
    /// again from `content` (the response this was found in). Its range starts at a
    /// token's first byte and ends after a token's last, so it holds exactly the
    /// recommendation's tokens.
    /// Read with this thread's scratch (`text::tokens` allocated a classification and a
    /// string per token: ~4,800 instructions per text on the profile).
    pub(crate) fn text(&self, content: &str, k: usize) -> String {
        let (a, b) = self.spans[k];
        let range = &content[a as usize..b as usize];
        SCRATCH.with(|sc| {
            let c = &mut sc.borrow_mut().classified;
            c.fill(range);
            let mut text = String::with_capacity(range.len());
            let mut found = c.tokens(0, range.len());
            while let Some((s, e)) = found.next_token() {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(low_str(&c.low[s..e]));
            }
            text
        })
    }
}

/// Every response's `Found`, in input order (in parallel above `PARALLEL_MIN_BYTES` of
/// text, as analysis splits it).
pub(crate) fn find_all(responses: &[Response<'_>]) -> Vec<Found> {
    per_response(responses, |r| find_one(r.content))
}

/// A distinct word of the candidates being read: where it first occurs in the lowered
/// text, its length and whether it is a content token.
#[derive(Clone, Copy)]
struct Word {
    start: u32,
    len: u32,
    content: bool,
    /// The last candidate whose key took this word (`Scratch::add`; 0: none yet).
    mark: u32,
}

/// Buffers reused from one response to the next on the same thread.
#[derive(Default)]
struct Scratch {
    classified: Classified,
    table: KeyTable,
    /// The distinct words of the candidates, by local id (first occurrence).
    words: Vec<Word>,
    /// Local id -> the word's `WordKey`.
    keys: Vec<WordKey>,
    /// Words longer than 16 bytes, lowered, and where each ends (`Found::long`).
    long: String,
    long_ends: Vec<u32>,
    /// The candidates' byte ranges, in reading order.
    spans: Vec<(usize, usize)>,
    /// Where marker stems start (`stem_hits`).
    hits: Vec<u32>,
    /// The candidate being read, as local ids.
    ids: Vec<u32>,
    /// Kept recommendations: their words (local ids) back to back and where each ends
    /// (to find repeated ones), their ranges, their keys' words and where each ends.
    rec_words: Vec<u32>,
    rec_word_ends: Vec<u32>,
    rec_spans: Vec<(u32, u32)>,
    key_words: Vec<WordKey>,
    key_ends: Vec<u32>,
    /// Kept recommendations by the hash of their ids (indexes into `rec_word_ends`): a
    /// text is its words joined by spaces, so equal id sequences are equal texts.
    seen: HashTable<u32>,
    seen_hashes: Vec<u64>,
    /// Candidates read in this response (`Word::mark`).
    stamp: u32,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// One response's recommendations and keys, reusing this thread's buffers.
pub(crate) fn find_one(content: &str) -> Found {
    SCRATCH.with(|sc| find_with(content, &mut sc.borrow_mut(), None))
}

/// `reading`: how non-item lines are read (None: the cheaper one for this text).
fn find_with(content: &str, sc: &mut Scratch, reading: Option<Reading>) -> Found {
    let doc = document::parse(content);
    sc.classified.fill_lines(content, &doc.prose_lines);
    sc.table.clear();
    sc.words.clear();
    sc.keys.clear();
    sc.long.clear();
    sc.long_ends.clear();
    sc.rec_words.clear();
    sc.rec_word_ends.clear();
    sc.rec_spans.clear();
    sc.key_words.clear();
    sc.key_ends.clear();
    sc.seen.clear();
    sc.seen_hashes.clear();
    sc.stamp = 0;
    // The candidates in reading order: each line's recommending sentences, or a list
    // item as a whole, read without its marker. Reading tokens, their ranges are found
    // first, then each one read again to intern it.
    let (mut spans, mut hits) = (take(&mut sc.spans), take(&mut sc.hits));
    spans.clear();
    hits.clear();
    let prose = doc.prose_lines.iter().map(|&(ls, le)| le - ls).sum();
    let reading = reading.unwrap_or_else(|| Reading::for_text(content.len(), prose));
    if reading == Reading::Stems {
        // `fill_lines` lowers only the 64-byte blocks that hold prose: the others keep
        // what this thread read before. A stem spanning such stale bytes and a line's
        // first bytes would hide (memmem's matches do not overlap) a real stem starting
        // the line, so the bytes around each line are the text's own (line breaks, no
        // letters: no stem crosses them). Found by review: "ensur" left by one response
        // hid "Ensure" at a block's start in the next.
        let low = &mut sc.classified.low;
        for &(ls, le) in &doc.prose_lines {
            if ls > 0 {
                low[ls - 1] = content.as_bytes()[ls - 1];
            }
            if le < content.len() {
                low[le] = content.as_bytes()[le];
            }
        }
        stem_hits(&sc.classified.low[..content.len()], &mut hits);
    }
    if reading == Reading::Tokens {
        for &(ls, le) in &doc.prose_lines {
            match document::list_item(&content[ls..le]) {
                Some((a, b)) => spans.push((ls + a, ls + b)),
                None => recommending_sentences_by_tokens(&sc.classified, ls, le, &mut spans),
            }
        }
    } else {
        let mut next = 0;
        for &(ls, le) in &doc.prose_lines {
            // The stems in this line (lines ascend, so do hits): a line without one is
            // skipped unread, unless it is a list item.
            while next < hits.len() && (hits[next] as usize) < ls {
                next += 1;
            }
            let from = next;
            while next < hits.len() && (hits[next] as usize) < le {
                next += 1;
            }
            // Candidates are read as they are found (reading order, as `spans` keeps it).
            match document::list_item(&content[ls..le]) {
                Some((a, b)) => sc.candidate(ls + a, ls + b),
                None if from < next => sc.sentences_around(content.as_bytes(), (ls, le), &hits[from..next]),
                None => {}
            }
        }
    }
    sc.hits = hits;
    for &(a, b) in &spans {
        sc.candidate(a, b);
    }
    sc.spans = spans;
    sc.finish()
}

/// Substrings of which every marker holds one ("recommend" is in "recommended" and
/// "recommends", "suggest" in "suggests"): a sentence without one holds no marker.
const MARKER_STEMS: [&str; 8] = ["should", "recommend", "suggest", "must", "consider", "prefer", "avoid", "ensure"];

/// Where a marker stem starts in `low` (the lowered text), ascending: eight vectorised
/// substring searches (memchr's `memmem`, ~0.3 instructions per byte each on this text,
/// 2-3 for the eight). Searching runs of lines instead of the whole text cost more: the
/// searches' set-up per run outweighed the bytes of code and items left out.
fn stem_hits(low: &[u8], hits: &mut Vec<u32>) {
    static FINDERS: OnceLock<Vec<memmem::Finder<'static>>> = OnceLock::new();
    let finders = FINDERS.get_or_init(|| MARKER_STEMS.iter().map(|w| memmem::Finder::new(w.as_bytes())).collect());
    hits.clear();
    for f in finders {
        hits.extend(f.find_iter(low).map(|p| p as u32));
    }
    hits.sort_unstable();
}

/// How the sentences of non-item lines are read for markers (`find_with`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reading {
    /// Every token of every non-item line, tested against the markers.
    Tokens,
    /// Only the sentences around a marker stem (`stem_hits` over the whole text).
    Stems,
}

impl Reading {
    /// The cheaper reading for a text of `len` bytes whose prose lines (items included)
    /// hold `prose` bytes: the stem search costs 2-3 instructions per byte of the whole
    /// text, reading tokens ~35 per token of the non-item lines. Where most of the text
    /// is fenced code (the `code` family: 20-40 % prose) the search costs more than it
    /// saves (callgrind, aggregate on `code`: 5.52 M instructions reading tokens, 5.81 M
    /// with stems; `own` 8.60 M and 8.22 M). Both give the same result.
    fn for_text(len: usize, prose: usize) -> Reading {
        if 2 * prose >= len { Reading::Stems } else { Reading::Tokens }
    }
}

/// '.', '!' or '?' followed by ASCII white space or the text's end: a sentence end (as
/// `classify` marks them).
#[inline]
fn ends_sentence(bytes: &[u8], q: usize) -> bool {
    matches!(bytes[q], b'.' | b'!' | b'?') && bytes.get(q + 1).is_none_or(|&b| is_ascii_ws(b))
}

/// The sentence of the line `ls..le` (not a list item) around the byte `h`: from the byte
/// after the last sentence end before `h` (or the line's start) to the first sentence end
/// at or after it (or the line's end). That is the sentence the full scan cuts around the
/// token at `h` (`analysis::scan_prose`: sentences are the tokens between sentence
/// ends), and both ends border a byte that is no word character ('.', '!', '?', white
/// space, a line break), as `Classified::tokens` needs.
fn sentence_around(bytes: &[u8], (ls, le): (usize, usize), h: usize) -> (usize, usize) {
    let (mut start, mut from) = (ls, h);
    while let Some(p) = memchr::memrchr3(b'.', b'!', b'?', &bytes[ls..from]).map(|i| ls + i) {
        if ends_sentence(bytes, p) {
            start = p + 1;
            break;
        }
        from = p;
    }
    let (mut end, mut from) = (le, h);
    while let Some(q) = memchr::memchr3(b'.', b'!', b'?', &bytes[from..le]).map(|i| from + i) {
        if ends_sentence(bytes, q) {
            end = q;
            break;
        }
        from = q + 1;
    }
    (start, end)
}

/// The sentences of a line that is not a list item, each one holding a marker pushed to
/// `out` as (its first token's start, its last token's end), by reading every token.
/// Sentences are cut as `analysis::scan_prose` cuts them (a sentence end before the
/// line's first token, or repeated ones, make no empty sentence).
#[inline]
fn recommending_sentences_by_tokens(classified: &Classified, ls: usize, le: usize, out: &mut Vec<(usize, usize)>) {
    let low = &classified.low[..];
    // The sentence being read: its first token's start (usize::MAX before one), its last
    // token's end, and whether a marker was seen in it.
    let (mut first, mut last, mut marker) = (usize::MAX, 0, false);
    let mut tokens = classified.tokens(ls, le);
    while let Some((s, e)) = tokens.next_token() {
        if tokens.sentence_before(s) {
            if marker {
                out.push((first, last));
            }
            (first, marker) = (usize::MAX, false);
        }
        first = first.min(s);
        last = e;
        // Once a sentence recommends, its other tokens need no test.
        marker = marker || is_marker(low, s, e - s);
    }
    if marker {
        out.push((first, last));
    }
}

/// The local id of the token `low[s..e]` (new words get the next id); a new word's key
/// and content class are recorded once.
#[inline(always)]
fn intern(sc: &mut Interning<'_>, low: &[u8], s: usize, e: usize) -> u32 {
    let Interning { table, words, keys, .. } = sc;
    let len = e - s;
    let (key, id, new) = if len <= packed::MAX_LEN {
        let key = packed::pack(low, s, len);
        // A packed key is never a long one: `same` is not called.
        let (id, new) = table.get_or_insert(key, words.len() as u32, |_| false);
        (key, id, new)
    } else {
        let (id, new) = table.get_or_insert_long(low, s, e, words.len() as u32, |id| {
            let w = words[id as usize];
            (w.start as usize, (w.start + w.len) as usize)
        });
        if new {
            return new_long_word(sc, low, s, e);
        }
        (0, id, false)
    };
    if new {
        let listed = if len <= LONGEST_LISTED { word_classes().get_packed(key) } else { 0 };
        words.push(Word { start: s as u32, len: len as u32, content: is_content(&low[s..e], listed), mark: 0 });
        keys.push(key);
    }
    id
}

/// A new word longer than 16 bytes (rare): kept in `long`, its key its index there. A
/// long word is no listed word, so it is a content token.
#[inline(never)]
fn new_long_word(sc: &mut Interning<'_>, low: &[u8], s: usize, e: usize) -> u32 {
    let id = sc.words.len() as u32;
    sc.words.push(Word { start: s as u32, len: (e - s) as u32, content: true, mark: 0 });
    sc.keys.push((sc.long_ends.len() as u128) << 8);
    // SAFETY: see `low_str`.
    sc.long.push_str(low_str(&low[s..e]));
    sc.long_ends.push(sc.long.len() as u32);
    id
}

/// A word of the lowered text as `&str`, without validating it again.
fn low_str(word: &[u8]) -> &str {
    debug_assert!(std::str::from_utf8(word).is_ok());
    // SAFETY: `word` is a token's range of `Classified::low`: the content is a `str`, and
    // the case mapping changes only ASCII capitals and the second byte of two-byte
    // Latin-1 capitals (C3 80..=9E -> C3 A0..=BE), each into a character of the same
    // length, so the lowered text is valid UTF-8 with the content's character
    // boundaries; a token is a run of whole characters (`classify`).
    unsafe { std::str::from_utf8_unchecked(word) }
}

/// The per-response interning state `intern` updates (fields of `Scratch`, borrowed
/// apart from the lowered text it reads).
struct Interning<'a> {
    table: &'a mut KeyTable,
    words: &'a mut Vec<Word>,
    keys: &'a mut Vec<WordKey>,
    long: &'a mut String,
    long_ends: &'a mut Vec<u32>,
}

impl Scratch {
    /// The sentences of the line `ls..le` (not a list item) around the stems `hits`
    /// (ascending, in the line) that hold a marker, each kept as a candidate. A stem's
    /// sentence almost always recommends, so its tokens are interned as they are tested
    /// (one reading, not a test then a second reading to intern); a sentence without a
    /// marker after all ("preferred") is dropped, its words left unused.
    #[inline(never)]
    fn sentences_around(&mut self, bytes: &[u8], line: (usize, usize), hits: &[u32]) {
        // Sentences ending before this were read.
        let mut read_to = line.0;
        for &h in hits {
            if (h as usize) < read_to {
                continue;
            }
            let (start, end) = sentence_around(bytes, line, h as usize);
            read_to = end + 1;
            let mut ids = take(&mut self.ids);
            ids.clear();
            let Scratch { classified, table, words, keys, long, long_ends, .. } = self;
            let mut sc = Interning { table, words, keys, long, long_ends };
            let low = &classified.low[..];
            let (mut first, mut last, mut marker) = (usize::MAX, 0, false);
            let mut tokens = classified.tokens(start, end);
            while let Some((s, e)) = tokens.next_token() {
                first = first.min(s);
                last = e;
                marker = marker || is_marker(low, s, e - s);
                ids.push(intern(&mut sc, low, s, e));
            }
            if marker {
                self.add(&ids, first, last);
            }
            self.ids = ids;
        }
    }

    /// The tokens of `start..end` (both ends border a byte that is no word character) as
    /// one candidate: interned, then kept unless it has no content token or repeats one.
    fn candidate(&mut self, start: usize, end: usize) {
        let mut ids = take(&mut self.ids);
        ids.clear();
        let Scratch { classified, table, words, keys, long, long_ends, .. } = self;
        let mut sc = Interning { table, words, keys, long, long_ends };
        let mut tokens = classified.tokens(start, end);
        while let Some((s, e)) = tokens.next_token() {
            ids.push(intern(&mut sc, &classified.low, s, e));
        }
        if !ids.is_empty() {
            self.add(&ids, start, end);
        }
        self.ids = ids;
    }

    /// Keeps the candidate `ids` (its words and its key) unless it has no content token
    /// or the same words were already kept from this response.
    fn add(&mut self, ids: &[u32], start: usize, end: usize) {
        let mut hasher = FxHasher::default();
        let mut content = false;
        for &id in ids {
            hasher.write_u32(id);
            content |= self.words[id as usize].content;
        }
        if !content {
            return;
        }
        let h = hasher.finish();
        let (rec_words, ends) = (&self.rec_words, &self.rec_word_ends);
        let same = |&k: &u32| {
            let from = if k == 0 { 0 } else { ends[k as usize - 1] as usize };
            &rec_words[from..ends[k as usize] as usize] == ids
        };
        if self.seen.find(h, same).is_some() {
            return;
        }
        let k = self.rec_word_ends.len() as u32;
        self.rec_words.extend_from_slice(ids);
        self.rec_word_ends.push(self.rec_words.len() as u32);
        self.rec_spans.push((start as u32, end as u32));
        self.seen_hashes.push(h);
        let hashes = &self.seen_hashes;
        self.seen.insert_unique(h, k, |&j| hashes[j as usize]);
        // The key: each content word once, as its `WordKey`, in order of first occurrence
        // (the merge sorts keys by global id, so no sort here). A word's `mark` says it is
        // in this key already.
        self.stamp += 1;
        let stamp = self.stamp;
        for &id in ids {
            let w = &mut self.words[id as usize];
            if w.content && w.mark != stamp {
                w.mark = stamp;
                self.key_words.push(self.keys[id as usize]);
            }
        }
        self.key_ends.push(self.key_words.len() as u32);
    }

    /// The kept recommendations, copied at their exact sizes.
    fn finish(&mut self) -> Found {
        Found {
            spans: self.rec_spans.to_vec(),
            key_words: self.key_words.to_vec(),
            key_ends: self.key_ends.to_vec(),
            long: self.long.clone(),
            long_ends: self.long_ends.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyze_one_with, Need, Scratch as FullScratch};
    use crate::text::{CERTAINTY_MARKERS, HEDGING_MARKERS, STOPWORDS};
    use proptest::prelude::*;

    /// What aggregation reads of the full scan's analysis: each kept recommendation's
    /// text and its key's words (sorted: local ids differ between the scans).
    fn full_scan(text: &str) -> Vec<(String, Vec<String>)> {
        let a = analyze_one_with(text, &mut FullScratch::default(), Need::Recommendations);
        a.recommendation_keys()
            .enumerate()
            .map(|(k, key)| {
                let mut words: Vec<String> = key.iter().map(|&id| a.word(id).to_string()).collect();
                words.sort();
                (a.recommendation_text(k), words)
            })
            .collect()
    }

    /// The same, read from `Found`: texts from the content ranges, words from their keys.
    fn found(text: &str) -> Vec<(String, Vec<String>)> {
        let auto = found_by(text, None);
        for reading in [Reading::Tokens, Reading::Stems] {
            assert_eq!(found_by(text, Some(reading)), auto, "{reading:?}");
        }
        auto
    }

    fn found_by(text: &str, reading: Option<Reading>) -> Vec<(String, Vec<String>)> {
        let f = SCRATCH.with(|sc| find_with(text, &mut sc.borrow_mut(), reading));
        f.keys()
            .enumerate()
            .map(|(k, key)| {
                let mut words: Vec<String> = key
                    .iter()
                    .map(|&w| {
                        if w as u8 == 0 {
                            f.long_word(w).to_string()
                        } else {
                            let bytes: Vec<u8> = w.to_le_bytes().into_iter().take_while(|&b| b != 0).collect();
                            String::from_utf8(bytes).unwrap()
                        }
                    })
                    .collect();
                words.sort();
                (f.text(text, k), words)
            })
            .collect()
    }

    /// This scan's recommendations equal the full scan's.
    fn same_as_full_scan(text: &str) -> Result<(), TestCaseError> {
        prop_assert_eq!(found(text), full_scan(text), "{:?}", text);
        Ok(())
    }

    #[test]
    fn every_marker_holds_a_stem() {
        for m in RECOMMEND_MARKERS {
            assert!(MARKER_STEMS.iter().any(|s| m.contains(s)), "{m}");
        }
    }

    #[test]
    fn the_marker_table_knows_exactly_the_markers() {
        let listed: Vec<&str> = RECOMMEND_MARKERS.to_vec();
        let others = ["shoulder", "recommendation", "musts", "mus", "avoids", "ensured", "prefers", "considers"];
        let all = STOPWORDS.iter().chain(HEDGING_MARKERS).chain(CERTAINTY_MARKERS).chain(&listed).chain(&others);
        for w in all {
            let mut low = w.as_bytes().to_vec();
            low.resize(w.len() + 32, 0);
            assert_eq!(is_marker(&low, 0, w.len()), listed.contains(w), "{w}");
        }
    }

    #[test]
    fn reads_items_and_recommending_sentences() {
        let text = "You should use a pool. It is fine.\n- Cache results in Redis\n1. cache results in REDIS\n\
                    ```\nyou must not\n```\n- the a\nWe Recommend\nretries! Avoid it? No.";
        let texts: Vec<String> = found(text).into_iter().map(|(t, _)| t).collect();
        assert_eq!(texts, ["you should use a pool", "cache results in redis", "we recommend", "avoid it"]);
        same_as_full_scan(text).unwrap();
    }

    #[test]
    fn adversarial_cases() {
        let long = "x".repeat(70);
        for text in [
            "",
            "\n\n",
            "should",
            "Should. Should. should!",
            "you sho\nuld do it",
            "recommend\nrecommended recommends RECOMMENDED.",
            "```\nyou should\n```\nyou should not",
            "- a\n- i\n- the\n* 1\n+ ok",
            "- pool pool. pool\n- pool pool. pool",
            "Ensure ÀÉ straße 東京 works. Prefer İstanbul.",
            &format!("you should {long}. Avoid {long} and {long}x."),
            &format!("{long} must {long}\n1) {long} a"),
            "mustard should. avoidance avoid. ensured ensure",
            "e.g. you should. i.e. consider it...   .must",
        ] {
            same_as_full_scan(text).unwrap();
        }
    }

    /// Texts of sentences, list items, fences, markers in every case, short and long
    /// words and non-ASCII, so lines and sentences recommend or not at every position.
    fn text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "pool ", "cache ", "the ", "a ", "i ", "use ", "Should ", "should", "SHOULD ", "must ", "Recommend ",
            "recommended ", "recommends ", "suggest ", "suggests ", "consider ", "prefer ", "Avoid ", "ensure ",
            "shoulder ", "mustard ", "- ", "* ", "1. ", "22) ", "\n", "\r\n", ". ", "! ", "? ", ".", "  ", "\t",
            "```\n", "```py\n", "Straße ", "İstanbul ", "東京 ", "ÀÉÎ ", "😀 ", "\u{2000}", "x",
            "averyveryverylongwordindeed ", "averyveryverylongwordindeed2 ", "0123456789abcdefg ",
            "3.14 ", "e.g.", "?!", "!x", ".\t", "?\n", "mustmust ", "preferably ", "ensured. ",
        ]);
        prop::collection::vec(pieces, 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn equals_the_full_scan(text in text()) {
            same_as_full_scan(&text)?;
        }

        #[test]
        fn equals_the_full_scan_on_any_text(text in any::<String>()) {
            same_as_full_scan(&text)?;
        }
    }

    /// One thread's scratch read many responses in a row: nothing of one leaks into the
    /// next (the full scan uses a fresh scratch each time).
    #[test]
    fn reused_scratch_reads_each_response_alone() {
        let texts = ["You should use a pool.", "- pool", "- cache\nyou should cache", "", "Prefer redis. Prefer redis."];
        for round in 0..3 {
            for t in texts.iter().cycle().skip(round).take(7) {
                same_as_full_scan(t).unwrap();
            }
        }
        // A stem's first letters left in a block that the next response does not lower
        // (pure code) must not join a stem that starts that response's prose line at the
        // next block (the stem reading is chosen for this text: mostly prose).
        let leaves = format!("{}ensur x", "a".repeat(59));
        let then = format!("```\n{}\n```\nEnsure it works.\n{}", "x".repeat(55), "y ".repeat(50));
        assert_eq!(then.find("Ensure"), Some(64));
        let mut sc = Scratch::default();
        let fresh = find_with(&then, &mut Scratch::default(), Some(Reading::Stems));
        assert_eq!(fresh.spans.len(), 1);
        find_with(&leaves, &mut sc, Some(Reading::Stems));
        let after = find_with(&then, &mut sc, Some(Reading::Stems));
        assert_eq!(after.spans, fresh.spans);
        same_as_full_scan(&leaves).unwrap();
        same_as_full_scan(&then).unwrap();
    }
}
