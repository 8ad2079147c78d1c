//! Short tokens as integers: a token of at most 16 bytes (most words, in every script
//! the corpora use) is its bytes little-endian in one `u128`, zero-padded.
//!
//! Tokens never contain a 0 byte (it is not a word character), so the packed value
//! alone identifies the token, and comparing two tokens is one integer comparison
//! instead of a call to `memcmp`; hashing is one multiplication. Tokens are packed from
//! the text already lowered (`classify`).
//! Profiling (callgrind, 100 x 2 KB) showed interning at about 200 instructions per
//! token with string hashing, `memcmp` and copies; this is what it does instead.

/// The longest token that packs.
pub(crate) const MAX_LEN: usize = 16;

/// MASKS[len]: the low `len` bytes set (a table: a variable u128 shift is a branchy
/// sequence of instructions, a load is one).
const MASKS: [u128; MAX_LEN + 1] = {
    let mut m = [0u128; MAX_LEN + 1];
    let mut i = 1;
    while i <= MAX_LEN {
        m[i] = (m[i - 1] << 8) | 0xFF;
        i += 1;
    }
    m
};

/// `bytes[start..start + len]` (1 <= len <= 16) packed little-endian, zero-padded.
#[inline]
pub(crate) fn pack(bytes: &[u8], start: usize, len: usize) -> u128 {
    debug_assert!((1..=MAX_LEN).contains(&len));
    // One unaligned 16-byte load when the text goes on that far (almost always), masked.
    if let Some(chunk) = bytes.get(start..start + MAX_LEN) {
        let v = u128::from_le_bytes(chunk.try_into().expect("16 bytes"));
        return v & MASKS[len];
    }
    let mut buf = [0u8; MAX_LEN];
    buf[..len].copy_from_slice(&bytes[start..start + len]);
    u128::from_le_bytes(buf)
}

/// A 64-bit hash of a packed token: the folded 128-bit product of its two halves, each
/// mixed with a constant (as wyhash does). Neither factor can be zero: each constant
/// holds a byte (0x08, 0x03) that no token contains.
#[inline]
pub(crate) fn hash(v: u128) -> u64 {
    let lo = (v as u64) ^ 0x243f_6a88_85a3_08d3;
    let hi = ((v >> 64) as u64) ^ 0x1319_8a2e_0370_7344;
    let m = u128::from(lo) * u128::from(hi);
    (m as u64) ^ ((m >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(s: &str) -> u128 {
        pack(s.as_bytes(), 0, s.len())
    }

    #[test]
    fn pack_reads_the_same_with_or_without_room_after() {
        let text = "pool connections and a much longer tail after them";
        for (start, len) in [(0, 4), (5, 11), (0, 16), (17, 3)] {
            let long = pack(text.as_bytes(), start, len);
            assert_eq!(long, packed(&text[start..start + len]));
            assert_eq!(&long.to_le_bytes()[..len], &text.as_bytes()[start..start + len]);
        }
    }

    #[test]
    fn distinct_tokens_hash_apart() {
        let words = ["a", "b", "ab", "ba", "pool", "poo", "pools", "東京", "straße"];
        let hashes: std::collections::HashSet<u64> = words.iter().map(|w| hash(packed(w))).collect();
        assert_eq!(hashes.len(), words.len());
    }
}
