//! Interning of words across responses: each response already hashed its distinct words
//! once, so joining them globally costs one table probe per distinct word per response.

use hashbrown::HashTable;
use rustc_hash::FxHasher;
use std::hash::Hasher;

#[inline]
pub fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    h.finish()
}

#[derive(Default)]
pub struct Interner<'a> {
    table: HashTable<u32>,
    pub words: Vec<&'a str>,
    hashes: Vec<u64>,
}

impl<'a> Interner<'a> {
    /// The id of `word` (whose hash is `hash`), and whether it is new.
    #[inline]
    pub fn id(&mut self, word: &'a str, hash: u64) -> (u32, bool) {
        let words = &self.words;
        if let Some(&id) = self.table.find(hash, |&k| words[k as usize] == word) {
            return (id, false);
        }
        let id = self.words.len() as u32;
        self.words.push(word);
        self.hashes.push(hash);
        let hashes = &self.hashes;
        self.table.insert_unique(hash, id, |&k| hashes[k as usize]);
        (id, true)
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }
}
