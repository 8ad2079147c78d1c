//! compute_consensus (docs/algorithms.md, "Consensus"): twin of python/codeperf/engine/consensus.py.

use rayon::prelude::*;
use crate::global_ids::{self, GlobalIds};

use crate::analysis::{analyze_all_for, Analysis, Need};
use crate::model::{Response, Similarity};
use crate::stats::order;
use crate::unionfind::UnionFind;

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub members: Vec<usize>,
    pub size: usize,
    pub weight: f64,
}

/// The result; `S` is where the matrix lives: an owned `Vec<f64>` from
/// `compute_consensus`, or a caller's buffer from `compute_consensus_into`.
#[derive(Debug)]
pub struct Consensus<S = Vec<f64>> {
    pub similarity: Similarity,
    pub threshold: f64,
    pub matrix: SimilarityMatrix<S>,
    pub clusters: Vec<Cluster>,
    pub dissenting: Vec<usize>,
    pub agreement_score: f64,
    pub majority_share: f64,
    pub level: &'static str,
}

/// Each response's content tokens as global ids: (id, count) pairs, and the vocabulary size.
/// A response's content tokens as global ids with their counts (two arrays: Jaccard
/// reads only the ids).
struct TermVector {
    ids: Vec<u32>,
    counts: Vec<u32>,
}

/// The condensed upper triangle split into its rows: row i holds pairs (i, j > i).
fn upper_rows(upper: &mut [f64], n: usize) -> Vec<(usize, &mut [f64])> {
    let mut rows = Vec::with_capacity(n);
    let mut rest = upper;
    for i in 0..n {
        let (row, tail) = rest.split_at_mut(n - 1 - i);
        rows.push((i, row));
        rest = tail;
    }
    rows
}

/// Each vector's squared norm, exact in integers.
fn squared_norms(vectors: &[TermVector]) -> Vec<u64> {
    vectors.iter().map(|v| v.counts.iter().map(|&c| u64::from(c) * u64::from(c)).sum()).collect()
}

/// The term vectors, the vocabulary size, and how many tokens are shared: global ids
/// are renumbered so that the tokens found in at least two responses come first (ids
/// below the returned `shared`). Only those can meet in a dot product or an
/// intersection, so the dense and bitset rows span them alone (the norms and set sizes
/// still count every token).
fn term_vectors(analyses: &[Analysis]) -> (Vec<TermVector>, usize, usize) {
    let GlobalIds { occurrences: doc_freq, ids, .. } = global_ids::content_ids(analyses);
    let mut vectors: Vec<TermVector> = analyses
        .iter()
        .zip(ids)
        .map(|(a, ids)| TermVector { ids, counts: a.content_counts.iter().map(|&(_, count)| count).collect() })
        .collect();
    let vocab = doc_freq.len();
    let mut renumber = vec![0u32; vocab];
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
    for v in &mut vectors {
        v.ids.iter_mut().for_each(|id| *id = renumber[*id as usize]);
    }
    (vectors, vocab, shared as usize)
}

/// Below this much work (pairs x average distinct tokens) rows are computed on the
/// calling thread: waking rayon's pool costs more than it saves on small inputs and
/// makes timings depend on whether the other core happens to be awake.
const PARALLEL_MIN_PAIR_WORK: usize = 256 * 1024;

/// The symmetric similarity matrix, stored as its strict upper triangle row by row
/// (the diagonal is 1.0): half the memory of a full n x n matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarityMatrix<S = Vec<f64>> {
    n: usize,
    upper: S,
}

impl<S: AsRef<[f64]>> SimilarityMatrix<S> {
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    #[inline]
    fn offset(&self, i: usize) -> usize {
        // Rows 0..i hold (n-1) + (n-2) + ... + (n-i) values.
        i * (2 * self.n - i - 1) / 2
    }

