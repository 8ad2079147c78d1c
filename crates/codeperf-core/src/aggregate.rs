//! aggregate_responses (docs/algorithms.md, "Aggregation"): twin of python/codeperf/engine/aggregate.py.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::intern::{long_key, KeyTable};
use crate::recommend_scan::{self, Found, WordKey};
use crate::model::Response;
use crate::stats::{mean, order, percentile, stdev};
use crate::unionfind::UnionFind;

/// Jaccard of content-token sets at or above which two recommendations merge.
pub const NEAR_DUPLICATE: f64 = 0.6;
pub const HISTOGRAM_BUCKETS: usize = 10;
const PARALLEL_MIN_CANDIDATES: usize = 2048;

#[derive(Debug, Clone, PartialEq)]
pub struct MergedRecommendation {
    pub text: String,
    pub support: usize,
    pub response_indices: Vec<usize>,
    pub variants: usize,
    pub mean_confidence: f64,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub name: String,
    /// The index of the group's first response (bindings name the group with that
    /// response's own string instead of a copy).
    pub first: usize,
    pub responses: usize,
    pub mean_confidence: f64,
    pub mean_latency_ms: f64,
    /// u128: a sum of u64 token counts cannot overflow it.
    pub total_tokens: u128,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    pub confidence_mean: Option<f64>,
    pub confidence_median: Option<f64>,
    pub confidence_stdev: Option<f64>,
    pub confidence_min: Option<f64>,
    pub confidence_max: Option<f64>,
    pub latency_mean: Option<f64>,
    pub latency_p50: Option<f64>,
    pub latency_p95: Option<f64>,
    pub latency_max: Option<f64>,
    pub prompt_tokens: u128,
    pub completion_tokens: u128,
    pub cost_usd: f64,
    pub per_expert: Vec<Breakdown>,
    pub per_model: Vec<Breakdown>,
    pub confidence_histogram: [u64; HISTOGRAM_BUCKETS],
}

#[derive(Debug)]
pub struct Aggregate {
    pub recommendations: Vec<MergedRecommendation>,
    pub statistics: Statistics,
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| order(*a, *b));
    v
}

/// One name's sums while `breakdown` reads the responses.
struct Sums {
    first: usize,
    responses: usize,
    confidence: f64,
    latency_ms: f64,
    tokens: u128,
    cost_usd: f64,
}

/// Per distinct name, in order of first appearance, in one pass: each row's sums are
/// accumulated in input order, exactly as summing the group's members in order
/// (`stats::mean`), without a list of members or of values per group (three
/// allocations per name before: ~100 names per call on the corpora).
fn breakdown<'a>(responses: &'a [Response<'a>], key: impl Fn(&'a Response<'a>) -> &'a str) -> Vec<Breakdown> {
    let mut row_of: FxHashMap<&str, usize> = FxHashMap::default();
    let mut rows: Vec<Sums> = Vec::new();
    for (i, r) in responses.iter().enumerate() {
        let k = *row_of.entry(key(r)).or_insert_with(|| {
            rows.push(Sums { first: i, responses: 0, confidence: 0.0, latency_ms: 0.0, tokens: 0, cost_usd: 0.0 });
            rows.len() - 1
        });
        let row = &mut rows[k];
        row.responses += 1;
        row.confidence += r.confidence;
        row.latency_ms += r.latency_ms;
        row.tokens += u128::from(r.prompt_tokens) + u128::from(r.completion_tokens);
        row.cost_usd += r.cost_usd;
    }
    rows.into_iter()
        .map(|row| Breakdown {
            name: key(&responses[row.first]).to_string(),
            first: row.first,
            responses: row.responses,
            mean_confidence: row.confidence / row.responses as f64,
            mean_latency_ms: row.latency_ms / row.responses as f64,
            total_tokens: row.tokens,
            cost_usd: row.cost_usd,
        })
        .collect()
}

