//! Interning of words across responses: each response already hashed its distinct words
//! once, so joining them globally costs one table probe per distinct word per response.

use hashbrown::HashTable;
use rustc_hash::FxHasher;
use std::hash::Hasher;

use crate::packed;

/// The hash of a word too long to pack (`packed`): FxHash of its bytes.
#[inline]
pub fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    h.finish()
}

/// Words of many responses to global ids. Words that pack (at most 16 bytes) are
/// compared as integers (`packed`); longer ones (key 0) as strings.
#[derive(Default)]
pub struct Interner<'a> {
    table: HashTable<u32>,
    pub words: Vec<&'a str>,
    keys: Vec<u128>,
}

#[inline]
fn hash_of(word: &str, key: u128) -> u64 {
    if key != 0 { packed::hash(key) } else { hash_str(word) }
}

impl<'a> Interner<'a> {
    /// The id of `word`, and whether it is new. `key` is the word's packed form, or 0
    /// when it is longer than 16 bytes (`Analysis::key`).
    #[inline]
    pub fn id(&mut self, word: &'a str, key: u128) -> (u32, bool) {
        let hash = hash_of(word, key);
        let (words, keys) = (&self.words, &self.keys);
        if let Some(&id) = self.table.find(hash, |&k| keys[k as usize] == key && (key != 0 || words[k as usize] == word)) {
            return (id, false);
        }
        let id = self.words.len() as u32;
        self.words.push(word);
        self.keys.push(key);
        let (words, keys) = (&self.words, &self.keys);
        self.table.insert_unique(hash, id, |&k| hash_of(words[k as usize], keys[k as usize]));
        (id, true)
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }
}