    /// The similarity of responses i and j.
    ///
    /// # Panics
    ///
    /// If `i` or `j` is not below `len()`, as slice indexing does: without the check an
    /// index past the end could land on another pair's value in the condensed layout.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(i < self.n && j < self.n, "pair ({i}, {j}) of a {} x {} matrix", self.n, self.n);
        self.at(i, j)
    }

    /// `get` for indices the caller's loop keeps below `len()` (the crate's own loops).
    #[inline]
    pub(crate) fn at(&self, i: usize, j: usize) -> f64 {
        debug_assert!(i < self.n && j < self.n);
        match i.cmp(&j) {
            std::cmp::Ordering::Equal => 1.0,
            std::cmp::Ordering::Less => self.upper.as_ref()[self.offset(i) + (j - i - 1)],
            std::cmp::Ordering::Greater => self.upper.as_ref()[self.offset(j) + (i - j - 1)],
        }
    }

    /// The strict upper triangle row by row: pairs (0,1), (0,2), ..., (0,n-1), (1,2), ...
    /// (docs/algorithms.md, "Consensus"); the layout both backends return.
    pub fn condensed(&self) -> &[f64] {
        self.upper.as_ref()
    }

    /// The full row i (for callers that want lists); iterating it panics as `get` does
    /// if `i` is not below `len()`.
    pub fn row(&self, i: usize) -> impl Iterator<Item = f64> + '_ {
        (0..self.n).map(move |j| self.get(i, j))
    }
}

/// dot / sqrt(na nb), at most 1: one square root of the exact product, so identical
/// vectors give exactly 1.0.
#[inline]
fn cosine_value(dot: u64, na: u64, nb: u64) -> f64 {
    let product = u128::from(na) * u128::from(nb);
    (dot as f64 / (product as f64).sqrt()).min(1.0)
}

fn similarity(a: &TermVector, na: u64, b: &TermVector, nb: u64, dense: &[u32], kind: Similarity) -> f64 {
    if a.ids.is_empty() || b.ids.is_empty() {
        return if a.ids.is_empty() && b.ids.is_empty() { 1.0 } else { 0.0 };
    }
    match kind {
        Similarity::Cosine => {
            let dot: u64 =
                b.ids.iter().zip(&b.counts).map(|(&id, &c)| u64::from(dense[id as usize]) * u64::from(c)).sum();
            cosine_value(dot, na, nb)
        }
        Similarity::Jaccard => {
            let inter: u64 = b.ids.iter().map(|&id| u64::from(dense[id as usize] != 0)).sum();
            inter as f64 / ((a.ids.len() as u64 + b.ids.len() as u64 - inter) as f64)
        }
    }
}

/// Row i scatters response i into a dense array, then every later response gathers
/// against it: each value is computed independently (integer dot products and
/// intersection sizes, exact), so parallel rows change nothing.
/// The matrix into `upper`, which holds n (n - 1) / 2 values: both callers size it (or
/// refuse a buffer of another size) first, so this never fails.
fn fill_matrix<S: AsMut<[f64]>>(analyses: Vec<Analysis>, kind: Similarity, mut upper: S) -> SimilarityMatrix<S> {
    let n = analyses.len();
    debug_assert_eq!(upper.as_mut().len(), upper_len(n));
    let (vectors, vocab, shared) = term_vectors(&analyses);
    // The analyses are not needed past this point: freed before the rows are computed.
    drop(analyses);
    let norms = squared_norms(&vectors);
    let rows = upper_rows(upper.as_mut(), n);
    let average = vectors.iter().map(|v| v.ids.len()).sum::<usize>() / n.max(1);
    let parallel = upper_len(n) * average.max(1) >= PARALLEL_MIN_PAIR_WORK;
    let words = shared.div_ceil(64);
    if kind == Similarity::Jaccard && words <= average.max(1) {
        fill_jaccard_bitsets(&vectors, words, rows, parallel);
        return SimilarityMatrix { n, upper };
    }
    if kind == Similarity::Cosine && shared <= 3 * average {
        fill_cosine_dense(&vectors, &norms, shared, rows, parallel);
        return SimilarityMatrix { n, upper };
    }
    let fill = |dense: &mut Vec<u32>, (i, row): (usize, &mut [f64])| {
        let a = &vectors[i];
        for (&id, &c) in a.ids.iter().zip(&a.counts) {
            dense[id as usize] = c;
        }
        for (k, cell) in row.iter_mut().enumerate() {
            let j = i + 1 + k;
            *cell = similarity(a, norms[i], &vectors[j], norms[j], dense, kind);
        }
        for &id in &a.ids {
            dense[id as usize] = 0;
        }
    };
    if parallel {
        rows.into_par_iter().for_each_init(|| vec![0u32; vocab], fill);
    } else {
        let mut dense = vec![0u32; vocab];
        rows.into_iter().for_each(|r| fill(&mut dense, r));
    }
    SimilarityMatrix { n, upper }
}

