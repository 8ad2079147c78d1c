//! analyze_responses (docs/algorithms.md, "Analysis"): twin of python/codeperf/engine/analysis.py.

use rayon::prelude::*;
use hashbrown::HashTable;
use rustc_hash::FxHasher;
use std::hash::Hasher;
use std::mem::take;

use crate::document::{self, CodeBlock};
use crate::global_ids::{self, GlobalIds};
use crate::intern::KeyTable;
use crate::model::Response;
use crate::packed;
use crate::classify::Classified;
use crate::text::{is_content, word_classes, CERTAIN, HEDGE, LONGEST_LISTED, RECOMMEND};

pub const TOP_KEYWORDS: usize = 10;

/// Byte range: of a token in the content, or of a distinct token in `Analysis::arena`.
pub(crate) type Span = (u32, u32);

/// Zero bytes after an analysis's last word in its arena: `Analysis::key` reads 16 bytes
/// from a word's start without a bounds check.
const ARENA_PAD: usize = packed::MAX_LEN;

/// Token classes: the word lists' bits, and CONTENT for tokens that carry meaning.
const CONTENT: u8 = 16;

/// What the engine reads from one response; shared by analysis, consensus and aggregation.
///
/// Tokens are interned per response (one hash lookup per token; the word lists are
/// consulted once per distinct token), so `vocab` holds each distinct token once.
#[derive(Debug)]
pub struct Analysis {
    /// The distinct tokens, lowered, back to back (a few percent of the content's size:
    /// the content itself is neither copied nor lowered as a whole).
    pub(crate) arena: String,
    pub token_count: u64,
    pub sentence_count: u64,
    /// The kept recommendations' texts back to back, and where each one ends (one
    /// allocation per response instead of two per recommendation). Analysis only.
    rec_text: String,
    rec_text_ends: Vec<u32>,
    /// Aggregation only: each kept recommendation's words as local ids, back to back,
    /// and where each one ends. Aggregation prints only the text of each merged group's
    /// first member, so texts are joined for those alone (`recommendation_text`).
    rec_words: Vec<u32>,
    rec_word_ends: Vec<u32>,
    /// Per recommendation: its distinct content tokens as local ids, ascending, back to
    /// back, and where each key ends.
    rec_key_ids: Vec<u32>,
    rec_key_ends: Vec<u32>,
    pub code_blocks: Vec<CodeBlock>,
    pub hedging: u64,
    pub certainty: u64,
    /// Local id -> the token's range in `arena` (all distinct tokens; content tokens
    /// only for `Need::ContentTokens`).
    pub(crate) vocab: Vec<Span>,
    pub unique_tokens: u64,
    /// (local id, occurrences) of each distinct content token, by first occurrence.
    pub(crate) content_counts: Vec<(u32, u32)>,
    /// Number of content-token occurrences.
    pub(crate) content_len: u64,
}

impl Analysis {
    /// The word's key for `intern::Interner` (its packed form, 0 when it does not pack),
    /// read straight from the arena.
    #[inline]
    pub(crate) fn key(&self, local_id: u32) -> u128 {
        let (a, b) = self.vocab[local_id as usize];
        let len = (b - a) as usize;
        if len > packed::MAX_LEN {
            return 0;
        }
        debug_assert!(a as usize + packed::MAX_LEN <= self.arena.len());
        // SAFETY: `vocabulary` ends the arena with ARENA_PAD bytes after its last word, so
        // 16 bytes from any word's start are in it (the global-id joins pack every word
        // of every response here: the checked load cost ~6 instructions a word).
        unsafe { packed::pack_within(self.arena.as_bytes(), a as usize, len) }
    }

    #[inline]
    pub(crate) fn word(&self, local_id: u32) -> &str {
        let s = self.vocab[local_id as usize];
        &self.arena[s.0 as usize..s.1 as usize]
    }

    /// The recommendations' texts, in reading order.
    pub fn recommendations(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        let ends = &self.rec_text_ends;
        (0..ends.len()).map(move |k| &self.rec_text[piece(ends, k)])
    }

    pub fn recommendation_count(&self) -> usize {
        self.rec_text_ends.len()
    }

    /// Aggregation: the text of the k-th recommendation, its words joined by spaces.
    #[cfg_attr(not(test), allow(dead_code))] // `recommend_scan`'s test reference
    pub(crate) fn recommendation_text(&self, k: usize) -> String {
        let ids = &self.rec_words[piece(&self.rec_word_ends, k)];
        let mut text = String::with_capacity(ids.iter().map(|&id| self.word(id).len() + 1).sum());
        for (i, &id) in ids.iter().enumerate() {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(self.word(id));
        }
        text
    }

