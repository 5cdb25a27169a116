//! Account state and the incremental state root.
//!
//! The root is the sum, modulo 2^256, of one leaf hash per non-empty account.
//! Changing an account subtracts its old leaf and adds its new one, so a block
//! costs work in the accounts it touches, not in all accounts.

use sha2::{Digest, Sha256};

/// Balance and nonce of one meta address.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Account {
    #[prost(int64, tag = "1")]
    pub balance: i64,
    #[prost(uint64, tag = "2")]
    pub nonce: u64,
}

impl Account {
    pub fn is_empty(&self) -> bool {
        self.balance == 0 && self.nonce == 0
    }
}

/// A 256-bit accumulator, little-endian limbs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateRoot([u64; 4]);

impl StateRoot {
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != 32 {
            return None;
        }
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i * 8..i * 8 + 8]);
            *limb = u64::from_le_bytes(w);
        }
        Some(Self(limbs))
    }

    pub fn to_bytes(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, limb) in self.0.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&limb.to_le_bytes());
        }
        out
    }

    fn add(&mut self, x: &[u64; 4]) {
        let mut carry = false;
        for (a, b) in self.0.iter_mut().zip(x) {
            let (s1, c1) = a.overflowing_add(*b);
            let (s2, c2) = s1.overflowing_add(carry as u64);
            *a = s2;
            carry = c1 || c2;
        }
    }

    fn sub(&mut self, x: &[u64; 4]) {
        let mut borrow = false;
        for (a, b) in self.0.iter_mut().zip(x) {
            let (d1, b1) = a.overflowing_sub(*b);
            let (d2, b2) = d1.overflowing_sub(borrow as u64);
            *a = d2;
            borrow = b1 || b2;
        }
    }

    /// Replaces `old` by `new` for `address` in the accumulator.
    pub fn update(&mut self, address: &str, old: &Account, new: &Account) {
        if !old.is_empty() {
            self.sub(&leaf(address, old));
        }
        if !new.is_empty() {
            self.add(&leaf(address, new));
        }
    }
}

fn leaf(address: &str, account: &Account) -> [u64; 4] {
    let mut h = Sha256::new();
    h.update(b"dmc-account");
    h.update((address.len() as u32).to_le_bytes());
    h.update(address.as_bytes());
    h.update(account.balance.to_le_bytes());
    h.update(account.nonce.to_le_bytes());
    let digest = h.finalize();
    StateRoot::from_bytes(&digest)
        .map(|r| r.0)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_order_independent_and_reversible() {
        let a = Account {
            balance: 5,
            nonce: 0,
        };
        let b = Account {
            balance: 9,
            nonce: 2,
        };
        let mut r1 = StateRoot::default();
        r1.update("x", &Account::default(), &a);
        r1.update("y", &Account::default(), &b);
        let mut r2 = StateRoot::default();
        r2.update("y", &Account::default(), &b);
        r2.update("x", &Account::default(), &a);
        assert_eq!(r1, r2);
        r2.update("x", &a, &Account::default());
        r2.update("y", &b, &Account::default());
        assert_eq!(r2, StateRoot::default());
        assert_eq!(StateRoot::from_bytes(&r1.to_bytes()), Some(r1));
    }
}