/// Jaccard rows from one bitset per response over the call's vocabulary: |A ∩ B| is the
/// popcount of the AND of two rows of `words` u64s. Chosen when a bitset has no more
/// words than the average response has distinct content tokens (a small vocabulary for
/// the text's length): then it costs no more memory than the id lists, and a pair costs
/// `words` AND/popcounts instead of one lookup per token. The counts are the same exact
/// integers as the gather's, so the values are identical.
fn fill_jaccard_bitsets(vectors: &[TermVector], words: usize, rows: Vec<(usize, &mut [f64])>, parallel: bool) {
    let mut bits = vec![0u64; vectors.len() * words];
    for (v, row) in vectors.iter().zip(bits.chunks_exact_mut(words.max(1))) {
        for &id in v.ids.iter().filter(|&&id| (id as usize) < words * 64) {
            row[id as usize / 64] |= 1u64 << (id % 64);
        }
    }
    let bits = &bits;
    let fill = |(i, row): (usize, &mut [f64])| {
        let a = &bits[i * words..(i + 1) * words];
        let la = vectors[i].ids.len() as u64;
        for (k, cell) in row.iter_mut().enumerate() {
            let j = i + 1 + k;
            let lb = vectors[j].ids.len() as u64;
            *cell = if la == 0 || lb == 0 {
                if la == 0 && lb == 0 { 1.0 } else { 0.0 }
            } else {
                let b = &bits[j * words..(j + 1) * words];
                let inter: u64 = a.iter().zip(b).map(|(x, y)| u64::from((x & y).count_ones())).sum();
                inter as f64 / ((la + lb - inter) as f64)
            };
        }
    };
    if parallel {
        rows.into_par_iter().for_each(fill);
    } else {
        rows.into_iter().for_each(fill);
    }
}

/// Cosine rows from one dense count vector per response over the shared tokens (ids
/// below `dims`; the others meet no other response): the dot product of two rows is a
/// straight loop the compiler vectorises, instead of one dependent lookup per token.
/// Chosen when there are at most three times as many shared tokens as the average
/// response has distinct content tokens. Same exact integers, same values.
fn fill_cosine_dense(vectors: &[TermVector], norms: &[u64], dims: usize, rows: Vec<(usize, &mut [f64])>, parallel: bool) {
    // With every count below 2^15 and every norm below 2^31, counts fit an i16 and every
    // dot product fits an i32 (dot <= sqrt(na nb) <= max(na, nb), and each partial sum
    // is at most the dot: the products are not negative): the i16 x i16 -> i32
    // multiply-add vectorises to 8 products per instruction (pmaddwd) where u32 x u32 ->
    // u64 does not. The same exact integers either way.
    let narrow = vectors.iter().all(|v| v.counts.iter().all(|&c| c <= i16::MAX as u32))
        && norms.iter().all(|&n| n <= i32::MAX as u64);
    if narrow {
        let dot = |a: &[i16], b: &[i16]| a.iter().zip(b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum::<i32>() as u64;
        dense_cosine_rows(vectors, norms, dims, rows, parallel, |c| c as i16, dot);
    } else {
        let dot = |a: &[u32], b: &[u32]| a.iter().zip(b).map(|(&x, &y)| u64::from(x) * u64::from(y)).sum::<u64>();
        dense_cosine_rows(vectors, norms, dims, rows, parallel, |c| c, dot);
    }
}

fn dense_cosine_rows<T: Copy + Default + Send + Sync>(
    vectors: &[TermVector],
    norms: &[u64],
    dims: usize,
    rows: Vec<(usize, &mut [f64])>,
    parallel: bool,
    narrow: impl Fn(u32) -> T,
    dot: impl Fn(&[T], &[T]) -> u64 + Sync,
) {
    let mut dense = vec![T::default(); vectors.len() * dims];
    for (v, row) in vectors.iter().zip(dense.chunks_exact_mut(dims.max(1))) {
        for (&id, &c) in v.ids.iter().zip(&v.counts) {
            if (id as usize) < dims {
                row[id as usize] = narrow(c);
            }
        }
    }
    let dense = &dense;
    let fill = |(i, row): (usize, &mut [f64])| {
        let a = &dense[i * dims..(i + 1) * dims];
        for (k, cell) in row.iter_mut().enumerate() {
            let j = i + 1 + k;
            *cell = if norms[i] == 0 || norms[j] == 0 {
                if norms[i] == 0 && norms[j] == 0 { 1.0 } else { 0.0 }
            } else {
                cosine_value(dot(a, &dense[j * dims..(j + 1) * dims]), norms[i], norms[j])
            };
        }
    };
    if parallel {
        rows.into_par_iter().for_each(fill);
    } else {
        rows.into_iter().for_each(fill);
    }
}

/// A buffer given to `compute_consensus_into` whose length is not n (n - 1) / 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatrixSizeError {
    pub responses: usize,
    pub given: usize,
}

