//! LtHash: the additive multiset hash behind the state root
//! (docs/metachain.md, "State root: LtHash").
//!
//! The accumulator is 1024 lanes of 16 bits. Each element maps to a vector of
//! 1024 lanes by blake3's XOF (2048 bytes, read as little-endian u16s) in
//! derive-key mode with the context [`CONTEXT`]; adding an element adds its
//! vector lane-wise mod 2^16, removing it subtracts it. The order of additions
//! does not matter, so a block updates the root in work proportional to the
//! accounts and slots it touched. The checksum is blake3 of the 2048-byte
//! accumulator.

use alloy_primitives::{Address, B256, U256};
use std::fmt;

/// Number of 16-bit lanes.
pub const LANES: usize = 1024;

/// Size of the accumulator and of an element's vector in bytes.
pub const BYTES: usize = LANES * 2;

/// blake3 derive-key context that separates LtHash element vectors from
/// every other use of blake3.
pub const CONTEXT: &str = "defi-metachain lthash v1";

/// An LtHash accumulator. [`LtHash::new`] is the hash of the empty multiset.
#[derive(Clone, PartialEq, Eq)]
pub struct LtHash([u16; LANES]);

impl Default for LtHash {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LtHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LtHash({})", self.checksum())
    }
}

impl LtHash {
    /// The empty multiset: all lanes zero.
    pub const fn new() -> Self {
        Self([0; LANES])
    }

    /// The vector of one element: blake3 XOF (derive-key mode, [`CONTEXT`])
    /// of `element`, 2048 bytes as 1024 little-endian lanes.
    pub fn of(element: &[u8]) -> Self {
        let mut bytes = [0u8; BYTES];
        blake3::Hasher::new_derive_key(CONTEXT)
            .update(element)
            .finalize_xof()
            .fill(&mut bytes);
        let mut lanes = [0u16; LANES];
        for (lane, pair) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([pair[0], pair[1]]);
        }
        Self(lanes)
    }

    /// Adds `element` to the multiset.
    pub fn add(&mut self, element: &[u8]) {
        self.add_hash(&Self::of(element));
    }

    /// Removes `element` from the multiset (it should have been added).
    pub fn remove(&mut self, element: &[u8]) {
        self.sub_hash(&Self::of(element));
    }

    /// Adds every element of `other`'s multiset.
    pub fn add_hash(&mut self, other: &LtHash) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_add(*b);
        }
    }

    /// Removes every element of `other`'s multiset.
    pub fn sub_hash(&mut self, other: &LtHash) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_sub(*b);
        }
    }

    /// Whether this is the empty multiset's hash.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&l| l == 0)
    }

    /// The 32-byte root: blake3 of [`LtHash::to_bytes`].
    pub fn checksum(&self) -> B256 {
        B256::from(*blake3::hash(&self.to_bytes()).as_bytes())
    }

    /// The accumulator as 2048 bytes, lanes little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BYTES);
        for lane in &self.0 {
            out.extend_from_slice(&lane.to_le_bytes());
        }
        out
    }

    /// The accumulator stored by [`LtHash::to_bytes`]; `None` unless exactly
    /// 2048 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != BYTES {
            return None;
        }
        let mut lanes = [0u16; LANES];
        for (lane, pair) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([pair[0], pair[1]]);
        }
        Some(Self(lanes))
    }
}

/// The element of a non-empty account: `"acct" || address || nonce (8, BE) ||
/// balance (32, BE) || code_hash` (96 bytes).
pub fn account_element(addr: &Address, nonce: u64, balance: U256, code_hash: B256) -> Vec<u8> {
    let mut e = Vec::with_capacity(4 + 20 + 8 + 32 + 32);
    e.extend_from_slice(b"acct");
    e.extend_from_slice(addr.as_slice());
    e.extend_from_slice(&nonce.to_be_bytes());
    e.extend_from_slice(&balance.to_be_bytes::<32>());
    e.extend_from_slice(code_hash.as_slice());
    e
}

