//! analyze_responses (docs/algorithms.md, "Analysis"): twin of python/codeperf/engine/analysis.py.

use rayon::prelude::*;
use hashbrown::HashTable;
use rustc_hash::FxHasher;
use std::hash::Hasher;


use crate::document::{self, CodeBlock};
use crate::intern::{hash_str, Interner};
use crate::model::Response;
use crate::packed;
use crate::text::{is_content, lower_into, tokenize_line, word_classes, CERTAIN, HEDGE, RECOMMEND};

pub const TOP_KEYWORDS: usize = 10;

/// Byte range: of a token in the content, or of a distinct token in `Analysis::arena`.
pub(crate) type Span = (u32, u32);

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
    pub recommendations: Vec<String>,
    /// Per recommendation: its distinct content tokens as local ids, ascending.
    pub(crate) recommendation_keys: Vec<Vec<u32>>,
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
        if len <= packed::MAX_LEN { packed::pack(self.arena.as_bytes(), a as usize, len) } else { 0 }
    }

    #[inline]
    pub(crate) fn word(&self, local_id: u32) -> &str {
        let s = self.vocab[local_id as usize];
        &self.arena[s.0 as usize..s.1 as usize]
    }


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
    arena: &'a str,
    vocab: &'a [Span],
    flags: &'a [u8],
    texts: Vec<String>,
    keys: Vec<Vec<u32>>,
    /// Texts seen so far, by the hash of their token ids (indexes into `seen_ranges`).
    /// A text is its tokens joined by spaces and tokens hold no space, so two texts of
    /// one response are equal exactly when their local id sequences are: duplicates are
    /// found without building or hashing a string.
    seen: &'a mut HashTable<u32>,
    /// Each kept recommendation's ids, back to back, and its range there.
    seen_ids: &'a mut Vec<u32>,
    seen_ranges: &'a mut Vec<(u32, u32)>,
    seen_hashes: &'a mut Vec<u64>,
    key: &'a mut Vec<u32>,
}

impl Recommendations<'_> {
    fn add(&mut self, ids: &[u32]) {
        if !ids.iter().any(|&id| self.flags[id as usize] & CONTENT != 0) {
            return;
        }
        let mut hasher = FxHasher::default();
        for &id in ids {
            hasher.write_u32(id);
        }
        let h = hasher.finish();
        let (seen_ids, seen_ranges) = (&*self.seen_ids, &*self.seen_ranges);
        if self.seen.find(h, |&k| {
            let r = seen_ranges[k as usize];
            &seen_ids[r.0 as usize..r.1 as usize] == ids
        }).is_some() {
            return;
        }
        let word = |id: u32| {
            let s = self.vocab[id as usize];
            &self.arena[s.0 as usize..s.1 as usize]
        };
        let mut text = String::with_capacity(ids.iter().map(|&id| word(id).len() + 1).sum());
        for (i, &id) in ids.iter().enumerate() {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(word(id));
        }
        // Sorted and deduplicated in a reused buffer, then copied once at its exact size.
        self.key.clear();
        self.key.extend(ids.iter().copied().filter(|&id| self.flags[id as usize] & CONTENT != 0));
        self.key.sort_unstable();
        self.key.dedup();
        let key = self.key.to_vec();
        let k = self.seen_ranges.len() as u32;
        self.seen_ranges.push((self.seen_ids.len() as u32, (self.seen_ids.len() + ids.len()) as u32));
        self.seen_ids.extend_from_slice(ids);
        self.seen_hashes.push(h);
        let hashes = &*self.seen_hashes;
        self.seen.insert_unique(h, k, |&j| hashes[j as usize]);
        self.texts.push(text);
        self.keys.push(key);
    }
}

/// Buffers reused from one response to the next on the same thread.
#[derive(Default)]
pub(crate) struct Scratch {
    spans: Vec<Span>,
    needs_lower: Vec<bool>,
    sentence_ends: Vec<usize>,
    sentence_is_item: Vec<bool>,
    item_ranges: Vec<(usize, usize)>,
    /// Sentence ends of the current line, as span counts.
    bounds: Vec<usize>,
    table: HashTable<u32>,
    hashes: Vec<u64>,
    /// Local id -> the packed token (`packed`), or 0 for tokens longer than 16 bytes.
    keys: Vec<u128>,
    flags: Vec<u8>,
    ids: Vec<u32>,
    counts: Vec<u32>,
    token: String,
    /// `Recommendations`' dedup table and the ids it refers to.
    rec_table: HashTable<u32>,
    rec_ids: Vec<u32>,
    rec_ranges: Vec<(u32, u32)>,
    rec_hashes: Vec<u64>,
    /// Candidate recommendations (ranges of `ids`) and a key being built.
    rec_candidates: Vec<(usize, usize)>,
    rec_key: Vec<u32>,
}



thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Analyse one response, reusing this thread's scratch buffers.
pub fn analyze_one(content: &str) -> Analysis {
    SCRATCH.with(|sc| analyze_one_with(content, &mut sc.borrow_mut(), Need::All))
}

/// What a caller needs from an analysis: consensus needs only the content tokens, so it
/// skips building recommendation texts (less memory, less work; the rest is identical).
#[derive(Clone, Copy, PartialEq, Eq)]
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
    split_prose(content, &doc.prose_lines, sc);
    let (arena, vocab, counts) = intern_tokens(content, sc);
    match need {
        Need::ContentTokens => content_only(arena, vocab, counts, sc),
        Need::All => with_recommendations(doc.code_blocks, arena, vocab, counts, sc, true),
        Need::Recommendations => with_recommendations(Vec::new(), arena, vocab, counts, sc, false),
    }
}

/// Phase 1: token spans, sentence ends and list items of the prose lines, into `sc`.
/// The case mapping keeps word characters word characters and byte offsets fixed, so
/// tokens are found in the content itself and lowered one at a time when interned.
fn split_prose(content: &str, prose_lines: &[(usize, usize)], sc: &mut Scratch) {
    sc.spans.clear();
    sc.needs_lower.clear();
    sc.sentence_ends.clear();
    sc.sentence_is_item.clear();
    sc.item_ranges.clear();
    for &(ls, le) in prose_lines {
        // A list item is read without its marker ("1." is not a sentence) and is a
        // recommendation as a whole; other lines recommend sentence by sentence.
        let item = document::list_item(&content[ls..le]);
        let (bs, be) = match item {
            Some((a, b)) => (ls + a, ls + b),
            None => (ls, le),
        };
        let item_start = sc.spans.len();
        sc.bounds.clear();
        tokenize_line(content, bs, be, &mut sc.spans, &mut sc.needs_lower, &mut sc.bounds);
        sc.bounds.push(sc.spans.len());
        let mut from = item_start;
        for &to in &sc.bounds {
            if to > from {
                sc.sentence_ends.push(to);
                sc.sentence_is_item.push(item.is_some());
                from = to;
            }
        }
        if item.is_some() && sc.spans.len() > item_start {
            sc.item_ranges.push((item_start, sc.spans.len()));
        }
    }
}