pub(crate) fn statistics(responses: &[Response<'_>]) -> Statistics {
    let conf: Vec<f64> = responses.iter().map(|r| r.confidence).collect();
    let lat: Vec<f64> = responses.iter().map(|r| r.latency_ms).collect();
    let conf_sorted = sorted(conf.clone());
    let lat_sorted = sorted(lat.clone());
    let (mut prompt, mut completion, mut cost) = (0u128, 0u128, 0.0f64);
    let mut histogram = [0u64; HISTOGRAM_BUCKETS];
    for r in responses {
        prompt += u128::from(r.prompt_tokens);
        completion += u128::from(r.completion_tokens);
        cost += r.cost_usd;
        let bucket = ((r.confidence * HISTOGRAM_BUCKETS as f64) as usize).min(HISTOGRAM_BUCKETS - 1);
        histogram[bucket] += 1;
    }
    Statistics {
        confidence_mean: mean(&conf),
        confidence_median: percentile(&conf_sorted, 50),
        confidence_stdev: stdev(&conf),
        confidence_min: conf_sorted.first().copied(),
        confidence_max: conf_sorted.last().copied(),
        latency_mean: mean(&lat),
        latency_p50: percentile(&lat_sorted, 50),
        latency_p95: percentile(&lat_sorted, 95),
        latency_max: lat_sorted.last().copied(),
        prompt_tokens: prompt,
        completion_tokens: completion,
        cost_usd: cost,
        per_expert: breakdown(responses, |r| r.expert),
        per_model: breakdown(responses, |r| r.model),
        confidence_histogram: histogram,
    }
}

#[inline]
fn near_duplicate(a: &[u32], b: &[u32]) -> bool {
    let (small, large) = if a.len() <= b.len() { (a.len(), b.len()) } else { (b.len(), a.len()) };
    if (small as f64) < NEAR_DUPLICATE * large as f64 {
        return false; // Jaccard <= small / large: cannot reach the bar
    }
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter as f64 / ((a.len() + b.len() - inter) as f64) >= NEAR_DUPLICATE
}

/// Lists of u32 stored back to back (one allocation for all, not one per list).
#[derive(Default)]
struct Lists {
    items: Vec<u32>,
    ends: Vec<usize>,
}

impl Lists {
    fn get(&self, k: usize) -> &[u32] {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.items[start..self.ends[k]]
    }

    fn close(&mut self) {
        self.ends.push(self.items.len());
    }
}

/// Pairs (c, d) of candidates among `reps` whose keys are near-duplicates.
///
/// Prefix filtering: with tokens ordered rarest first, two sets with Jaccard >= 3/5
/// share a token within the first `len - ceil(3 len / 5) + 1` tokens of each, so only
/// pairs meeting there are verified. The filter never drops a qualifying pair, so the
/// result equals checking every pair; `near_duplicate` decides each one.
fn similar_pairs(reps: &[usize], keys: &Lists, vocab: usize) -> Vec<(usize, usize)> {
    let mut freq = vec![0u32; vocab];
    for &c in reps {
        for &t in keys.get(c) {
            freq[t as usize] += 1;
        }
    }
    let mut ordered = Lists::default();
    for &c in reps {
        let from = ordered.items.len();
        ordered.items.extend_from_slice(keys.get(c));
        ordered.items[from..].sort_unstable_by_key(|&t| (freq[t as usize], t));
        ordered.close();
    }
    let prefix = |k: &[u32]| k.len() - (3 * k.len()).div_ceil(5) + 1;
    // Postings of each token (the reps with it in their prefix, ascending), as one
    // array with offsets: counted, then filled.
    let mut starts = vec![0usize; vocab + 1];
    for r in 0..reps.len() {
        let k = ordered.get(r);
        for &t in &k[..prefix(k)] {
            starts[t as usize + 1] += 1;
        }
    }
    for t in 0..vocab {
        starts[t + 1] += starts[t];
    }
    let mut fill = starts.clone();
    let mut postings = vec![0u32; starts[vocab]];
    for r in 0..reps.len() {
        let k = ordered.get(r);
        for &t in &k[..prefix(k)] {
            postings[fill[t as usize]] = r as u32;
            fill[t as usize] += 1;
        }
    }
    let probe = |r: usize, partners: &mut Vec<u32>, out: &mut Vec<(usize, usize)>| {
        let k = ordered.get(r);
        partners.clear();
        for &t in &k[..prefix(k)] {
            let list = &postings[starts[t as usize]..starts[t as usize + 1]];
            let from = list.partition_point(|&q| q as usize <= r);
            partners.extend_from_slice(&list[from..]);
        }
        partners.sort_unstable();
        partners.dedup();
        let c = reps[r];
        for &q in partners.iter() {
            let d = reps[q as usize];
            if near_duplicate(keys.get(c), keys.get(d)) {
                out.push((c, d));
            }
        }
    };
    // Small joins stay on the calling thread (waking the pool costs more than it saves).
    if reps.len() >= PARALLEL_MIN_CANDIDATES {
        let per_rep: Vec<Vec<(usize, usize)>> = (0..reps.len())
            .into_par_iter()
            .map_init(Vec::new, |partners, r| {
                let mut out = Vec::new();
                probe(r, partners, &mut out);
                out
            })
            .collect();
        per_rep.concat()
    } else {
        let (mut partners, mut out) = (Vec::new(), Vec::new());
        for r in 0..reps.len() {
            probe(r, &mut partners, &mut out);
        }
        out
    }
}

/// Every kept recommendation (candidate) in input order: its response, its index among
/// that response's recommendations, and its key as global word ids, ascending; and the
/// number of distinct words.
///
/// A key word is its packed form (`recommend_scan::WordKey`), so joining the words of
/// every key is one probe per word of a table of integers (no text read; words longer
/// than 16 bytes, rare, are compared as strings). Ids are given by first occurrence; the
/// merge depends on them only through which words are equal.
fn global_keys(found: &[Found]) -> (Vec<usize>, Vec<usize>, Lists, usize) {
    let (mut owner, mut nth, mut keys) = (Vec::new(), Vec::new(), Lists::default());
    let words: usize = found.iter().map(|f| f.keys().map(<[WordKey]>::len).sum::<usize>()).sum();
    keys.items.reserve(words);
    let mut table = KeyTable::default();
    // Global id -> the word, for words longer than 16 bytes ("" for the others).
    let mut long: Vec<&str> = Vec::new();
    for (i, f) in found.iter().enumerate() {
        for (k, key) in f.keys().enumerate() {
            owner.push(i);
            nth.push(k);
            let from = keys.items.len();
            for &w in key {
                let next = long.len() as u32;
                let (id, new) = if w as u8 != 0 {
                    table.get_or_insert(w, next, |_| false)
                } else {
                    let word = f.long_word(w);
                    table.get_or_insert(long_key(word.as_bytes()), next, |id| long[id as usize] == word)
                };
                if new {
                    long.push(if w as u8 != 0 { "" } else { f.long_word(w) });
                }
                keys.items.push(id);
            }
            keys.items[from..].sort_unstable();
            keys.close();
        }
    }
    (owner, nth, keys, long.len())
}

pub(crate) fn merge_recommendations(responses: &[Response<'_>], found: &[Found]) -> Vec<MergedRecommendation> {
    let (owner, nth, keys, vocab) = global_keys(found);
    let m = owner.len();
    let mut uf = UnionFind::new(m);
    // Candidates with identical keys are near-duplicates (Jaccard 1): merge them at once
    // and join only the distinct keys, through each one's first member.
    let mut distinct: FxHashMap<&[u32], usize> = FxHashMap::default();
    let mut reps: Vec<usize> = Vec::new();
    for c in 0..m {
        match distinct.get(keys.get(c)) {
            Some(&first) => uf.union(first, c),
            None => {
                distinct.insert(keys.get(c), c);
                reps.push(c);
            }
        }
    }
    for (c, d) in similar_pairs(&reps, &keys, vocab) {
        uf.union(c, d);
    }
    let n = responses.len();
    let mut merged: Vec<(usize, MergedRecommendation)> = uf
        .groups()
        .into_iter()
        .map(|members| {
            let root = members[0];
            let mut supporters: Vec<usize> = members.iter().map(|&c| owner[c]).collect();
            supporters.dedup(); // owners are non-decreasing in candidate order
            let conf: Vec<f64> = supporters.iter().map(|&s| responses[s].confidence).collect();
            let mean_confidence = mean(&conf).expect("a group has a supporter");
            let support = supporters.len();
            (root, MergedRecommendation {
                text: found[owner[root]].text(responses[owner[root]].content, nth[root]),
                support,
                response_indices: supporters,
                variants: members.len(),
                mean_confidence,
                score: (support as f64 / n as f64) * mean_confidence,
            })
        })
        .collect();
    merged.sort_by(|(ra, a), (rb, b)| {
        order(b.score, a.score)
            .then_with(|| b.support.cmp(&a.support))
            .then_with(|| ra.cmp(rb))
    });
    merged.into_iter().map(|(_, r)| r).collect()
}

pub fn aggregate_responses(responses: &[Response<'_>]) -> Aggregate {
    // Each response's recommendations, and nothing else of it (`recommend_scan`).
    let found = recommend_scan::find_all(responses);
    Aggregate { recommendations: merge_recommendations(responses, &found), statistics: statistics(responses) }
}
