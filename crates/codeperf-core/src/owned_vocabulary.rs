//! A vocabulary that owns its words, for consensus: it drops each response's analysis as
//! soon as its words are counted (`term_rows`), so its word ids cannot borrow their texts
//! from the analyses as `intern::Interner`'s do. A word of up to 16 bytes is its packed
//! key (`packed`), so only the longer words' bytes are kept.

use crate::analysis::Analysis;
use crate::intern::{is_long_key, long_key, KeyTable};

#[derive(Default)]
pub(crate) struct OwnedVocabulary {
    table: KeyTable,
    /// Id -> the word's key: its packed form, or `long_key` of a longer word.
    keys: Vec<u128>,
    /// Id -> the range of a longer word in `long_words` (empty for a packed word).
    spans: Vec<(u32, u32)>,
    long_words: Vec<u8>,
}

impl OwnedVocabulary {
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// `id` for word `local` of an analysis: the common probe reads just its packed key
    /// from the arena; the word is sliced only when it is too long to pack. Inlined into
    /// the reading loop (a call per word cost about a tenth of its instructions).
    #[inline(always)]
    pub(crate) fn id_of(&mut self, a: &Analysis, local: u32) -> u32 {
        let key = a.key(local);
        if key == 0 {
            return self.insert_long(a.word(local).as_bytes());
        }
        let (id, new) = self.table.get_or_insert(key, self.keys.len() as u32, |_| false);
        if new {
            self.keys.push(key);
            let end = self.long_words.len() as u32;
            self.spans.push((end, end));
        }
        id
    }

    #[inline(never)]
    fn insert_long(&mut self, word: &[u8]) -> u32 {
        self.insert(long_key(word), word).0
    }

    /// The id here of word `id` of `other`, and whether it is new.
    #[inline]
    pub(crate) fn id_from(&mut self, other: &OwnedVocabulary, id: u32) -> (u32, bool) {
        let (s, e) = other.spans[id as usize];
        self.insert(other.keys[id as usize], &other.long_words[s as usize..e as usize])
    }

    /// `word` is read only for a long key (and is empty otherwise).
    #[inline]
    fn insert(&mut self, key: u128, word: &[u8]) -> (u32, bool) {
        let Self { table, keys, spans, long_words } = self;
        let same = |id: u32| {
            let (s, e) = spans[id as usize];
            &long_words[s as usize..e as usize] == word
        };
        let (id, new) = table.get_or_insert(key, keys.len() as u32, same);
        if new {
            keys.push(key);
            let start = long_words.len() as u32;
            if is_long_key(key) {
                long_words.extend_from_slice(word);
            }
            spans.push((start, long_words.len() as u32));
        }
        (id, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyze_one_for, Need};

    /// Ids by first occurrence, kept across the table's growth; long words (compared by
    /// their bytes) and packed ones apart; and the same words found again when joined
    /// from another vocabulary.
    #[test]
    fn ids_by_first_occurrence_and_joined_from_another() {
        let words: Vec<String> = (0..600)
            .map(|i| if i % 7 == 0 { format!("averylongwordbeyondsixteenbytes{i}") } else { format!("w{i}") })
            .collect();
        let text = words.join(" ");
        let a = analyze_one_for(&text, Need::ContentTokens);
        assert_eq!(a.content_counts.len(), words.len());
        let mut v = OwnedVocabulary::default();
        for round in 0..2 {
            for (local, w) in (0u32..).zip(&words) {
                assert_eq!(a.word(local), w);
                assert_eq!(v.id_of(&a, local), local, "{w}, round {round}");
            }
            assert_eq!(v.len(), words.len());
        }
        let b = analyze_one_for("w1", Need::ContentTokens);
        let mut joined = OwnedVocabulary::default();
        assert_eq!(joined.id_of(&b, 0), 0);
        for i in 0..words.len() as u32 {
            let expect = if i == 1 { 0 } else { i + u32::from(i == 0) };
            assert_eq!(joined.id_from(&v, i), (expect, i != 1), "word {i}");
        }
        assert_eq!(joined.len(), words.len());
    }

    #[test]
    fn long_words_under_one_key_stay_apart() {
        let mut v = OwnedVocabulary::default();
        let a = b"first long word beyond sixteen";
        let b = b"second long word beyond sixteen";
        // Both under one key: only the bytes tell them apart.
        let key = 7u128 << 8;
        assert_eq!(v.insert(key, a), (0, true));
        assert_eq!(v.insert(key, b), (1, true));
        assert_eq!(v.insert(key, b), (1, false));
        assert_eq!(v.insert(key, a), (0, false));
    }
}