/// Phases 2 and 3 at once: each token occurrence's local id into `sc.ids` (one
/// hash-table probe per occurrence; the word lists consulted once per distinct token,
/// into `sc.flags`), the marker counts and the content-token counts. Returns the
/// distinct lowered tokens back to back, their ranges, and the counts.
///
/// Tokens of at most 16 bytes are probed as packed integers (`packed`): compared with
/// one integer comparison, ASCII ones lowered in the integer. Longer ones (key 0 in
/// `sc.keys`, which no packed token equals) are compared as strings.
fn intern_tokens(content: &str, sc: &mut Scratch) -> (String, Vec<Span>, Counts) {
    sc.table.clear();
    sc.hashes.clear();
    sc.keys.clear();
    sc.flags.clear();
    sc.counts.clear();
    sc.ids.clear();
    sc.ids.reserve(sc.spans.len());
    let classes = word_classes();
    let bytes = content.as_bytes();
    let (mut hedging, mut certainty, mut content_len) = (0u64, 0u64, 0u64);
    // Sized for the usual share of distinct tokens, then trimmed to fit.
    let mut arena = String::with_capacity(content.len() / 2 + 16);
    let mut vocab: Vec<Span> = Vec::with_capacity(sc.spans.len() / 2 + 4);
    for (&s, &needs_lower) in sc.spans.iter().zip(&sc.needs_lower) {
        let (start, len) = (s.0 as usize, (s.1 - s.0) as usize);
        // The token's text, formed only off the hot path (slicing a str checks boundaries).
        let raw = || &content[start..s.1 as usize];
        let (key, h, found) = if len <= packed::MAX_LEN {
            let mut key = packed::pack(bytes, start, len);
            if needs_lower {
                key = if packed::is_ascii(key) {
                    packed::ascii_lower(key)
                } else {
                    lower_into(raw(), &mut sc.token);
                    packed::pack(sc.token.as_bytes(), 0, len)
                };
            }
            let h = packed::hash(key);
            let keys = &sc.keys;
            (key, h, sc.table.find(h, |&id| keys[id as usize] == key).copied())
        } else {
            let t: &str = if needs_lower {
                lower_into(raw(), &mut sc.token);
                &sc.token
            } else {
                raw()
            };
            let h = hash_str(t);
            let keys = &sc.keys;
            let found = sc.table.find(h, |&id| {
                let r = vocab[id as usize];
                keys[id as usize] == 0 && &arena.as_bytes()[r.0 as usize..r.1 as usize] == t.as_bytes()
            });
            (0, h, found.copied())
        };
        let id = match found {
            Some(id) => id,
            None => {
                // The lowered text, for the arena: the raw token unless the case mapping changes it.
                let t: &str = if !needs_lower {
                    raw()
                } else {
                    lower_into(raw(), &mut sc.token);
                    &sc.token
                };
                let id = vocab.len() as u32;
                vocab.push((arena.len() as u32, (arena.len() + t.len()) as u32));
                arena.push_str(t);
                sc.hashes.push(h);
                sc.keys.push(key);
                let f = if key != 0 { classes.get_packed(key) } else { 0 };
                sc.flags.push(if is_content(t, f) { f | CONTENT } else { f });
                sc.counts.push(0);
                let hashes = &sc.hashes;
                sc.table.insert_unique(h, id, |&k| hashes[k as usize]);
                id
            }
        };
        sc.ids.push(id);
        sc.counts[id as usize] += 1;
    }
    // Marker and content counts per distinct token rather than per occurrence.
    for (&f, &c) in sc.flags.iter().zip(&sc.counts) {
        let c = u64::from(c);
        hedging += if f & HEDGE != 0 { c } else { 0 };
        certainty += if f & CERTAIN != 0 { c } else { 0 };
        content_len += if f & CONTENT != 0 { c } else { 0 };
    }
    // Local ids are given in order of first occurrence, so ascending content ids are
    // the content tokens by first occurrence.
    let distinct_content = sc.flags.iter().filter(|&&f| f & CONTENT != 0).count();
    let mut content_counts = Vec::with_capacity(distinct_content);
    content_counts.extend(
        (0..vocab.len() as u32).filter(|&id| sc.flags[id as usize] & CONTENT != 0).map(|id| (id, sc.counts[id as usize])),
    );
    (arena, vocab, Counts { hedging, certainty, content_counts, content_len })
}

/// What phase 3 counts: marker occurrences and the content tokens.
struct Counts {
    hedging: u64,
    certainty: u64,
    /// (local id, occurrences) of each distinct content token, by first occurrence.
    content_counts: Vec<(u32, u32)>,
    content_len: u64,
}

/// Phase 4 for consensus: only the content words, in exactly sized buffers (consensus
/// holds every response's analysis at once, so this is most of its Rust heap). Code
/// blocks are dropped: consensus never reads them.
fn content_only(arena: String, vocab: Vec<Span>, counts: Counts, sc: &Scratch) -> Analysis {
    let Counts { hedging, certainty, mut content_counts, content_len } = counts;
    let bytes: usize = content_counts.iter().map(|&(id, _)| (vocab[id as usize].1 - vocab[id as usize].0) as usize).sum();
    let mut compact = String::with_capacity(bytes);
    let mut ranges = Vec::with_capacity(content_counts.len());
    for (k, pair) in content_counts.iter_mut().enumerate() {
        let r = vocab[pair.0 as usize];
        ranges.push((compact.len() as u32, (compact.len() + (r.1 - r.0) as usize) as u32));
        compact.push_str(&arena[r.0 as usize..r.1 as usize]);
        pair.0 = k as u32;
    }
    Analysis {
        token_count: sc.ids.len() as u64,
        sentence_count: sc.sentence_ends.len() as u64,
        recommendations: Vec::new(),
        recommendation_keys: Vec::new(),
        code_blocks: Vec::new(),
        hedging,
        certainty,
        unique_tokens: vocab.len() as u64,
        vocab: ranges,
        content_counts,
        content_len,
        arena: compact,
    }
}

