//! Interning of words: per response (`KeyTable`, probed once per token occurrence) and
//! across responses (`Interner`: each response already hashed its distinct words once,
//! so joining them globally costs one probe per distinct word per response).

use rustc_hash::FxHasher;
use std::hash::Hasher;

use crate::analysis::Analysis;
use crate::packed;

/// The hash of a word too long to pack (`packed`): FxHash of its bytes.
#[inline]
fn hash_bytes(s: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(s);
    h.finish()
}

/// The table key of a word too long to pack: its hash shifted up one byte. Its low byte
/// is 0, which no packed word's is (a packed word's first byte is a word character), so
/// the two kinds never meet; equal long keys are then told apart by comparing the words.
#[inline]
pub(crate) fn long_key(word: &[u8]) -> u128 {
    u128::from(hash_bytes(word)) << 8
}

#[inline]
pub(crate) fn is_long_key(key: u128) -> bool {
    key as u8 == 0
}

/// One slot: the key's two halves (24 bytes instead of a `u128`'s padded 32), the id,
/// and the generation that wrote it.
#[derive(Clone, Copy, Default)]
struct Slot {
    lo: u64,
    hi: u64,
    id: u32,
    stamp: u32,
}

/// Keys (packed words, or `long_key`s) to ids: open addressing with linear probing,
/// the key stored in the slot so a probe is one load and two compares (profiled:
/// hashbrown's probe with the key compared through an id indirection cost about three
/// times as many instructions per token). `clear` starts a new generation instead of
/// wiping the slots, so a table reused for every response of a thread costs nothing to
/// empty. At most half full.
pub(crate) struct KeyTable {
    slots: Vec<Slot>,
    /// The current generation; slots of any other are empty. Never 0 (fresh slots' value).
    stamp: u32,
    len: usize,
    /// 64 - log2(slots): the hash's top bits pick the first slot.
    shift: u32,
}

const MIN_SLOTS: usize = 256;

impl Default for KeyTable {
    fn default() -> Self {
        KeyTable { slots: Vec::new(), stamp: 1, len: 0, shift: 64 }
    }
}

impl KeyTable {
    /// Forget every entry: O(1) but once in 2^32 calls (the generation wraps).
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.slots.iter_mut().for_each(|s| s.stamp = 0);
            self.stamp = 1;
        }
    }

    /// `get_or_insert` for the word `low[s..e]` of over 16 bytes: probed by its hash
    /// (`long_key`), told apart from a colliding word by its text; `span(id)` is a known
    /// word's range in `low` (a per-response scan keeps words as ranges of the text).
    pub(crate) fn get_or_insert_long(&mut self, low: &[u8], s: usize, e: usize, new_id: u32,
                                     span: impl Fn(u32) -> (usize, usize)) -> (u32, bool) {
        let word = &low[s..e];
        self.get_or_insert(long_key(word), new_id, |id| {
            let (a, b) = span(id);
            &low[a..b] == word
        })
    }

    /// The id stored for `key`, and false; or `new_id` stored for it, and true. For a
    /// long key, `same(id)` says whether the word of `id` is the word looked up.
    #[inline]
    pub(crate) fn get_or_insert(&mut self, key: u128, new_id: u32, same: impl Fn(u32) -> bool) -> (u32, bool) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let (lo, hi) = (key as u64, (key >> 64) as u64);
        let mut i = (packed::hash(key) >> self.shift) as usize;
        loop {
            // SAFETY: `grow` above left at least MIN_SLOTS slots, a power of two, so
            // `i & mask` < slots.len() (the checked index cost a compare, a branch and
            // the length's register in the token loop).
            let s = unsafe { self.slots.get_unchecked_mut(i & mask) };
            if s.stamp != self.stamp {
                *s = Slot { lo, hi, id: new_id, stamp: self.stamp };
                self.len += 1;
                return (new_id, true);
            }
            if s.lo == lo && s.hi == hi && (!is_long_key(key) || same(s.id)) {
                return (s.id, false);
            }
            i += 1;
        }
    }

    #[cold]
    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); cap]);
        let (old_stamp, stamp) = (self.stamp, 1);
        self.stamp = stamp;
        self.shift = 64 - cap.trailing_zeros();
        for s in old.into_iter().filter(|s| s.stamp == old_stamp) {
            let key = u128::from(s.lo) | (u128::from(s.hi) << 64);
            let mut i = (packed::hash(key) >> self.shift) as usize;
            while self.slots[i].stamp == stamp {
                i = (i + 1) & (cap - 1);
            }
            self.slots[i] = Slot { stamp, ..s };
        }
    }
}