    /// Every recommendation's key, key after key (`recommendation_keys` splits them).
    #[cfg_attr(not(test), allow(dead_code))] // `recommend_scan`'s test reference
    pub(crate) fn recommendation_key_ids(&self) -> &[u32] {
        &self.rec_key_ids
    }

    /// Each recommendation's key: its distinct content tokens as local ids, ascending.
    #[cfg_attr(not(test), allow(dead_code))] // `recommend_scan`'s test reference
    pub(crate) fn recommendation_keys(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        let ends = &self.rec_key_ends;
        (0..ends.len()).map(move |k| &self.rec_key_ids[piece(ends, k)])
    }
}

/// The k-th of pieces stored back to back, given where each one ends.
#[inline]
fn piece(ends: &[u32], k: usize) -> std::ops::Range<usize> {
    (if k == 0 { 0 } else { ends[k - 1] as usize })..ends[k] as usize
}

#[derive(Debug)]
pub struct Keyword {
    pub token: String,
    pub score: f64,
}

#[derive(Debug)]
pub struct AnalysisReport {
    pub analyses: Vec<Analysis>,
    pub keywords: Vec<Keyword>,
    pub total_tokens: u64,
}

/// The recommendations of one response as they are found, deduplicated by text.
struct Recommendations<'a> {
    /// The lowered text and where each distinct word first occurs in it (by local id):
    /// texts are built from these, so analysis needs no arena of every word.
    low: &'a [u8],
    words: &'a [Word],
    flags: &'a [u8],
    /// Texts and keys are built in this thread's reused buffers (grown once, not per
    /// response: growing fresh ones reallocated about ten times per response), then
    /// copied once at their exact size.
    text: &'a mut Vec<u8>,
    text_ends: Vec<u32>,
    key_ids: &'a mut Vec<u32>,
    key_ends: Vec<u32>,
    /// Whether keys are built (aggregation reads them, analysis does not).
    want_keys: bool,
    /// Texts seen so far, by the hash of their token ids (indexes into `seen_ranges`).
    /// A text is its tokens joined by spaces and tokens hold no space, so two texts of
    /// one response are equal exactly when their local id sequences are: duplicates are
    /// found without building or hashing a string.
    seen: &'a mut HashTable<u32>,
    /// Each kept recommendation's ids, back to back, and its range there.
    seen_ids: &'a mut Vec<u32>,
    seen_ranges: &'a mut Vec<(u32, u32)>,
    seen_hashes: &'a mut Vec<u64>,
}

impl Recommendations<'_> {
    fn add(&mut self, ids: &[u32]) {
        let mut hasher = FxHasher::default();
        let mut content = false;
        let mut bytes = ids.len();
        for &id in ids {
            hasher.write_u32(id);
            debug_assert!((id as usize) < self.flags.len() && self.flags.len() == self.words.len());
            // SAFETY: local ids are below `words.len()`, which is `flags.len()`.
            let (flags, word) = unsafe { (*self.flags.get_unchecked(id as usize), self.words.get_unchecked(id as usize)) };
            content |= flags & CONTENT != 0;
            bytes += word.len as usize;
        }
        if !content {
            return;
        }
        let h = hasher.finish();
        let (seen_ids, seen_ranges) = (&*self.seen_ids, &*self.seen_ranges);
        if self.seen.find(h, |&k| {
            let r = seen_ranges[k as usize];
            &seen_ids[r.0 as usize..r.1 as usize] == ids
        }).is_some() {
            return;
        }
        if self.want_keys {
            // Aggregation: the key, and the words (`seen_ids`) instead of the text.
            self.add_key(ids);
        } else {
            self.add_text(ids, bytes);
        }
        let k = self.seen_ranges.len() as u32;
        self.seen_ranges.push((self.seen_ids.len() as u32, (self.seen_ids.len() + ids.len()) as u32));
        self.seen_ids.extend_from_slice(ids);
        self.seen_hashes.push(h);
        let hashes = &*self.seen_hashes;
        self.seen.insert_unique(h, k, |&j| hashes[j as usize]);
    }

    /// The text: the words joined by spaces (`bytes` long); a word of at most 16 bytes is
    /// copied as 16 bytes of the lowered text and cut to length (no call to memcpy for a
    /// few bytes; `low` has `classify::PAD` bytes after the text).
    fn add_text(&mut self, ids: &[u32], bytes: usize) {
        self.text.reserve(bytes + packed::MAX_LEN);
        for (i, &id) in ids.iter().enumerate() {
            if i > 0 {
                self.text.push(b' ');
            }
            debug_assert!((id as usize) < self.words.len());
            // SAFETY: local ids are below `words.len()` (see `add`).
            let w = unsafe { *self.words.get_unchecked(id as usize) };
            let (start, len) = (w.start as usize, w.len as usize);
            if len <= packed::MAX_LEN {
                let end = self.text.len() + len;
                debug_assert!(start + packed::MAX_LEN <= self.low.len());
                // SAFETY: a word is a token of the text, which `low` follows with
                // `classify::PAD` (32) bytes: 16 bytes from its start are in `low`.
                self.text.extend_from_slice(unsafe { self.low.get_unchecked(start..start + packed::MAX_LEN) });
                self.text.truncate(end);
            } else {
                self.text.extend_from_slice(&self.low[start..start + len]);
            }
        }
        self.text_ends.push(self.text.len() as u32);
    }

    /// The key: content ids sorted and deduplicated in place at the end of `key_ids`.
    fn add_key(&mut self, ids: &[u32]) {
        let from = self.key_ids.len();
        self.key_ids.extend(ids.iter().copied().filter(|&id| self.flags[id as usize] & CONTENT != 0));
        self.key_ids[from..].sort_unstable();
        let mut kept = from;
        for k in from..self.key_ids.len() {
            if kept == from || self.key_ids[k] != self.key_ids[kept - 1] {
                self.key_ids[kept] = self.key_ids[k];
                kept += 1;
            }
        }
        self.key_ids.truncate(kept);
        self.key_ends.push(kept as u32);
    }
}

