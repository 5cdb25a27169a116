//! Hashes that commit blocks: block hash, tx root, receipts root.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn sha256(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

/// Binary merkle root of `leaves` (the last leaf pairs with itself on odd
/// levels); all zeros for no leaves.
pub fn merkle_root(mut level: Vec<Hash>) -> Hash {
    if level.is_empty() {
        return [0u8; 32];
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| {
                let mut h = Sha256::new();
                h.update(pair[0]);
                h.update(pair.get(1).unwrap_or(&pair[0]));
                h.finalize().into()
            })
            .collect();
    }
    level[0]
}
