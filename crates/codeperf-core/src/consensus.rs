//! compute_consensus (docs/algorithms.md, "Consensus"): twin of python/codeperf/engine/consensus.py.

use rayon::prelude::*;

use crate::model::{Response, Similarity};
use crate::term_rows::{self, Rows, Sparse, Terms};
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

/// A response's content tokens as ids with their counts (the Jaccard reads only the
/// ids: its terms keep no counts).
#[derive(Clone, Copy)]
struct TermVector<'a> {
    ids: &'a [u32],
    counts: &'a [u32],
}

fn term_vector(s: &Sparse, i: usize) -> TermVector<'_> {
    TermVector { ids: s.ids(i), counts: if s.counts.is_empty() { &[] } else { s.counts(i) } }
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

fn similarity(a: TermVector<'_>, na: u64, b: TermVector<'_>, nb: u64, dense: &[u32], kind: Similarity) -> f64 {
    if a.ids.is_empty() || b.ids.is_empty() {
        return if a.ids.is_empty() && b.ids.is_empty() { 1.0 } else { 0.0 };
    }
    match kind {
        Similarity::Cosine => {
            let dot: u64 =
                b.ids.iter().zip(b.counts).map(|(&id, &c)| u64::from(dense[id as usize]) * u64::from(c)).sum();
            cosine_value(dot, na, nb)
        }
        Similarity::Jaccard => {
            let inter: u64 = b.ids.iter().map(|&id| u64::from(dense[id as usize] != 0)).sum();
            inter as f64 / ((a.ids.len() as u64 + b.ids.len() as u64 - inter) as f64)
        }
    }
}

/// The matrix into `upper`, which holds n (n - 1) / 2 values: both callers size it (or
/// refuse a buffer of another size) first, so this never fails.
///
/// Only ids held by at least two responses (`shared`) can meet in a dot product or an
/// intersection, so the dense and bitset rows span them alone (the norms and set sizes
/// still count every token). Which rows are used depends on the vocabulary's size for
/// the texts' length (below); every path computes the same exact integers, so the values
/// are identical.
fn fill_matrix<S: AsMut<[f64]>>(terms: Terms, n: usize, kind: Similarity, mut upper: S) -> SimilarityMatrix<S> {
    debug_assert_eq!(upper.as_mut().len(), upper_len(n));
    let shared = terms.shared();
    let Terms { rows: stored, norms, total_distinct, doc_freq } = terms;
    let average = total_distinct / n.max(1);
    let parallel = upper_len(n) * average.max(1) >= PARALLEL_MIN_PAIR_WORK;
    let rows = upper_rows(upper.as_mut(), n);
    let mut sparse = match stored {
        Rows::Dense(mut d) if kind == Similarity::Cosine && shared <= 3 * average => {
            Terms::keep_shared_columns(&mut d, &doc_freq, n);
            drop(doc_freq);
            cosine_rows_i16(&d.counts, d.width, &norms, rows, parallel);
            return SimilarityMatrix { n, upper };
        }
        Rows::Dense(mut d) => term_rows::to_sparse(&mut d, n),
        Rows::Sparse(s) => s,
    };
    let vocab = doc_freq.len();
    Terms::shared_first(&mut sparse, &doc_freq);
    drop(doc_freq);
    let words = shared.div_ceil(64);
    if kind == Similarity::Jaccard && words <= average.max(1) {
        fill_jaccard_bitsets(&sparse, words, rows, parallel);
        return SimilarityMatrix { n, upper };
    }
    if kind == Similarity::Cosine && shared <= 3 * average {
        fill_cosine_dense(&sparse, &norms, shared, rows, parallel);
        return SimilarityMatrix { n, upper };
    }
    fill_gather(&sparse, &norms, vocab, kind, rows, parallel);
    SimilarityMatrix { n, upper }
}

/// Row i scatters response i into a dense array, then every later response gathers
/// against it: each value is computed independently (integer dot products and
/// intersection sizes, exact), so parallel rows change nothing.
fn fill_gather(sparse: &Sparse, norms: &[u64], vocab: usize, kind: Similarity, rows: Vec<(usize, &mut [f64])>, parallel: bool) {
    let norm = |i: usize| if norms.is_empty() { 0 } else { norms[i] };
    let fill = |dense: &mut Vec<u32>, (i, row): (usize, &mut [f64])| {
        let a = term_vector(sparse, i);
        if a.counts.is_empty() {
            a.ids.iter().for_each(|&id| dense[id as usize] = 1);
        } else {
            a.ids.iter().zip(a.counts).for_each(|(&id, &c)| dense[id as usize] = c);
        }
        for (k, cell) in row.iter_mut().enumerate() {
            let j = i + 1 + k;
            *cell = similarity(a, norm(i), term_vector(sparse, j), norm(j), dense, kind);
        }
        for &id in a.ids {
            dense[id as usize] = 0;
        }
    };
    if parallel {
        rows.into_par_iter().for_each_init(|| vec![0u32; vocab], fill);
    } else {
        let mut dense = vec![0u32; vocab];
        rows.into_iter().for_each(|r| fill(&mut dense, r));
    }
}