/// Buffers reused from one response to the next on the same thread.
#[derive(Default)]
pub(crate) struct Scratch {
    sentence_ends: Vec<usize>,
    sentence_is_item: Vec<bool>,
    item_ranges: Vec<(usize, usize)>,
    /// The response's bytes, lowered and classified (`classify`).
    classified: Classified,
    table: KeyTable,
    /// The distinct tokens by local id (first occurrence).
    words: Vec<Word>,
    /// Local id -> the token's classes (`text`'s list bits, CONTENT).
    flags: Vec<u8>,
    /// `vocabulary`'s arena, ranges and content counts while they are built.
    arena_buf: Vec<u8>,
    vocab_buf: Vec<Span>,
    counts_buf: Vec<(u32, u32)>,
    /// Each token occurrence's local id, in reading order (not kept for consensus).
    ids: Vec<u32>,
    /// Number of tokens in the prose.
    token_count: usize,
    /// `Recommendations`' dedup table and the ids it refers to.
    rec_table: HashTable<u32>,
    rec_ids: Vec<u32>,
    rec_ranges: Vec<(u32, u32)>,
    rec_hashes: Vec<u64>,
    /// Candidate recommendations (ranges of `ids`).
    rec_candidates: Vec<(usize, usize)>,
    /// `Recommendations`' texts and keys while they are built.
    rec_text: Vec<u8>,
    rec_key_ids: Vec<u32>,
}



thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Analyse one response, reusing this thread's scratch buffers.
pub fn analyze_one(content: &str) -> Analysis {
    SCRATCH.with(|sc| analyze_one_with(content, &mut sc.borrow_mut(), Need::All))
}

/// What a caller needs from an analysis: consensus needs only the content tokens, so it
/// skips building recommendation texts and reading sentences (less memory, less work;
/// its analyses' `sentence_count` is 0, the rest is identical).
#[derive(Clone, Copy, PartialEq, Eq)]
// Aggregation now reads `recommend_scan`; `Recommendations` is kept as the reference its
// tests compare with (and dead outside tests) until the full scan's changes settle.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum Need {
    All,
    ContentTokens,
    /// Aggregation: recommendations, their keys and the words they name; no content
    /// counts, per-word hashes (recomputed) or code blocks.
    Recommendations,
}

/// One response's analysis, phase by phase: find tokens and sentences in the prose,
/// intern them, count them, then keep what the caller needs.
pub(crate) fn analyze_one_with(content: &str, sc: &mut Scratch, need: Need) -> Analysis {
    let doc = document::parse(content);
    if need == Need::ContentTokens {
        scan_prose::<false>(content, &doc.prose_lines, sc);
    } else {
        scan_prose::<true>(content, &doc.prose_lines, sc);
    }
    let (arena, vocab, counts) = vocabulary(sc, need);
    match need {
        Need::ContentTokens => content_only(arena, vocab, counts, sc),
        Need::All => with_recommendations(doc.code_blocks, arena, vocab, counts, sc, need),
        Need::Recommendations => with_recommendations(Vec::new(), arena, vocab, counts, sc, need),
    }
}