/// Phase 4 for analysis and aggregation: every distinct token, and the recommendations
/// in reading order (a line's sentences, then, for a list item, the item).
fn with_recommendations(
    code_blocks: Vec<CodeBlock>,
    mut arena: String,
    mut vocab: Vec<Span>,
    counts: Counts,
    sc: &mut Scratch,
    keep_counts: bool,
) -> Analysis {
    arena.shrink_to_fit();
    vocab.shrink_to_fit();
    let Scratch {
        ids, flags, sentence_ends, sentence_is_item, item_ranges, rec_table, rec_ids, rec_ranges, rec_hashes,
        rec_candidates, rec_key, ..
    } = sc;
    // The candidates first (each line's recommending sentences, then a list item as a
    // whole), so the result vectors are allocated once at a size that fits.
    rec_candidates.clear();
    let mut start = 0;
    let mut items = item_ranges.iter().peekable();
    for (k, &end) in sentence_ends.iter().enumerate() {
        if !sentence_is_item[k] {
            if ids[start..end].iter().any(|&id| flags[id as usize] & RECOMMEND != 0) {
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
        arena: &arena,
        vocab: &vocab,
        flags,
        texts: Vec::with_capacity(rec_candidates.len()),
        keys: Vec::with_capacity(rec_candidates.len()),
        seen: rec_table,
        seen_ids: rec_ids,
        seen_ranges: rec_ranges,
        seen_hashes: rec_hashes,
        key: rec_key,
    };
    for &(a, b) in rec_candidates.iter() {
        recs.add(&ids[a..b]);
    }
    let Recommendations { texts, keys, .. } = recs;
    Analysis {
        token_count: ids.len() as u64,
        sentence_count: sentence_ends.len() as u64,
        recommendations: texts,
        recommendation_keys: keys,
        code_blocks,
        hedging: counts.hedging,
        certainty: counts.certainty,
        unique_tokens: vocab.len() as u64,
        vocab,
        content_counts: if keep_counts { counts.content_counts } else { Vec::new() },
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
    if !a.recommendations.is_empty() {
        score += 0.1;
    }
    if !a.code_blocks.is_empty() {
        score += 0.1;
    }
    score.max(0.0).min(1.0)
}

/// Top terms by TF-IDF over content tokens; ties broken by the term (code point order).
pub fn keywords(analyses: &[Analysis], top: usize) -> Vec<Keyword> {
    let n = analyses.len();
    // Intern each response's distinct content tokens once; per-term sums then follow
    // response order, exactly as the twin's.
    let mut interner = Interner::default();
    let mut doc_freq: Vec<u64> = Vec::new();
    let global: Vec<Vec<u32>> = analyses
        .iter()
        .map(|a| {
            a.content_counts
                .iter()
                .map(|&(local, _)| {
                    let (id, new) = interner.id(a.word(local), a.key(local));
                    if new {
                        doc_freq.push(0);
                    }
                    doc_freq[id as usize] += 1;
                    id
                })
                .collect()
        })
        .collect();
    let words = interner.words;
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
const PARALLEL_MIN_BYTES: usize = 64 * 1024;

pub(crate) fn analyze_all_for(responses: &[Response<'_>], need: Need) -> Vec<Analysis> {
    let one = |r: &Response<'_>| SCRATCH.with(|sc| analyze_one_with(r.content, &mut sc.borrow_mut(), need));
    if responses.iter().map(|r| r.content.len()).sum::<usize>() >= PARALLEL_MIN_BYTES {
        responses.par_iter().map(one).collect()
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
        assert_eq!(a.recommendations, vec!["you should use a pool", "cache results in redis"]);
        assert_eq!(a.sentence_count, 5);
        assert_eq!(a.hedging, 1);
        assert_eq!(a.certainty, 1);
        assert_eq!(a.code_blocks.len(), 1);
        assert!((heuristic_confidence(&a) - 0.7).abs() < 1e-12);
    }

    #[test]
    fn empty_content() {
        let a = analyze_one("");
        assert_eq!(a.token_count, 0);
        assert_eq!(heuristic_confidence(&a), 0.0);
        assert!(keywords(&[a], 10).is_empty());
    }
}