/// The element of a non-zero storage slot: `"slot" || address || key (32, BE)
/// || value (32, BE)` (88 bytes).
pub fn slot_element(addr: &Address, key: U256, value: U256) -> Vec<u8> {
    let mut e = Vec::with_capacity(4 + 20 + 32 + 32);
    e.extend_from_slice(b"slot");
    e.extend_from_slice(addr.as_slice());
    e.extend_from_slice(&key.to_be_bytes::<32>());
    e.extend_from_slice(&value.to_be_bytes::<32>());
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256, hex, keccak256};

    fn elements() -> Vec<Vec<u8>> {
        let a = address!("9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
        vec![
            account_element(&a, 1, U256::from(10u64).pow(U256::from(18)), keccak256([])),
            slot_element(&a, U256::from(1), U256::from(42)),
            b"".to_vec(),
            b"x".to_vec(),
        ]
    }

    #[test]
    fn element_encodings() {
        let a = address!("9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
        let e = account_element(&a, 0x0102, U256::from(0x0304), B256::repeat_byte(0xcc));
        assert_eq!(e.len(), 96);
        assert_eq!(&e[..4], b"acct");
        assert_eq!(&e[4..24], a.as_slice());
        assert_eq!(&e[24..32], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(&e[32..62], &[0; 30]);
        assert_eq!(&e[62..64], &[3, 4]);
        assert_eq!(&e[64..], &[0xcc; 32]);
        let s = slot_element(&a, U256::from(5), U256::MAX);
        assert_eq!(s.len(), 88);
        assert_eq!(&s[..4], b"slot");
        assert_eq!(&s[4..24], a.as_slice());
        assert_eq!(s[55], 5);
        assert_eq!(&s[56..], &[0xff; 32]);
    }

    #[test]
    fn order_independent() {
        let els = elements();
        let mut fwd = LtHash::new();
        els.iter().for_each(|e| fwd.add(e));
        let mut rev = LtHash::new();
        els.iter().rev().for_each(|e| rev.add(e));
        assert_eq!(fwd, rev);
        assert_eq!(fwd.checksum(), rev.checksum());
        // a multiset: adding twice differs from adding once
        let mut twice = fwd.clone();
        twice.add(&els[0]);
        assert_ne!(twice, fwd);
    }

    #[test]
    fn add_then_remove_is_identity() {
        let els = elements();
        let mut h = LtHash::new();
        h.add(&els[0]);
        let before = h.clone();
        for e in &els[1..] {
            h.add(e);
        }
        for e in els[1..].iter().rev() {
            h.remove(e);
        }
        assert_eq!(h, before);
        h.remove(&els[0]);
        assert!(h.is_empty());
        assert_eq!(h, LtHash::new());
        // removing first and adding later also nets out (wrapping lanes)
        let mut w = LtHash::new();
        w.remove(b"y");
        w.add(b"y");
        assert!(w.is_empty());
    }

    #[test]
    fn add_and_sub_hash() {
        let els = elements();
        let mut all = LtHash::new();
        els.iter().for_each(|e| all.add(e));
        let mut part = LtHash::new();
        part.add(&els[1]);
        part.add(&els[3]);
        let mut rest = all.clone();
        rest.sub_hash(&part);
        let mut expected = LtHash::new();
        expected.add(&els[0]);
        expected.add(&els[2]);
        assert_eq!(rest, expected);
        rest.add_hash(&part);
        assert_eq!(rest, all);
    }

    #[test]
    fn bytes_round_trip() {
        let mut h = LtHash::new();
        elements().iter().for_each(|e| h.add(e));
        let b = h.to_bytes();
        assert_eq!(b.len(), BYTES);
        assert_eq!(u16::from_le_bytes([b[0], b[1]]), h.0[0]);
        assert_eq!(LtHash::from_bytes(&b), Some(h.clone()));
        assert_eq!(LtHash::from_bytes(&b[..BYTES - 1]), None);
        assert_eq!(LtHash::from_bytes(&[b.clone(), vec![0]].concat()), None);
        assert_eq!(LtHash::from_bytes(&[]), None);
        assert_eq!(format!("{h:?}"), format!("LtHash({})", h.checksum()));
    }

    /// Frozen answers, also computed independently in Python with the
    /// `blake3` package (derive_key_context, 2048-byte XOF, u16 LE lanes
    /// summed mod 2^16, blake3 of the accumulator).
    #[test]
    fn known_answers() {
        assert_eq!(
            LtHash::new().checksum(),
            b256!("be2a8de3dcf46c94ce85cdc8e07ac308f4d8a95490d956c38d780fd610db0813")
        );
        let x = LtHash::of(b"x");
        assert_eq!(hex::encode(&x.to_bytes()[..8]), "be4898c8a0c06df6");
        let mut h = LtHash::new();
        elements().iter().for_each(|e| h.add(e));
        assert_eq!(
            h.checksum(),
            b256!("754c12ca5a2547c9be6158c6cde9d572b3fbf5490a645c5c20b15bb498822cc3")
        );
    }
}