/// A distinct token of the response being read: where it first occurs (in the lowered
/// text) and how often it occurs. New tokens cost one push of this (profiled: five
/// vectors grown per new token cost about 120 instructions each, and 40 % of tokens are
/// new in a 2 KB answer); their texts, classes and keys are built after the scan, in
/// one tight loop (`vocabulary`).
#[derive(Clone, Copy)]
struct Word {
    start: u32,
    len: u32,
    count: u32,
}

/// Phases 1 and 2 in one pass over the prose: the text is classified once
/// (`classify`), then tokens, sentence ends and list items are read line by line, and
/// each token is interned as it is found (its local id into `ids`), so no list of token
/// spans is built in between.
///
/// The case mapping keeps word characters word characters and byte offsets fixed, so
/// tokens are found and hashed in the lowered copy, already lowered.
///
/// Consensus (`STRUCTURE` false) reads only the words and their counts: the scan then
/// keeps no id per token and no sentences or list items, only the token count.
///
/// Not inlined: each of the two variants is a function of its own, so the register
/// allocation of one loop does not move with changes to the other or to the callers.
#[inline(never)]
fn scan_prose<const STRUCTURE: bool>(content: &str, prose_lines: &[(usize, usize)], sc: &mut Scratch) {
    // The vectors written per token are moved out of the scratch for the scan: as
    // locals, their lengths and pointers stay in registers (through `&mut` fields they
    // were reloaded and stored around every push).
    let (mut ids, mut words, mut table) = (take(&mut sc.ids), take(&mut sc.words), take(&mut sc.table));
    let Scratch { classified, sentence_ends, sentence_is_item, item_ranges, .. } = sc;
    classified.fill_lines(content, prose_lines);
    sentence_ends.clear();
    sentence_is_item.clear();
    item_ranges.clear();
    table.clear();
    ids.clear();
    words.clear();
    // Tokens are at least one byte and separated by at least one: the pushes below never
    // grow these twice per response.
    let most = content.len() / 2 + 1;
    if STRUCTURE {
        ids.reserve(most);
    }
    words.reserve(most);
    let mut token_count = 0usize;
    // The lowered text as a local slice: read through `classified` it was reloaded (two
    // dependent loads) for every token.
    let low: &[u8] = &classified.low;
    for &(ls, le) in prose_lines {
        // A list item is read without its marker ("1." is not a sentence) and is a
        // recommendation as a whole; other lines recommend sentence by sentence.
        let item = document::list_item(&content[ls..le]);
        let (bs, be) = match item {
            Some((a, b)) => (ls + a, ls + b),
            None => (ls, le),
        };
        // Both ends border a byte that is no word character (white space, a line break,
        // the text's ends), as `Classified::tokens` needs.
        if !STRUCTURE {
            let mut tokens = classified.tokens(bs, be);
            while let Some((s, e)) = tokens.next_token() {
                intern(&mut table, &mut words, low, s, e);
                token_count += 1;
            }
            continue;
        }
        let item_start = ids.len();
        let mut from = item_start;
        let mut tokens = classified.tokens(bs, be);
        while let Some((s, e)) = tokens.next_token() {
            // A sentence ended since the previous token: empty sentences (a sentence end
            // before the line's first token, or repeated ones) are none.
            if tokens.sentence_before(s) && ids.len() > from {
                sentence_ends.push(ids.len());
                sentence_is_item.push(item.is_some());
                from = ids.len();
            }
            let id = intern(&mut table, &mut words, low, s, e);
            debug_assert!(ids.len() < ids.capacity());
            // SAFETY: `ids` was given room for `most` ids, more than the text has tokens
            // (each is at least one byte, followed by one that is not in it), so the write
            // is within its capacity (a push checked it and kept the capacity live).
            unsafe {
                ids.as_mut_ptr().add(ids.len()).write(id);
                ids.set_len(ids.len() + 1);
            }
        }
        let line_end = ids.len();
        if line_end > from {
            sentence_ends.push(line_end);
            sentence_is_item.push(item.is_some());
        }
        if item.is_some() && line_end > item_start {
            item_ranges.push((item_start, line_end));
        }
    }
    sc.token_count = if STRUCTURE { ids.len() } else { token_count };
    (sc.ids, sc.words, sc.table) = (ids, words, table);
}