/// Jaccard rows from one bitset per response over the call's vocabulary: |A ∩ B| is the
/// popcount of the AND of two rows of `words` u64s. Chosen when a bitset has no more
/// words than the average response has distinct content tokens (a small vocabulary for
/// the text's length): then it costs no more memory than the id lists, and a pair costs
/// `words` AND/popcounts instead of one lookup per token. The counts are the same exact
/// integers as the gather's, so the values are identical.
fn fill_jaccard_bitsets(sparse: &Sparse, words: usize, rows: Vec<(usize, &mut [f64])>, parallel: bool) {
    let n = sparse.len();
    let mut bits = vec![0u64; n * words];
    for (i, row) in bits.chunks_exact_mut(words.max(1)).enumerate().take(n) {
        for &id in sparse.ids(i).iter().filter(|&&id| (id as usize) < words * 64) {
            row[id as usize / 64] |= 1u64 << (id % 64);
        }
    }
    // The set sizes, read once per pair: one load each (not two offsets).
    let sizes: Vec<u64> = (0..n).map(|i| sparse.ids(i).len() as u64).collect();
    let (bits, sizes) = (&bits, &sizes);
    let fill = |(i, row): (usize, &mut [f64])| {
        let a = &bits[i * words..(i + 1) * words];
        let la = sizes[i];
        for (k, cell) in row.iter_mut().enumerate() {
            let j = i + 1 + k;
            let lb = sizes[j];
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
/// below `dims`; the others meet no other response), built from sparse terms: the dot
/// product of two rows is a straight loop the compiler vectorises, instead of one
/// dependent lookup per token. Chosen when there are at most three times as many shared
/// tokens as the average response has distinct content tokens. Same exact integers,
/// same values.
fn fill_cosine_dense(sparse: &Sparse, norms: &[u64], dims: usize, rows: Vec<(usize, &mut [f64])>, parallel: bool) {
    let n = sparse.len();
    if sparse.counts.iter().all(|&c| c <= i16::MAX as u32) {
        let dense = dense_rows(sparse, dims, |c| c as i16);
        cosine_rows_i16(&dense, dims, norms, rows, parallel);
    } else {
        let dense = dense_rows(sparse, dims, |c| c);
        let dot = |a: &[u32], b: &[u32]| a.iter().zip(b).map(|(&x, &y)| u64::from(x) * u64::from(y)).sum::<u64>();
        cosine_rows(&dense, dims, norms, rows, parallel, dot);
    }
    debug_assert_eq!(norms.len(), n);
}

/// The sparse terms' counts at ids below `dims`, one row of `dims` per response.
fn dense_rows<T: Copy + Default>(sparse: &Sparse, dims: usize, narrow: impl Fn(u32) -> T) -> Vec<T> {
    let n = sparse.len();
    let mut dense = vec![T::default(); n * dims];
    for (i, row) in dense.chunks_exact_mut(dims.max(1)).enumerate().take(n) {
        for (&id, &c) in sparse.ids(i).iter().zip(sparse.counts(i)) {
            if (id as usize) < dims {
                row[id as usize] = narrow(c);
            }
        }
    }
    dense
}

/// Cosine rows from i16 counts. With every norm below 2^31, every dot product fits an
/// i32 (dot <= sqrt(na nb) <= max(na, nb), and each partial sum is at most the dot: the
/// products are not negative): the i16 x i16 -> i32 multiply-add vectorises to 8
/// products per instruction (pmaddwd). Larger norms sum in i64. The same exact integers
/// either way.
fn cosine_rows_i16(dense: &[i16], dims: usize, norms: &[u64], rows: Vec<(usize, &mut [f64])>, parallel: bool) {
    if norms.iter().all(|&n| n <= i32::MAX as u64) {
        let dot = |a: &[i16], b: &[i16]| a.iter().zip(b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum::<i32>() as u64;
        cosine_rows(dense, dims, norms, rows, parallel, dot);
    } else {
        let dot = |a: &[i16], b: &[i16]| a.iter().zip(b).map(|(&x, &y)| i64::from(x) * i64::from(y)).sum::<i64>() as u64;
        cosine_rows(dense, dims, norms, rows, parallel, dot);
    }
}

fn cosine_rows<T: Sync>(
    dense: &[T],
    dims: usize,
    norms: &[u64],
    rows: Vec<(usize, &mut [f64])>,
    parallel: bool,
    dot: impl Fn(&[T], &[T]) -> u64 + Sync,
) {
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
    let terms = term_rows::read_terms(responses, similarity == Similarity::Cosine);
    let upper = vec![0.0f64; upper_len(responses.len())];
    let matrix = fill_matrix(terms, responses.len(), similarity, upper);
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
    let terms = term_rows::read_terms(responses, similarity == Similarity::Cosine);
    let matrix = fill_matrix(terms, responses.len(), similarity, upper);
    Ok(consensus_from(responses, matrix, threshold, similarity))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::responses_of;
    use crate::term_rows::{read_terms_in_batches, Dense};

    /// Every pair by the gather (the reference every other path must equal bit for bit).
    fn gathered(sparse: &Sparse, norms: &[u64], vocab: usize, kind: Similarity) -> Vec<f64> {
        let n = sparse.len();
        let mut upper = vec![f64::NAN; upper_len(n)];
        fill_gather(sparse, norms, vocab, kind, upper_rows(&mut upper, n), false);
        upper
    }

    fn same_bits(a: &[f64], b: &[f64], what: &str) {
        assert_eq!(a.len(), b.len());
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(x.to_bits(), y.to_bits(), "{what}: pair {k}");
        }
    }

    fn texts() -> Vec<String> {
        (0..40)
            .map(|i| match i % 7 {
                0 => String::new(),
                // Odd responses repeat words (counts above 1, for the cosine).
                _ => (0..(i * 3 % 50)).map(|k| format!("w{} ", (k * 7 + i * 13) % if i % 2 == 0 { 150 } else { 23 })).collect(),
            })
            .collect()
    }

    /// The bitset Jaccard and the dense cosine (built from sparse terms, and streamed as
    /// dense rows) equal the gather on every pair, bit for bit, including responses
    /// without content tokens and ids in every word of the bitset.
    #[test]
    fn bitset_jaccard_and_dense_cosine_equal_the_gather() {
        let texts = texts();
        let rs = responses_of(&texts);
        let n = rs.len();
        let mut t = read_terms_in_batches(&rs, true, usize::MAX);
        let Rows::Sparse(mut sparse) = std::mem::replace(&mut t.rows, Rows::Sparse(Sparse::default())) else {
            panic!("a vocabulary this large for the texts is read as sparse rows")
        };
        let vocab = t.doc_freq.len();
        assert!(vocab > 128, "ids reach the third bitset word");
        let shared = Terms::shared_first(&mut sparse, &t.doc_freq);
        let reference = gathered(&sparse, &t.norms, vocab, Similarity::Cosine);
        let mut cosine = vec![f64::NAN; upper_len(n)];
        fill_cosine_dense(&sparse, &t.norms, shared, upper_rows(&mut cosine, n), false);
        same_bits(&cosine, &reference, "dense cosine");
        let jaccard_reference = gathered(&sparse, &t.norms, vocab, Similarity::Jaccard);
        let mut jaccard = vec![f64::NAN; upper_len(n)];
        fill_jaccard_bitsets(&sparse, shared.div_ceil(64), upper_rows(&mut jaccard, n), false);
        same_bits(&jaccard, &jaccard_reference, "bitset jaccard");
        // The whole call, on every path its rules pick, equals the gather too.
        let call = compute_consensus(&rs, 0.5, Similarity::Cosine);
        same_bits(call.matrix.condensed(), &reference, "compute_consensus cosine");
        let call = compute_consensus(&rs, 0.5, Similarity::Jaccard);
        same_bits(call.matrix.condensed(), &jaccard_reference, "compute_consensus jaccard");
    }

    /// Streamed dense rows (a small vocabulary), in any batches, give the gather's values,
    /// as do the same terms read as ids only for the Jaccard.
    #[test]
    fn streamed_dense_rows_equal_the_gather_in_any_batches() {
        let texts: Vec<String> = (0..30)
            .map(|i| match i % 11 {
                0 => String::new(),
                _ => (0..(i * 7 % 40 + 5)).map(|k| format!("w{} ", (k * 5 + i * 3) % 19)).collect(),
            })
            .chain(["singleton w1 w2".to_string()])
            .collect();
        let rs = responses_of(&texts);
        let n = rs.len();
        let t = read_terms_in_batches(&rs, true, usize::MAX);
        let (vocab, shared) = (t.doc_freq.len(), t.shared());
        assert!(matches!(t.rows, Rows::Dense(_)), "a small vocabulary streams as dense rows");
        assert!(shared < vocab, "a column to cut");
        let mut sparse = match t.rows {
            Rows::Dense(mut d) => term_rows::to_sparse(&mut d, n),
            Rows::Sparse(_) => unreachable!(),
        };
        Terms::shared_first(&mut sparse, &t.doc_freq);
        let reference = gathered(&sparse, &t.norms, vocab, Similarity::Cosine);
        for batch in [1, 300, usize::MAX] {
            let terms = read_terms_in_batches(&rs, true, batch);
            let m = fill_matrix(terms, n, Similarity::Cosine, vec![f64::NAN; upper_len(n)]);
            same_bits(m.condensed(), &reference, &format!("cosine, batch {batch}"));
        }
        let jaccard_reference = gathered(&sparse, &t.norms, vocab, Similarity::Jaccard);
        let m = fill_matrix(read_terms_in_batches(&rs, false, 300), n, Similarity::Jaccard, vec![f64::NAN; upper_len(n)]);
        same_bits(m.condensed(), &jaccard_reference, "jaccard");
    }

    /// Above 256 KB of text the call reads several batches of shrinking size: its matrix
    /// is that of one batch, for the cosine (dense rows) and the Jaccard (ids).
    #[test]
    fn a_call_read_in_several_batches_equals_one_batch() {
        let texts: Vec<String> = (0..500)
            .map(|i: usize| (0..(i % 50 + 150)).map(|k| format!("w{} ", (k * 7 + i * 3) % (60 + i % 7))).collect())
            .collect();
        assert!(texts.iter().map(String::len).sum::<usize>() > 256 * 1024 + 64 * 1024, "more than one batch");
        let rs = responses_of(&texts);
        let n = rs.len();
        for kind in [Similarity::Cosine, Similarity::Jaccard] {
            let one = fill_matrix(read_terms_in_batches(&rs, kind == Similarity::Cosine, usize::MAX), n, kind, vec![f64::NAN; upper_len(n)]);
            let call = compute_consensus(&rs, 0.5, kind);
            same_bits(call.matrix.condensed(), one.condensed(), &format!("{kind:?}"));
        }
    }

    /// Counts beyond i16 take the u32 path of the dense cosine, norms beyond i32 the i64
    /// sum of the i16 rows: still the gather's values.
    #[test]
    fn dense_cosine_with_large_counts_and_norms_equals_the_gather() {
        let rows = [(vec![0, 1, 2], vec![40_000, 3, 1]), (vec![0, 2], vec![1, 70_000]), (vec![1, 3], vec![2, 5]), (vec![], vec![])];
        let sparse = Sparse::from_rows(&rows);
        let norms: Vec<u64> = rows.iter().map(|(_, c)| c.iter().map(|&c| u64::from(c) * u64::from(c)).sum()).collect();
        let n = rows.len();
        let reference = gathered(&sparse, &norms, 4, Similarity::Cosine);
        let mut cosine = vec![f64::NAN; upper_len(n)];
        fill_cosine_dense(&sparse, &norms, 3, upper_rows(&mut cosine, n), false); // id 3 is in one response only
        same_bits(&cosine, &reference, "u32 counts");
        // i16 counts whose squares sum beyond i32: 3 x 30,000^2 = 2.7e9.
        let rows = [(vec![0, 1, 2], vec![30_000, 30_000, 30_000]), (vec![0, 1, 2], vec![30_000, 29_999, 1]), (vec![2], vec![7])];
        let sparse = Sparse::from_rows(&rows);
        let norms: Vec<u64> = rows.iter().map(|(_, c)| c.iter().map(|&c| u64::from(c) * u64::from(c)).sum()).collect();
        assert!(norms[0] > i32::MAX as u64);
        let reference = gathered(&sparse, &norms, 3, Similarity::Cosine);
        let dense = Dense { counts: vec![30_000, 30_000, 30_000, 30_000, 29_999, 1, 0, 0, 7], width: 3 };
        let mut cosine = vec![f64::NAN; 3];
        cosine_rows_i16(&dense.counts, dense.width, &norms, upper_rows(&mut cosine, 3), false);
        same_bits(&cosine, &reference, "i16 rows, i64 sums");
    }
}