impl std::fmt::Display for MatrixSizeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a matrix of {} responses needs {} values, the buffer holds {}", self.responses, upper_len(self.responses), self.given)
    }
}

impl std::error::Error for MatrixSizeError {}

fn upper_len(n: usize) -> usize {
    n * n.saturating_sub(1) / 2
}

pub fn level_for(agreement: f64, n: usize) -> &'static str {
    if n == 0 {
        "none"
    } else if agreement >= 0.8 {
        "strong"
    } else if agreement >= 0.6 {
        "moderate"
    } else if agreement >= 0.4 {
        "weak"
    } else {
        "divergent"
    }
}

#[allow(clippy::manual_clamp)] // the agreement's NaN-to-0.0 clamp, below
fn consensus_from<S: AsRef<[f64]>>(responses: &[Response<'_>], matrix: SimilarityMatrix<S>, threshold: f64, similarity: Similarity) -> Consensus<S> {
    let n = responses.len();
    let weights: Vec<f64> = responses.iter().map(|r| r.confidence).collect();

    let mut uf = UnionFind::new(n);
    for i in 0..n {
        for j in (i + 1)..n {
            if matrix.at(i, j) >= threshold {
                uf.union(i, j);
            }
        }
    }
    let mut clusters: Vec<Cluster> = uf
        .groups()
        .into_iter()
        .map(|members| {
            let mut weight = 0.0;
            for &m in &members {
                weight += weights[m];
            }
            Cluster { size: members.len(), members, weight }
        })
        .collect();
    clusters.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then_with(|| order(b.weight, a.weight))
            .then_with(|| a.members[0].cmp(&b.members[0]))
    });

    let agreement = match n {
        0 => 0.0,
        1 => 1.0,
        _ => {
            let (mut num, mut den, mut plain) = (0.0f64, 0.0f64, 0.0f64);
            for i in 0..n {
                for j in (i + 1)..n {
                    let w = weights[i] * weights[j];
                    num += w * matrix.at(i, j);
                    den += w;
                    plain += matrix.at(i, j);
                }
            }
            let a = if den > 0.0 { num / den } else { plain / ((n * (n - 1) / 2) as f64) };
            // Not `clamp`: a NaN (only from unvalidated weights) becomes 0.0 here, as the
            // twin's `min(1.0, max(0.0, a))` makes it; `clamp` would return NaN.
            a.max(0.0).min(1.0)
        }
    };
    let mut total_weight = 0.0;
    for &w in &weights {
        total_weight += w;
    }
    let (share, dissenting) = match clusters.first() {
        None => (0.0, Vec::new()),
        Some(majority) => {
            let share = if total_weight > 0.0 { majority.weight / total_weight } else { majority.size as f64 / n as f64 };
            let mut in_majority = vec![false; n];
            for &m in &majority.members {
                in_majority[m] = true;
            }
            (share, (0..n).filter(|&i| !in_majority[i]).collect())
        }
    };
    Consensus {
        similarity,
        threshold,
        matrix,
        clusters,
        dissenting,
        agreement_score: agreement,
        majority_share: share,
        level: level_for(agreement, n),
    }
}