/// The local id of the token `low[s..e]` (new tokens get the next id).
///
/// Tokens of at most 16 bytes are probed as packed integers (`packed`): compared with
/// one integer comparison. Longer ones are probed by a hash of their text
/// (`intern::long_key`) and compared as strings.
#[inline(always)]
fn intern(table: &mut KeyTable, words: &mut Vec<Word>, low: &[u8], s: usize, e: usize) -> u32 {
    let len = e - s;
    if len > packed::MAX_LEN {
        return intern_long(table, words, low, s, e);
    }
    // SAFETY: tokens lie in the text (`Classified::tokens`), and `low` holds
    // `classify::PAD` (32) bytes after it, so 16 bytes from a token's start are in `low`;
    // 1 <= len <= 16 (tokens are not empty; longer ones went to `intern_long`).
    let key = unsafe { packed::pack_within(low, s, len) };
    // A packed key is never a long one: `same` is not called.
    let (id, new) = table.get_or_insert(key, words.len() as u32, |_| false);
    if new {
        words.push(Word { start: s as u32, len: len as u32, count: 1 });
    } else {
        debug_assert!((id as usize) < words.len());
        // SAFETY: the table holds only ids it was given as `words.len()` just before the
        // word was pushed (here or in `intern_long`; both are cleared together), so every
        // id it returns indexes `words`.
        unsafe { words.get_unchecked_mut(id as usize) }.count += 1;
    }
    id
}

/// `intern` for a token longer than 16 bytes (rare).
#[inline(never)]
fn intern_long(table: &mut KeyTable, words: &mut Vec<Word>, low: &[u8], s: usize, e: usize) -> u32 {
    let (id, new) = table.get_or_insert_long(low, s, e, words.len() as u32, |id| {
        let w = words[id as usize];
        (w.start as usize, (w.start + w.len) as usize)
    });
    if new {
        words.push(Word { start: s as u32, len: (e - s) as u32, count: 1 });
    } else {
        words[id as usize].count += 1;
    }
    id
}

/// What phase 3 counts: marker occurrences and the content tokens.
struct Counts {
    hedging: u64,
    certainty: u64,
    /// (local id, occurrences) of each distinct content token, by first occurrence.
    content_counts: Vec<(u32, u32)>,
    content_len: u64,
}

/// Phase 3: the distinct tokens' classes (the word lists consulted once per distinct
/// token) and counts, and their lowered texts back to back in an exactly sized arena,
/// with their ranges. For analysis and consensus only the content tokens are kept,
/// numbered by first occurrence: consensus holds every response's analysis at once, so
/// this is most of its Rust heap.
///
/// One pass over the words into this thread's reused buffers, then one exact-size copy
/// of each (profiled on the `code` family: two passes, with every word's packed key
/// stored in between and pushed into fresh vectors, cost ~160 instructions per
/// distinct word).
fn vocabulary(sc: &mut Scratch, need: Need) -> (String, Vec<Span>, Counts) {
    let Scratch { classified, words, flags, arena_buf, vocab_buf, counts_buf, .. } = sc;
    let low = &classified.low[..];
    let classes = word_classes();
    // Analysis and consensus keep only the content words (numbered by first occurrence);
    // aggregation keeps every word, as its recommendation keys name them by local id.
    let content_only = need != Need::Recommendations;
    let want_counts = need != Need::Recommendations;
    // As locals, their lengths and pointers stay in registers through the loop.
    let (mut arena, mut vocab, mut counts) = (take(arena_buf), take(vocab_buf), take(counts_buf));
    flags.clear();
    arena.clear();
    vocab.clear();
    counts.clear();
    vocab.reserve(words.len());
    counts.reserve(if want_counts { words.len() } else { 0 });
    // Distinct words are distinct ranges of the text: their bytes fit in its length (which
    // `low` exceeds), plus one 16-byte copy's overrun.
    arena.reserve(low.len() + packed::MAX_LEN);
    // The classes first, in a loop of their own (an `extend` from an exact-size
    // iterator: no capacity check per word, and few live values).
    let (mut hedging, mut certainty, mut content_len) = (0u64, 0u64, 0u64);
    flags.extend(words.iter().map(|w| {
        let (start, len) = (w.start as usize, w.len as usize);
        debug_assert!(start + len.max(packed::MAX_LEN) <= low.len());
        // SAFETY: a word is a token of the text (`scan_prose`), and `low` holds
        // `classify::PAD` (32) bytes after it: its bytes, and 16 from its start, are in
        // `low` (the checks cost ~10 instructions per distinct word).
        let word = unsafe { low.get_unchecked(start..start + len) };
        // Only words as short as the listed ones can be on a list (no packing, hash or
        // probe for the others); few words are, so the marker counts are behind a branch.
        let listed = if len <= LONGEST_LISTED {
            // SAFETY: as above, the 16 bytes from the word's start are in `low`.
            classes.get_packed(unsafe { packed::pack_within(low, start, len) })
        } else {
            0
        };
        if listed & (HEDGE | CERTAIN) != 0 {
            let c = u64::from(w.count);
            hedging += if listed & HEDGE != 0 { c } else { 0 };
            certainty += if listed & CERTAIN != 0 { c } else { 0 };
        }
        if is_content(word, listed) { listed | CONTENT } else { listed }
    }));
    for (w, &f) in words.iter().zip(flags.iter()) {
        let content = f & CONTENT != 0;
        if content_only && !content {
            continue;
        }
        if content {
            content_len += u64::from(w.count);
            if want_counts {
                // Local ids are given in order of first occurrence (and renumbered so when
                // only content tokens are kept): these are the content tokens by first
                // occurrence, each with its id (the index of its range in `vocab`).
                counts.push((vocab.len() as u32, w.count));
            }
        }
        let (start, len) = (w.start as usize, w.len as usize);
        let from = arena.len();
        if len <= packed::MAX_LEN {
            // One fixed-size copy, then cut to length (no call to memcpy for a few bytes;
            // `low` has `classify::PAD` bytes after the text, the arena 16 spare).
            // SAFETY: as above, 16 bytes from a word's start are in `low`.
            arena.extend_from_slice(unsafe { low.get_unchecked(start..start + packed::MAX_LEN) });
            arena.truncate(from + len);
        } else {
            arena.extend_from_slice(&low[start..start + len]);
        }
        vocab.push((from as u32, (from + len) as u32));
    }
    arena.extend_from_slice(&[0u8; ARENA_PAD]);
    let out = (words_to_string(arena.to_vec()), vocab.to_vec(), Counts { hedging, certainty, content_counts: counts.to_vec(), content_len });
    (*arena_buf, *vocab_buf, *counts_buf) = (arena, vocab, counts);
    out
}