/// Words of many responses to global ids. `key` is a word's packed form (`packed`), or
/// 0 when it is longer than 16 bytes; long words are compared as strings.
#[derive(Default)]
pub(crate) struct Interner<'a> {
    table: KeyTable,
    pub(crate) words: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    /// The id of `word`, and whether it is new.
    #[inline]
    pub(crate) fn id(&mut self, word: &'a str, key: u128) -> (u32, bool) {
        let key = if key != 0 { key } else { long_key(word.as_bytes()) };
        let words = &self.words;
        let (id, new) = self.table.get_or_insert(key, words.len() as u32, |id| words[id as usize] == word);
        if new {
            self.words.push(word);
        }
        (id, new)
    }

    /// `id` for a word of an analysis, by its local id: the word's text is sliced only
    /// when it is new or too long to pack (the common probe reads just the packed key).
    /// Inlined into the joins' loops (a call per word cost ~20 instructions of the ~80).
    #[inline(always)]
    pub(crate) fn id_of(&mut self, a: &'a Analysis, local: u32) -> (u32, bool) {
        let key = a.key(local);
        if key == 0 {
            return self.id(a.word(local), 0);
        }
        let (id, new) = self.table.get_or_insert(key, self.words.len() as u32, |_| false);
        if new {
            self.words.push(a.word(local));
        }
        (id, new)
    }

    pub(crate) fn len(&self) -> usize {
        self.words.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_keeps_ids_across_growth_and_long_words_apart() {
        let words: Vec<String> = (0..2000).map(|i| format!("w{i}")).collect();
        let long: Vec<String> = (0..50).map(|i| format!("a-very-long-word-beyond-sixteen-bytes-{i}")).collect();
        let mut interner = Interner::default();
        for round in 0..2 {
            for (i, w) in words.iter().enumerate() {
                let (id, new) = interner.id(w, packed::pack(w.as_bytes(), 0, w.len()));
                assert_eq!((id as usize, new), (i, round == 0));
            }
            for (i, w) in long.iter().enumerate() {
                let (id, new) = interner.id(w, 0);
                assert_eq!((id as usize, new), (words.len() + i, round == 0));
            }
        }
        assert_eq!(interner.len(), words.len() + long.len());
    }

    #[test]
    fn long_keys_that_collide_are_told_apart_by_the_word() {
        let mut t = KeyTable::default();
        let words = ["first long word here", "second long word here"];
        // Both under one key: only `same` separates them.
        let key = 7u128 << 8;
        assert_eq!(t.get_or_insert(key, 0, |_| unreachable!()), (0, true));
        assert_eq!(t.get_or_insert(key, 1, |id| words[id as usize] == words[1]), (1, true));
        assert_eq!(t.get_or_insert(key, 2, |id| words[id as usize] == words[1]), (1, false));
    }

    #[test]
    fn clear_forgets_everything_even_when_the_generation_wraps() {
        let mut t = KeyTable::default();
        for round in 0..3u32 {
            for k in 1..300u128 {
                assert_eq!(t.get_or_insert(k, k as u32, |_| false), (k as u32, true), "round {round}");
            }
            t.clear();
            if round == 0 {
                t.stamp = u32::MAX; // the next clear wraps
            }
        }
    }
}