pub fn compute_consensus(responses: &[Response<'_>], threshold: f64, similarity: Similarity) -> Consensus {
    let analyses = analyze_all_for(responses, Need::ContentTokens);
    let upper = vec![0.0f64; upper_len(responses.len())];
    let matrix = fill_matrix(analyses, similarity, upper);
    consensus_from(responses, matrix, threshold, similarity)
}

/// As `compute_consensus`, with the matrix computed straight into `upper` (the condensed
/// upper triangle, n (n - 1) / 2 values): a binding passes the buffer of the object it
/// returns, so the matrix is never held twice.
pub fn compute_consensus_into<S: AsRef<[f64]> + AsMut<[f64]>>(
    responses: &[Response<'_>],
    threshold: f64,
    similarity: Similarity,
    upper: S,
) -> Result<Consensus<S>, MatrixSizeError> {
    if upper.as_ref().len() != upper_len(responses.len()) {
        return Err(MatrixSizeError { responses: responses.len(), given: upper.as_ref().len() });
    }
    let analyses = analyze_all_for(responses, Need::ContentTokens);
    let matrix = fill_matrix(analyses, similarity, upper);
    Ok(consensus_from(responses, matrix, threshold, similarity))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::analyze_one_with;

    /// The bitset Jaccard and the dense cosine equal the gather's on every pair, bit for bit, including
    /// responses without content tokens and ids in every word of the bitset.
    #[test]
    fn bitset_jaccard_and_dense_cosine_equal_the_gather() {
        let texts: Vec<String> = (0..40)
            .map(|i| match i % 7 {
                0 => String::new(),
                // Odd responses repeat words (counts above 1, for the cosine).
                _ => (0..(i * 3 % 50)).map(|k| format!("w{} ", (k * 7 + i * 13) % if i % 2 == 0 { 150 } else { 23 })).collect(),
            })
            .collect();
        let mut sc = Default::default();
        let analyses: Vec<Analysis> = texts.iter().map(|t| analyze_one_with(t, &mut sc, Need::ContentTokens)).collect();
        let (vectors, vocab, shared) = term_vectors(&analyses);
        assert!(vocab > 128, "ids reach the third bitset word");
        let n = vectors.len();
        let mut upper = vec![f64::NAN; upper_len(n)];
        let rows = upper_rows(&mut upper, n);
        fill_jaccard_bitsets(&vectors, shared.div_ceil(64), rows, false);
        let mut cosine = vec![f64::NAN; upper_len(n)];
        let rows = upper_rows(&mut cosine, n);
        let norms = squared_norms(&vectors);
        fill_cosine_dense(&vectors, &norms, shared, rows, false);
        let mut dense = vec![0u32; vocab];
        let mut k = 0;
        for i in 0..n {
            for (&id, &c) in vectors[i].ids.iter().zip(&vectors[i].counts) {
                dense[id as usize] = c;
            }
            for j in (i + 1)..n {
                let gathered = similarity(&vectors[i], 0, &vectors[j], 0, &dense, Similarity::Jaccard);
                assert_eq!(upper[k].to_bits(), gathered.to_bits(), "jaccard ({i}, {j})");
                let gathered = similarity(&vectors[i], norms[i], &vectors[j], norms[j], &dense, Similarity::Cosine);
                assert_eq!(cosine[k].to_bits(), gathered.to_bits(), "cosine ({i}, {j})");
                k += 1;
            }
            for &id in &vectors[i].ids {
                dense[id as usize] = 0;
            }
        }
    }

    /// Counts beyond i16 take the u32 path of the dense cosine: still the gather's values.
    #[test]
    fn dense_cosine_with_large_counts_equals_the_gather() {
        let vectors = vec![
            TermVector { ids: vec![0, 1, 2], counts: vec![40_000, 3, 1] },
            TermVector { ids: vec![0, 2], counts: vec![1, 70_000] },
            TermVector { ids: vec![1, 3], counts: vec![2, 5] },
            TermVector { ids: vec![], counts: vec![] },
        ];
        let norms = squared_norms(&vectors);
        let n = vectors.len();
        let mut cosine = vec![f64::NAN; upper_len(n)];
        let rows = upper_rows(&mut cosine, n);
        fill_cosine_dense(&vectors, &norms, 3, rows, false); // id 3 is in one response only
        let mut dense = vec![0u32; 4];
        let mut k = 0;
        for i in 0..n {
            for (&id, &c) in vectors[i].ids.iter().zip(&vectors[i].counts) {
                dense[id as usize] = c;
            }
            for j in (i + 1)..n {
                let gathered = similarity(&vectors[i], norms[i], &vectors[j], norms[j], &dense, Similarity::Cosine);
                assert_eq!(cosine[k].to_bits(), gathered.to_bits(), "cosine ({i}, {j})");
                k += 1;
            }
            dense.iter_mut().for_each(|c| *c = 0);
        }
    }
}