/// Phase 4 for consensus: only the content words (`vocabulary` kept just those, in
/// exactly sized buffers). Code blocks are dropped: consensus never reads them.
fn content_only(arena: String, vocab: Vec<Span>, counts: Counts, sc: &Scratch) -> Analysis {
    let Counts { hedging, certainty, content_counts, content_len } = counts;
    Analysis {
        token_count: sc.token_count as u64,
        sentence_count: sc.sentence_ends.len() as u64,
        rec_text: String::new(),
        rec_text_ends: Vec::new(),
        rec_words: Vec::new(),
        rec_word_ends: Vec::new(),
        rec_key_ids: Vec::new(),
        rec_key_ends: Vec::new(),
        code_blocks: Vec::new(),
        hedging,
        certainty,
        unique_tokens: sc.words.len() as u64,
        vocab,
        content_counts,
        content_len,
        arena,
    }
}

/// Bytes made of whole words and ASCII spaces, as a `String` without validating them
/// again (validation cost ~1 instruction per byte on ASCII and several on other scripts,
/// for bytes that are valid by construction).
fn words_to_string(bytes: Vec<u8>) -> String {
    debug_assert!(std::str::from_utf8(&bytes).is_ok());
    // SAFETY: every caller (`vocabulary`, `with_recommendations`) builds `bytes` only by
    // concatenating (a) slices of the lowered text `Classified::low` at a word's range
    // (`Word`): the content is a `str`, the case mapping changes only ASCII capitals
    // and the second byte of two-byte Latin-1 capitals (C3 80..=9E -> C3 A0..=BE), each
    // into a character of the same length (`classify`), so the lowered text is valid
    // UTF-8 with the content's character boundaries, and a word is a run of whole
    // characters (`scan_prose`) (a word of at most 16 bytes is copied as 16 bytes from
    // its start and cut back to its length at once, before anything else is appended);
    // (b) ASCII spaces; and (c) zero bytes (`ARENA_PAD`). A concatenation of valid UTF-8
    // strings is valid UTF-8.
    unsafe { String::from_utf8_unchecked(bytes) }
}

