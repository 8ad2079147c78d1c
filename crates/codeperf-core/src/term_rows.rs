//! Consensus's input: each response's content words as counts over one vocabulary, read
//! batch by batch, so that no more than a batch's worth of per-word data is alive besides
//! the rows the matrix is computed from.
//!
//! Consensus used to analyse every response, hold all the analyses (each response's
//! distinct words, their spans and counts), join their words into global ids and build a
//! term vector per response while the analyses were still alive: at 1,000 x 2 KB of code
//! that was 2.6 MB of Rust heap, 1.8 MB of it analyses (issue #14). Now each piece of a
//! batch (the pieces are read in parallel) analyses its responses one at a time, numbers
//! their words in a vocabulary of its own that owns its words, and keeps only (word,
//! count) pairs; an analysis lives only while its response is read. The pieces'
//! vocabularies are then joined into the call's, in input order, and each response's
//! counts are written as its row.
//!
//! The rows, for the cosine: dense rows of i16 counts over the whole vocabulary while
//! it stays small for the texts' length (at most three times the distinct words of the
//! average response so far: the rule the dense cosine is chosen by, `consensus`) and
//! every count fits an i16. They are then what the dot products read, and nothing else
//! per word is kept. Otherwise, and for the Jaccard (ids only), each response's ids (and
//! counts) back to back. Ids are numbered in the order the pieces' words are joined; the
//! matrix's values are exact integer ratios, so they do not depend on the numbering, on
//! the batches or on the representation.

use rayon::prelude::*;

use crate::analysis::{analyze_one_for, Need, PARALLEL_MIN_BYTES};
use crate::model::Response;
use crate::owned_vocabulary::OwnedVocabulary;

/// Up to this much text is read as one batch (100 x 2 KB is: one parallel pass, as
/// fast as reading without batches).
const ONE_BATCH_BYTES: usize = 256 * 1024;

/// Above it, each batch is a quarter of the text still to read, and at least this much:
/// a batch's pieces hold about 8 bytes per word of it, so the first, large batches are
/// read while few rows exist, and the last ones, beside almost all the rows, are small.
/// At 1,000 x 2 KB of code the pieces then never add much to the rows' peak (fixed
/// batches of 256 KB added 128 KB to it), and 14 parallel passes cost no measurable time.
const MIN_BATCH_BYTES: usize = 64 * 1024;

/// How much of the `remaining` text (of `total`) the next batch reads.
fn batch_bytes(total: usize, remaining: usize) -> usize {
    if total <= ONE_BATCH_BYTES {
        total
    } else {
        (remaining / 4).max(MIN_BATCH_BYTES)
    }
}

// Below `PARALLEL_MIN_BYTES` of text a batch is read on the calling thread (waking
// rayon's pool costs more than it saves): `analysis::analyze_all_for`'s threshold.

/// A parallel batch is cut into this many pieces per thread (at least 8 responses
/// each): enough to balance two threads, few enough that joining the pieces'
/// vocabularies (one probe per distinct word of each piece) stays small.
const PIECES_PER_THREAD: usize = 2;
const PIECE_MIN_RESPONSES: usize = 8;

/// Each response's ids (and counts) back to back.
#[derive(Default)]
pub(crate) struct Sparse {
    pub(crate) ids: Vec<u32>,
    /// Parallel to `ids`, or empty when counts are not kept (Jaccard).
    pub(crate) counts: Vec<u32>,
    /// Where each response's terms end in `ids`.
    ends: Vec<usize>,
}

impl Sparse {
    fn range(&self, i: usize) -> std::ops::Range<usize> {
        (if i == 0 { 0 } else { self.ends[i - 1] })..self.ends[i]
    }

    pub(crate) fn ids(&self, i: usize) -> &[u32] {
        &self.ids[self.range(i)]
    }

