//! compute_consensus (docs/algorithms.md, "Consensus"): twin of python/codeperf/engine/consensus.py.

use rayon::prelude::*;
use crate::intern::Interner;

use crate::analysis::{analyze_all_for, Analysis, Need};
use crate::model::{Response, Similarity};
use crate::unionfind::UnionFind;

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub members: Vec<usize>,
    pub size: usize,
    pub weight: f64,
}

#[derive(Debug)]
pub struct Consensus {
    pub similarity: Similarity,
    pub threshold: f64,
    pub matrix: Vec<Vec<f64>>,
    pub clusters: Vec<Cluster>,
    pub dissenting: Vec<usize>,
    pub agreement_score: f64,
    pub majority_share: f64,
    pub level: &'static str,
}

/// Each response's content tokens as global ids: (id, count) pairs, and the vocabulary size.
fn term_vectors(analyses: &[Analysis]) -> (Vec<Vec<(u32, u32)>>, usize) {
    let mut interner = Interner::default();
    let vectors = analyses
        .iter()
        .map(|a| a.content_counts.iter().map(|&(local, count)| (interner.id(a.word(local), a.hash(local)).0, count)).collect())
        .collect();
    (vectors, interner.len())
}

/// The full symmetric matrix. Row i scatters response i into a dense array, then every
/// later response gathers against it: each value is computed independently (integer dot
/// products and intersection sizes, exact), so parallel rows change nothing.
pub fn similarity_matrix(analyses: &[Analysis], similarity: Similarity) -> Vec<Vec<f64>> {
    let (vectors, vocab) = term_vectors(analyses);
    let norms: Vec<u64> = vectors.iter().map(|v| v.iter().map(|&(_, c)| u64::from(c) * u64::from(c)).sum()).collect();
    let n = vectors.len();
    let mut matrix = vec![vec![1.0; n]; n];
    // Rows fill their upper part in parallel (disjoint rows); the lower part is mirrored after.
    matrix.par_iter_mut().enumerate().for_each_init(
        || vec![0u32; vocab],
        |dense, (i, row)| {
            let a = &vectors[i];
            for &(id, c) in a {
                dense[id as usize] = c;
            }
            for j in (i + 1)..n {
                let b = &vectors[j];
                row[j] = if a.is_empty() || b.is_empty() {
                    if a.is_empty() && b.is_empty() { 1.0 } else { 0.0 }
                } else {
                    match similarity {
                        Similarity::Cosine => {
                            let dot: u64 = b.iter().map(|&(id, c)| u64::from(dense[id as usize]) * u64::from(c)).sum();
                            // One square root of the exact product: identical vectors give exactly 1.0.
                            let product = u128::from(norms[i]) * u128::from(norms[j]);
                            (dot as f64 / (product as f64).sqrt()).min(1.0)
                        }
                        Similarity::Jaccard => {
                            let inter = b.iter().filter(|&&(id, _)| dense[id as usize] != 0).count() as u64;
                            inter as f64 / ((a.len() as u64 + b.len() as u64 - inter) as f64)
                        }
                    }
                };
            }
            for &(id, _) in a {
                dense[id as usize] = 0;
            }
        },
    );
    for i in 0..n {
        for j in 0..i {
            matrix[i][j] = matrix[j][i];
        }
    }
    matrix
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

pub fn consensus_from(responses: &[Response<'_>], analyses: &[Analysis], threshold: f64, similarity: Similarity) -> Consensus {
    let n = responses.len();
    let matrix = similarity_matrix(analyses, similarity);
    let weights: Vec<f64> = responses.iter().map(|r| r.confidence).collect();

    let mut uf = UnionFind::new(n);
    for i in 0..n {
        for j in (i + 1)..n {
            if matrix[i][j] >= threshold {
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
            .then_with(|| b.weight.partial_cmp(&a.weight).expect("finite weights"))
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
                    num += w * matrix[i][j];
                    den += w;
                    plain += matrix[i][j];
                }
            }
            let a = if den > 0.0 { num / den } else { plain / ((n * (n - 1) / 2) as f64) };
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
    consensus_from(responses, &analyses, threshold, similarity)
}