/// Phase 4 for analysis and aggregation: the recommendations in reading order (a line's
/// sentences, then, for a list item, the item), their texts built from the lowered text
/// (`Word`). Aggregation (`Need::Recommendations`) keeps each one's
/// key and every distinct word (keys name them by local id); analysis (`Need::All`)
/// keeps only the content words and their counts, for the keywords (`vocabulary` built
/// just those): less Rust heap while every response's analysis is held (the memory goal
/// of issue #14).
fn with_recommendations(
    code_blocks: Vec<CodeBlock>,
    arena: String,
    vocab: Vec<Span>,
    counts: Counts,
    sc: &mut Scratch,
    need: Need,
) -> Analysis {
    let want_keys = need == Need::Recommendations;
    let Scratch {
        ids, flags, sentence_ends, sentence_is_item, item_ranges, rec_table, rec_ids, rec_ranges, rec_hashes,
        rec_candidates, rec_text, rec_key_ids, classified, words, ..
    } = sc;
    rec_text.clear();
    rec_key_ids.clear();
    // The candidates first (each line's recommending sentences, then a list item as a
    // whole), so the result vectors are allocated once at a size that fits.
    rec_candidates.clear();
    let mut start = 0;
    let mut items = item_ranges.iter().peekable();
    for (k, &end) in sentence_ends.iter().enumerate() {
        if !sentence_is_item[k] {
            debug_assert!(ids[start..end].iter().all(|&id| (id as usize) < flags.len()));
            // SAFETY: every id is a local id, below `words.len()`, which is `flags.len()`
            // (`vocabulary` gave each word its flags); unchecked, this loop over every
            // token of the prose's sentences is a load and a test per token.
            if ids[start..end].iter().any(|&id| unsafe { *flags.get_unchecked(id as usize) } & RECOMMEND != 0) {
                rec_candidates.push((start, end));
            }
        } else if let Some(&&(a, b)) = items.peek() {
            if end == b {
                rec_candidates.push((a, b));
                items.next();
            }
        }
        start = end;
    }
    rec_table.clear();
    rec_ids.clear();
    rec_ranges.clear();
    rec_hashes.clear();
    let mut recs = Recommendations {
        low: &classified.low,
        words,
        flags,
        text: rec_text,
        text_ends: Vec::with_capacity(rec_candidates.len()),
        key_ids: rec_key_ids,
        key_ends: Vec::with_capacity(if want_keys { rec_candidates.len() } else { 0 }),
        want_keys,
        seen: rec_table,
        seen_ids: rec_ids,
        seen_ranges: rec_ranges,
        seen_hashes: rec_hashes,
    };
    for &(a, b) in rec_candidates.iter() {
        recs.add(&ids[a..b]);
    }
    let Recommendations { text, text_ends, key_ids, key_ends, seen_ids, seen_ranges, .. } = recs;
    let rec_text = words_to_string(text.to_vec());
    let rec_key_ids = key_ids.to_vec();
    let (rec_words, rec_word_ends) = if want_keys {
        (seen_ids.to_vec(), seen_ranges.iter().map(|r| r.1).collect())
    } else {
        (Vec::new(), Vec::new())
    };
    let unique_tokens = words.len() as u64;
    let content_counts = counts.content_counts;
    Analysis {
        token_count: ids.len() as u64,
        sentence_count: sentence_ends.len() as u64,
        rec_text,
        rec_text_ends: text_ends,
        rec_words,
        rec_word_ends,
        rec_key_ids,
        rec_key_ends: key_ends,
        code_blocks,
        hedging: counts.hedging,
        certainty: counts.certainty,
        unique_tokens,
        vocab,
        content_counts,
        content_len: counts.content_len,
        arena,
    }
}

pub fn heuristic_confidence(a: &Analysis) -> f64 {
    if a.token_count == 0 {
        return 0.0;
    }
    let c = a.certainty as f64;
    let h = a.hedging as f64;
    let mut score = 0.5 + 0.3 * ((c - h) / ((a.certainty + a.hedging + 1) as f64));
    if a.recommendation_count() > 0 {
        score += 0.1;
    }
    if !a.code_blocks.is_empty() {
        score += 0.1;
    }
    score.clamp(0.0, 1.0) // never NaN: counts are finite and the divisor is at least 1
}

/// Top terms by TF-IDF over content tokens; ties broken by the term (code point order).
pub fn keywords(analyses: &[Analysis], top: usize) -> Vec<Keyword> {
    let n = analyses.len();
    // Each response's distinct content tokens get global ids (in parallel chunks); the
    // per-term sums then follow response order, exactly as the twin's.
    let GlobalIds { words, occurrences: doc_freq, ids: global } = global_ids::content_ids(analyses);
    let idf: Vec<f64> = doc_freq.iter().map(|&df| (((1 + n) as f64) / ((1 + df) as f64)).ln() + 1.0).collect();
    let mut score = vec![0.0f64; words.len()];
    for (a, g) in analyses.iter().zip(&global) {
        let length = a.content_len as f64;
        for (&(_, cnt), &id) in a.content_counts.iter().zip(g) {
            score[id as usize] += (cnt as f64 / length) * idf[id as usize];
        }
    }
    let mut ranked: Vec<(&str, f64)> = words.iter().copied().zip(score).collect();
    let cmp = |a: &(&str, f64), b: &(&str, f64)| crate::stats::order(b.1, a.1).then_with(|| a.0.cmp(b.0));
    if ranked.len() > top && top > 0 {
        ranked.select_nth_unstable_by(top - 1, cmp);
        ranked.truncate(top);
    }
    ranked.sort_unstable_by(cmp);
    ranked.truncate(top);
    ranked.into_iter().map(|(t, s)| Keyword { token: t.to_string(), score: s }).collect()
}