    pub(crate) fn counts(&self, i: usize) -> &[u32] {
        &self.counts[self.range(i)]
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    fn end_row(&mut self) {
        self.ends.push(self.ids.len());
    }

    /// `other`'s rows after these.
    fn append(&mut self, other: &Sparse) {
        let base = self.ids.len();
        self.ids.extend_from_slice(&other.ids);
        self.counts.extend_from_slice(&other.counts);
        self.ends.extend(other.ends.iter().map(|&e| base + e));
    }

    /// Terms from (ids, counts) per response, for tests.
    #[cfg(test)]
    pub(crate) fn from_rows(rows: &[(Vec<u32>, Vec<u32>)]) -> Sparse {
        let mut s = Sparse::default();
        for (ids, counts) in rows {
            s.ids.extend(ids);
            s.counts.extend(counts);
            s.end_row();
        }
        s
    }
}

/// Row-major counts: row i holds response i's count of each id below `width`.
pub(crate) struct Dense {
    pub(crate) counts: Vec<i16>,
    pub(crate) width: usize,
}

pub(crate) enum Rows {
    Dense(Dense),
    Sparse(Sparse),
}

/// Every response's content words, and what the matrix needs besides.
pub(crate) struct Terms {
    pub(crate) rows: Rows,
    /// Per response, for the cosine: the sum of its squared counts (exact).
    pub(crate) norms: Vec<u64>,
    /// Distinct content words of every response, summed.
    pub(crate) total_distinct: usize,
    /// Id -> how many responses hold the word.
    pub(crate) doc_freq: Vec<u32>,
}

/// A piece of a batch, read on one thread: its responses' terms, laid out as `Sparse`'s
/// but with ids in the piece's own vocabulary.
struct Piece {
    vocabulary: OwnedVocabulary,
    terms: Sparse,
}

fn read_piece(responses: &[Response<'_>], counts: bool) -> Piece {
    let (mut vocabulary, mut terms) = (OwnedVocabulary::default(), Sparse::default());
    for r in responses {
        let a = analyze_one_for(r.content, Need::ContentTokens);
        // A zip of a slice and a range: its length is known, so `extend` reserves once and
        // writes without a capacity check per word.
        terms.ids.extend(a.content_counts.iter().zip(0u32..).map(|(_, local)| vocabulary.id_of(&a, local)));
        if counts {
            terms.counts.extend(a.content_counts.iter().map(|&(_, c)| c));
        }
        terms.end_row();
    }
    Piece { vocabulary, terms }
}

fn read_batch(batch: &[Response<'_>], bytes: usize, counts: bool) -> Vec<Piece> {
    let threads = rayon::current_num_threads();
    if bytes < PARALLEL_MIN_BYTES || threads < 2 {
        return vec![read_piece(batch, counts)];
    }
    let piece = batch.len().div_ceil(threads * PIECES_PER_THREAD).max(PIECE_MIN_RESPONSES);
    batch.par_chunks(piece).map(|p| read_piece(p, counts)).collect()
}

/// The terms of `responses`; `counts`: whether the counts are kept (cosine) or only the
/// ids (Jaccard).
pub(crate) fn read_terms(responses: &[Response<'_>], counts: bool) -> Terms {
    let total = responses.iter().map(|r| r.content.len()).sum();
    read_terms_with(responses, counts, |remaining| batch_bytes(total, remaining))
}

#[cfg(test)]
pub(crate) fn read_terms_in_batches(responses: &[Response<'_>], counts: bool, batch: usize) -> Terms {
    read_terms_with(responses, counts, |_| batch)
}

/// The terms, read in batches of at least `next_batch(bytes still to read)` bytes (and
/// at least one response).
fn read_terms_with(responses: &[Response<'_>], counts: bool, next_batch: impl Fn(usize) -> usize) -> Terms {
    let mut reader = Reader::new(responses.len(), counts);
    let mut remaining: usize = responses.iter().map(|r| r.content.len()).sum();
    let mut start = 0;
    while start < responses.len() {
        let batch_bytes = next_batch(remaining);
        let (mut end, mut bytes) = (start, 0);
        while end < responses.len() && (end == start || bytes < batch_bytes) {
            bytes += responses[end].content.len();
            end += 1;
        }
        remaining -= bytes;
        reader.planned = end;
        for piece in read_batch(&responses[start..end], bytes, counts) {
            reader.add(piece);
        }
        start = end;
    }
    reader.terms
}

struct Reader {
    terms: Terms,
    vocabulary: OwnedVocabulary,
    /// Rows written, and rows once the batch being added is.
    done: usize,
    planned: usize,
    counts: bool,
}

impl Reader {
    fn new(responses: usize, counts: bool) -> Self {
        // The norms: 8 bytes per response, reserved once.
        let rows = if counts { Rows::Dense(Dense { counts: Vec::new(), width: 0 }) } else { Rows::Sparse(Sparse::default()) };
        Reader {
            terms: Terms { rows, norms: Vec::with_capacity(if counts { responses } else { 0 }), total_distinct: 0, doc_freq: Vec::new() },
            vocabulary: OwnedVocabulary::default(),
            done: 0,
            planned: 0,
            counts,
        }
    }

    /// Joins the piece's words into the vocabulary, then writes its responses' rows.
    fn add(&mut self, piece: Piece) {
        let Piece { vocabulary, terms: mut p } = piece;
        if self.vocabulary.len() == 0 {
            // The first words: the piece's vocabulary becomes the call's, its ids global.
            self.vocabulary = vocabulary;
        } else {
            let to_global: Vec<u32> = (0..vocabulary.len() as u32).map(|id| self.vocabulary.id_from(&vocabulary, id).0).collect();
            p.ids.iter_mut().for_each(|id| *id = to_global[*id as usize]);
        }
        let vocab = self.vocabulary.len();
        let t = &mut self.terms;
        t.doc_freq.resize(vocab, 0);
        for &id in &p.ids {
            t.doc_freq[id as usize] += 1;
        }
        if self.counts {
            t.norms.extend((0..p.len()).map(|i| p.counts(i).iter().map(|&c| u64::from(c) * u64::from(c)).sum::<u64>()));
        }
        let (rows, words) = (p.len(), p.ids.len());
        if let Rows::Dense(dense) = &mut t.rows {
            let average = (t.total_distinct + words) / (self.done + rows).max(1);
            if vocab > 3 * average.max(1) || p.counts.iter().any(|&c| c > i16::MAX as u32) {
                t.rows = Rows::Sparse(to_sparse(dense, self.done));
            } else if vocab > dense.width {
                widen(dense, self.done, vocab, self.planned);
            } else {
                // Room for the batch's rows, grown batch by batch: the batches shrink as
                // rows accumulate, so the rows' memory and the batch's stay near the
                // rows' final size together.
                dense.counts.reserve_exact(self.planned * dense.width - dense.counts.len());
            }
        }
        match &mut t.rows {
            Rows::Dense(d) => {
                for i in 0..rows {
                    let base = d.counts.len();
                    d.counts.resize(base + d.width, 0);
                    let row = &mut d.counts[base..];
                    for (&id, &c) in p.ids(i).iter().zip(p.counts(i)) {
                        // Checked above: every count of a dense piece fits an i16.
                        row[id as usize] = c as i16;
                    }
                }
            }
            Rows::Sparse(s) if s.len() == 0 => *s = p,
            Rows::Sparse(s) => s.append(&p),
        }
        t.total_distinct += words;
        self.done += rows;
    }
}

/// Rows of `old` ids widened in place to `width` (the new ids' counts 0), with room for
/// `planned` rows at that width.
fn widen(d: &mut Dense, rows: usize, width: usize, planned: usize) {
    let old = d.width;
    d.counts.reserve_exact(planned * width - d.counts.len());
    d.counts.resize(rows * width, 0);
    // Last row first: a row's new place starts at or after its old one, so no row is
    // overwritten before it has moved.
    for r in (0..rows).rev() {
        d.counts.copy_within(r * old..r * old + old, r * width);
        d.counts[r * width + old..(r + 1) * width].fill(0);
    }
    d.width = width;
}

/// The first `rows` dense rows as ids and counts (their non-zero columns).
pub(crate) fn to_sparse(d: &mut Dense, rows: usize) -> Sparse {
    let mut s = Sparse::default();
    for row in d.counts.chunks_exact(d.width.max(1)).take(if d.width == 0 { 0 } else { rows }) {
        for (id, &c) in (0u32..).zip(row) {
            if c != 0 {
                s.ids.push(id);
                s.counts.push(c as u32);
            }
        }
        s.end_row();
    }
    while s.len() < rows {
        s.end_row(); // width 0: every row empty
    }
    d.counts = Vec::new();
    s
}

impl Terms {
    /// The number of shared ids (held by at least two responses).
    pub(crate) fn shared(&self) -> usize {
        self.doc_freq.iter().filter(|&&df| df >= 2).count()
    }

    /// Dense rows cut, in place, to the shared ids' columns: the others meet no other
    /// response, so they add nothing to a dot product (the norms still count them).
    pub(crate) fn keep_shared_columns(d: &mut Dense, doc_freq: &[u32], responses: usize) {
        let keep: Vec<usize> = (0..d.width).filter(|&id| doc_freq[id] >= 2).collect();
        if keep.len() == d.width {
            return;
        }
        // Row r's k-th kept column moves to r * kept + k, never after where it is read
        // (r * width + column), and reads go forward: nothing is overwritten unread.
        for r in 0..responses {
            for (k, &col) in keep.iter().enumerate() {
                d.counts[r * keep.len() + k] = d.counts[r * d.width + col];
            }
        }
        d.counts.truncate(responses * keep.len());
        d.counts.shrink_to_fit();
        d.width = keep.len();
    }

    /// Sparse ids renumbered so that the shared ids come first (below the returned
    /// count): dense and bitset rows then span those alone.
    pub(crate) fn shared_first(s: &mut Sparse, doc_freq: &[u32]) -> usize {
        let mut renumber = vec![0u32; doc_freq.len()];
        let mut shared = 0u32;
        for (id, &df) in doc_freq.iter().enumerate() {
            if df >= 2 {
                renumber[id] = shared;
                shared += 1;
            }
        }
        let mut single = shared;
        for (id, &df) in doc_freq.iter().enumerate() {
            if df < 2 {
                renumber[id] = single;
                single += 1;
            }
        }
        s.ids.iter_mut().for_each(|id| *id = renumber[*id as usize]);
        shared as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::responses_of;

    /// Each response's words as a sorted list of (word text, count), from any terms: what
    /// no numbering, batching or representation may change.
    fn bags(terms: &Terms, words: &[String]) -> Vec<Vec<(String, u32)>> {
        let mut out = Vec::new();
        match &terms.rows {
            Rows::Dense(d) => {
                for row in d.counts.chunks_exact(d.width.max(1)).take(terms.norms.len()) {
                    let mut b: Vec<(String, u32)> =
                        row.iter().enumerate().filter(|(_, &c)| c != 0).map(|(id, &c)| (words[id].clone(), c as u32)).collect();
                    b.sort();
                    out.push(b);
                }
            }
            Rows::Sparse(s) => {
                for i in 0..s.len() {
                    let counts: Vec<u32> = if s.counts.is_empty() { vec![0; s.ids(i).len()] } else { s.counts(i).to_vec() };
                    let mut b: Vec<(String, u32)> = s.ids(i).iter().zip(counts).map(|(&id, c)| (words[id as usize].clone(), c)).collect();
                    b.sort();
                    out.push(b);
                }
            }
        }
        out
    }

    /// The words of a call's vocabulary by id, rebuilt by reading the texts again in
    /// order (ids are given in order of first occurrence when the pieces are joined in
    /// input order, which every batching does).
    fn words_by_id(texts: &[String]) -> Vec<String> {
        let mut seen = std::collections::HashMap::new();
        let mut words = Vec::new();
        for t in texts {
            let a = analyze_one_for(t, Need::ContentTokens);
            for local in 0..a.content_counts.len() as u32 {
                let w = a.word(local).to_string();
                if !seen.contains_key(&w) {
                    seen.insert(w.clone(), words.len());
                    words.push(w);
                }
            }
        }
        words
    }

    fn texts(spread: usize, long_counts: bool) -> Vec<String> {
        (0..37)
            .map(|i: usize| match i % 9 {
                0 => String::new(),
                1 => "a-very-long-word-beyond-sixteen-bytes and another-long-one-beyond-sixteen ".repeat(i % 4 + 1),
                // A count beyond i16 (33,000 of one word) makes the rows sparse.
                5 if long_counts => "w1 ".repeat(33_000),
                // A word no other response holds.
                _ if i == 3 => "singleton w3 w4 w5".to_string(),
                _ => (0..(i * 5 % 60 + 3))
                    .map(|k| format!("w{} ", (k * 7 + i * 13) % if i % 2 == 0 { spread } else { 23 }))
                    .collect(),
            })
            .collect()
    }

    /// Whatever the batch size, dense or sparse, counts kept or not: every response's words
    /// and counts, the norms, the document frequencies and the total are those of the texts.
    #[test]
    fn any_batching_and_representation_keeps_every_bag_of_words() {
        for (spread, long_counts) in [(40, false), (2000, false), (40, true)] {
            let texts = texts(spread, long_counts);
            let rs = responses_of(&texts);
            let words = words_by_id(&texts);
            let reference = read_terms_in_batches(&rs, true, usize::MAX);
            let expect = bags(&reference, &words);
            assert_eq!(expect.len(), texts.len());
            let dense_expected = spread == 40 && !long_counts;
            assert_eq!(matches!(reference.rows, Rows::Dense(_)), dense_expected, "spread {spread}, long counts {long_counts}");
            for batch in [1, 100, 700, 5000] {
                for counts in [true, false] {
                    let t = read_terms_in_batches(&rs, counts, batch);
                    let got = bags(&t, &words);
                    if counts {
                        assert_eq!(got, expect, "batch {batch}");
                        assert_eq!(t.norms, reference.norms, "batch {batch}");
                    } else {
                        let no_counts: Vec<Vec<(String, u32)>> =
                            expect.iter().map(|b| b.iter().map(|(w, _)| (w.clone(), 0)).collect()).collect();
                        assert_eq!(got, no_counts, "batch {batch}, ids only");
                        assert!(t.norms.is_empty());
                    }
                    assert_eq!(t.doc_freq, reference.doc_freq, "batch {batch}");
                    assert_eq!(t.total_distinct, reference.total_distinct);
                }
            }
        }
    }

    /// Widening keeps every row's counts in its first columns, zeroes the new ones, and
    /// leaves room for every response's row.
    #[test]
    fn one_batch_up_to_256_kb_then_quarters_of_the_rest() {
        assert_eq!(batch_bytes(200 << 10, 200 << 10), 200 << 10);
        assert_eq!(batch_bytes(2 << 20, 2 << 20), 512 << 10);
        assert_eq!(batch_bytes(2 << 20, 100 << 10), MIN_BATCH_BYTES);
    }

    #[test]
    fn widening_moves_rows_in_place() {
        let mut d = Dense { counts: vec![1, 2, 3, 4, 5, 6], width: 2 };
        widen(&mut d, 3, 5, 4);
        assert_eq!(d.counts, [1, 2, 0, 0, 0, 3, 4, 0, 0, 0, 5, 6, 0, 0, 0]);
        assert!(d.counts.capacity() >= 20);
        let mut empty = Dense { counts: Vec::new(), width: 0 };
        widen(&mut empty, 0, 3, 2);
        assert!(empty.counts.is_empty() && empty.width == 3);
        let s = to_sparse(&mut d, 3);
        assert_eq!((s.ids(1), s.counts(1)), (&[0, 1][..], &[3, 4][..]));
    }

    /// Dense rows widened as the vocabulary grows, then cut to the shared columns, hold
    /// the counts of those columns; renumbering sparse ids puts the shared ones first.
    #[test]
    fn shared_columns_and_shared_first_keep_the_shared_words() {
        let texts = texts(40, false);
        let rs = responses_of(&texts);
        let words = words_by_id(&texts);
        let mut t = read_terms_in_batches(&rs, true, usize::MAX);
        let all = bags(&t, &words);
        let shared = t.shared();
        assert!(shared > 0 && shared < t.doc_freq.len(), "some words are in one response only");
        let shared_words: Vec<&String> = words.iter().zip(&t.doc_freq).filter(|(_, &df)| df >= 2).map(|(w, _)| w).collect();
        let Rows::Dense(d) = &mut t.rows else { panic!("dense expected") };
        Terms::keep_shared_columns(d, &t.doc_freq, rs.len());
        assert_eq!(d.width, shared);
        for (i, row) in d.counts.chunks_exact(shared).enumerate() {
            let mut b: Vec<(String, u32)> =
                row.iter().zip(&shared_words).filter(|(&c, _)| c != 0).map(|(&c, w)| ((*w).clone(), c as u32)).collect();
            b.sort();
            let expect: Vec<(String, u32)> = all[i].iter().filter(|(w, _)| shared_words.contains(&w)).cloned().collect();
            assert_eq!(b, expect, "row {i}");
        }
        let mut s = read_terms_in_batches(&rs, false, 100);
        let Rows::Sparse(sparse) = &mut s.rows else { panic!("sparse expected") };
        let before: Vec<Vec<u32>> = (0..sparse.len()).map(|i| sparse.ids(i).to_vec()).collect();
        assert_eq!(Terms::shared_first(sparse, &s.doc_freq), shared);
        for (i, old) in before.iter().enumerate() {
            for (&o, &new) in old.iter().zip(sparse.ids(i)) {
                assert_eq!(s.doc_freq[o as usize] >= 2, (new as usize) < shared, "response {i}");
            }
        }
    }
}
