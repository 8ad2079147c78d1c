//! Global ids of words of every response (content words for keywords and consensus,
//! recommendation keys for aggregation): built in parallel chunks of responses, then merged, with exactly the ids a single sequential
//! pass gives.
//!
//! Joining each response's distinct content words into one vocabulary is one hash probe
//! per (response, word) pair: about a tenth of an analysis call's instructions, and it
//! ran on one thread after the parallel scan (so on two threads it weighed about twice
//! that share of the wall time). Each chunk now interns its own responses on its own
//! thread; the merge probes only each chunk's distinct words (a few hundred).
//!
//! Ids are given in order of first occurrence (response by response, word by word). A
//! chunk's table numbers its words in that order within the chunk; merging chunks in
//! input order keeps an id for every word already seen and numbers the new ones in their
//! order within the chunk, which is their order of first occurrence overall. So the ids,
//! and everything computed from them, do not depend on how the responses were split.

use rayon::prelude::*;

use crate::analysis::Analysis;
use crate::intern::Interner;
use crate::packed;

/// The vocabulary of some words of every analysis, and each analysis's words in it.
pub(crate) struct GlobalIds<'a> {
    /// Global id -> the word.
    pub(crate) words: Vec<&'a str>,
    /// Global id -> how many of the listed words are it: for content words (distinct
    /// within a response) the number of responses that hold it.
    pub(crate) occurrences: Vec<u32>,
    /// Per analysis: the global id of each listed word, in the order listed.
    pub(crate) ids: Vec<Vec<u32>>,
}

/// Below this many listed words the join stays on the calling thread: waking rayon's
/// pool costs more than it saves.
const PARALLEL_MIN_WORDS: usize = 4096;

/// One sequential pass over `analyses`.
fn intern_chunk<'a, I: Iterator<Item = u32>>(analyses: &'a [Analysis], words_of: &impl Fn(&'a Analysis) -> I) -> GlobalIds<'a> {
    let mut interner = Interner::default();
    let mut occurrences: Vec<u32> = Vec::new();
    let ids = analyses
        .iter()
        .map(|a| {
            words_of(a)
                .map(|local| {
                    let (id, new) = interner.id_of(a, local);
                    if new {
                        occurrences.push(0);
                    }
                    debug_assert_eq!(occurrences.len(), interner.len());
                    // SAFETY: ids are below `interner.len()` and `occurrences` grows with
                    // every new id, so it has exactly that many entries.
                    unsafe { *occurrences.get_unchecked_mut(id as usize) += 1 };
                    id
                })
                .collect()
        })
        .collect();
    GlobalIds { words: interner.words, occurrences, ids }
}

/// The key `Interner` expects for a word: its packed form, or 0 when it is too long.
fn key_of(word: &str) -> u128 {
    if word.len() <= packed::MAX_LEN { packed::pack(word.as_bytes(), 0, word.len()) } else { 0 }
}

/// Global ids of the words `words_of` lists (local ids) for each analysis, numbered by
/// first occurrence.
pub(crate) fn global_ids<'a, I, F>(analyses: &'a [Analysis], words: usize, words_of: F) -> GlobalIds<'a>
where
    I: Iterator<Item = u32>,
    F: Fn(&'a Analysis) -> I + Sync,
{
    let threads = rayon::current_num_threads();
    if words < PARALLEL_MIN_WORDS || threads < 2 || analyses.len() < 2 {
        return intern_chunk(analyses, &words_of);
    }
    let chunk = analyses.len().div_ceil(threads);
    let chunks: Vec<GlobalIds<'a>> = analyses.par_chunks(chunk).map(|c| intern_chunk(c, &words_of)).collect();
    merge(chunks)
}

/// Each response's distinct content words (by first occurrence); `occurrences` is then
/// each word's document frequency. What keywords and consensus build first.
pub(crate) fn content_ids(analyses: &[Analysis]) -> GlobalIds<'_> {
    let words = analyses.iter().map(|a| a.content_counts.len()).sum();
    global_ids(analyses, words, content_words)
}

/// The content words' local ids: 0.. in the order of `content_counts` (analyses that keep
/// content words keep only them, renumbered so, `analysis::compact_content`). A range
/// and a slice iterate without a call per word (a flattening iterator did not: ~50
/// instructions per word on the profile).
fn content_words(a: &Analysis) -> std::ops::Range<u32> {
    debug_assert!(a.content_counts.iter().enumerate().all(|(k, &(local, _))| local as usize == k));
    0..a.content_counts.len() as u32
}

/// Every recommendation key's words, key after key.
#[cfg(test)] // aggregation joins its keys' words itself (`aggregate::global_keys`)
pub(crate) fn key_words(a: &Analysis) -> std::iter::Copied<std::slice::Iter<'_, u32>> {
    a.recommendation_key_ids().iter().copied()
}

/// The chunks' vocabularies joined in input order (see the module comment).
fn merge(chunks: Vec<GlobalIds<'_>>) -> GlobalIds<'_> {
    let mut global = Interner::default();
    let mut occurrences: Vec<u32> = Vec::new();
    let mut ids = Vec::with_capacity(chunks.iter().map(|c| c.ids.len()).sum());
    for c in chunks {
        let to_global: Vec<u32> = c
            .words
            .iter()
            .zip(&c.occurrences)
            .map(|(&w, &count)| {
                let (g, new) = global.id(w, key_of(w));
                if new {
                    occurrences.push(0);
                }
                occurrences[g as usize] += count;
                g
            })
            .collect();
        for mut v in c.ids {
            v.iter_mut().for_each(|id| *id = to_global[*id as usize]);
            ids.push(v);
        }
    }
    GlobalIds { words: global.words, occurrences, ids }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyze_one, analyze_one_with, Need, Scratch};

    /// Any split into chunks gives the ids, words and frequencies of one pass.
    #[test]
    fn chunked_ids_equal_one_pass() {
        let texts: Vec<String> = (0..23)
            .map(|i| {
                (0..(i * 7 % 40 + 1))
                    .map(|k| match (k + i) % 9 {
                        0 => format!("a-very-long-word-beyond-sixteen-bytes-{} ", k % 5),
                        1 => format!("you should w{}. ", k % 11),
                        _ => format!("w{} ", (k * 13 + i * 5) % if i % 2 == 0 { 60 } else { 17 }),
                    })
                    .collect()
            })
            .collect();
        let analyses: Vec<Analysis> = texts.iter().map(|t| analyze_one(t)).collect();
        let mut sc = Scratch::default();
        let with_keys: Vec<Analysis> = texts.iter().map(|t| analyze_one_with(t, &mut sc, Need::Recommendations)).collect();
        assert!(with_keys.iter().map(|a| key_words(a).count()).sum::<usize>() > 50);
        let one = intern_chunk(&analyses, &content_words);
        let one_keys = intern_chunk(&with_keys, &key_words);
        assert!(one.words.len() > 60);
        for size in [1, 2, 5, 22, 23] {
            let merged = merge(analyses.chunks(size).map(|c| intern_chunk(c, &content_words)).collect());
            assert_eq!(merged.words, one.words, "chunks of {size}");
            assert_eq!(merged.occurrences, one.occurrences, "chunks of {size}");
            assert_eq!(merged.ids, one.ids, "chunks of {size}");
            let merged = merge(with_keys.chunks(size).map(|c| intern_chunk(c, &key_words)).collect());
            assert_eq!(merged.words, one_keys.words, "key chunks of {size}");
            assert_eq!(merged.ids, one_keys.ids, "key chunks of {size}");
        }
    }
}