pub fn analyze_all(responses: &[Response<'_>]) -> Vec<Analysis> {
    analyze_all_for(responses, Need::All)
}

/// Below this much text, responses are analysed on the calling thread: waking rayon's
/// pool costs more than it saves, and makes small timings depend on the other core.
pub(crate) const PARALLEL_MIN_BYTES: usize = 64 * 1024;

/// Above it, rayon splits the responses into pieces of at least this many (about 16
/// KB of text at 2 KB each): a piece costs a job hand-off, and 100 responses on two
/// threads need a dozen pieces to balance, not one per response.
const PARALLEL_MIN_RESPONSES: usize = 8;

/// One response's analysis for `need`, on this thread's scratch buffers: consensus reads
/// responses one at a time and keeps only their term counts (`term_rows`).
pub(crate) fn analyze_one_for(content: &str, need: Need) -> Analysis {
    SCRATCH.with(|sc| analyze_one_with(content, &mut sc.borrow_mut(), need))
}

pub(crate) fn analyze_all_for(responses: &[Response<'_>], need: Need) -> Vec<Analysis> {
    per_response(responses, |r| analyze_one_for(r.content, need))
}

/// `one` of every response, in input order: on the calling thread below
/// `PARALLEL_MIN_BYTES` of text, else in rayon pieces of `PARALLEL_MIN_RESPONSES` or more.
pub(crate) fn per_response<T: Send>(responses: &[Response<'_>], one: impl Fn(&Response<'_>) -> T + Sync + Send) -> Vec<T> {
    if responses.iter().map(|r| r.content.len()).sum::<usize>() >= PARALLEL_MIN_BYTES {
        responses.par_iter().with_min_len(PARALLEL_MIN_RESPONSES).map(one).collect()
    } else {
        responses.iter().map(one).collect()
    }
}

pub fn analyze_responses(responses: &[Response<'_>]) -> AnalysisReport {
    let analyses = analyze_all(responses);
    let total_tokens = analyses.iter().map(|a| a.token_count).sum();
    let keywords = keywords(&analyses, TOP_KEYWORDS);
    AnalysisReport { analyses, keywords, total_tokens }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_structure() {
        let a = analyze_one(
            "You should use a pool.\n- Cache results in Redis\n1. Cache results in Redis\n```py\nx\n```\nIt might work. Definitely!",
        );
        assert_eq!(a.recommendations().collect::<Vec<_>>(), vec!["you should use a pool", "cache results in redis"]);
        assert_eq!(a.sentence_count, 5);
        assert_eq!(a.hedging, 1);
        assert_eq!(a.certainty, 1);
        assert_eq!(a.code_blocks.len(), 1);
        assert!((heuristic_confidence(&a) - 0.7).abs() < 1e-12);
    }

    /// Analysis holds only the content words (renumbered, with their counts) and no
    /// keys; aggregation holds every word and the keys that name them.
    #[test]
    fn each_need_keeps_what_it_reads() {
        let text = "You should use a pool. It is the pool of pools.";
        let a = analyze_one(text);
        let words: Vec<&str> = (0..a.vocab.len() as u32).map(|k| a.word(k)).collect();
        assert_eq!(words, ["should", "use", "pool", "pools"]);
        assert_eq!(a.content_counts, [(0, 1), (1, 1), (2, 2), (3, 1)]);
        assert_eq!((a.unique_tokens, a.content_len), (10, 5));
        assert_eq!(a.recommendations().collect::<Vec<_>>(), ["you should use a pool"]);
        assert_eq!(a.recommendation_keys().count(), 0);
        let g = analyze_one_with(text, &mut Scratch::default(), Need::Recommendations);
        assert_eq!((g.vocab.len(), g.unique_tokens), (10, 10));
        assert!(g.content_counts.is_empty());
        let key: Vec<&str> = g.recommendation_keys().next().unwrap().iter().map(|&k| g.word(k)).collect();
        assert_eq!(key, ["should", "use", "pool"]);
        assert_eq!(g.recommendation_count(), 0);
        assert_eq!(g.recommendation_text(0), "you should use a pool");
    }

    #[test]
    fn empty_content() {
        let a = analyze_one("");
        assert_eq!(a.token_count, 0);
        assert_eq!(heuristic_confidence(&a), 0.0);
        assert!(keywords(&[a], 10).is_empty());
    }
}
