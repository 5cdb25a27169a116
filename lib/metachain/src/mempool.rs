//! The pool of signed transfers waiting for a block. Bounded; per sender the
//! nonces are contiguous from the account's nonce and the pending amounts fit
//! its balance, so every pooled tx would apply in pool order.

use crate::hashing::Hash;
use crate::state::Account;
use ain_rs::types::MetaTx;
use std::collections::{BTreeMap, HashMap};

/// Default capacity in transactions.
pub const DEFAULT_LIMIT: usize = 50_000;

/// Why a transfer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// Breaks a rule (bad nonce, insufficient balance, bad signature).
    Invalid(String),
    /// Already pooled.
    Duplicate(String),
    /// The pool is at capacity.
    Full(usize),
}

#[derive(Debug)]
pub struct Mempool {
    /// (sender, nonce) -> (hash, tx): iteration gives each sender's txs in nonce order.
    txs: BTreeMap<(String, u64), (Hash, MetaTx)>,
    hashes: HashMap<Hash, (String, u64)>,
    limit: usize,
}

impl Mempool {
    pub fn new(limit: usize) -> Self {
        Self {
            txs: BTreeMap::new(),
            hashes: HashMap::new(),
            limit,
        }
    }

    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.hashes.contains_key(hash)
    }

    /// The txs in the order a block applies them.
    pub fn ordered(&self) -> impl Iterator<Item = &MetaTx> {
        self.txs.values().map(|(_, tx)| tx)
    }

    /// How many of `sender`'s txs are pooled.
    pub fn pending_count(&self, sender: &str) -> u64 {
        self.pending(sender).count() as u64
    }

    fn pending(&self, sender: &str) -> impl Iterator<Item = &MetaTx> {
        self.txs
            .range((sender.to_string(), 0)..=(sender.to_string(), u64::MAX))
            .map(|(_, (_, tx))| tx)
    }

    /// Admits a tx whose signature and addresses were already checked, given
    /// the committed account of its sender.
    pub fn add(&mut self, hash: Hash, tx: MetaTx, sender: Account) -> Result<(), Reject> {
        if self.hashes.contains_key(&hash) {
            return Err(Reject::Duplicate(format!(
                "tx {} is already in the mempool",
                hex::encode(hash)
            )));
        }
        if self.txs.len() >= self.limit {
            return Err(Reject::Full(self.limit));
        }
        let (count, spent) = self.pending(&tx.from).fold((0u64, 0i64), |(n, s), t| {
            (n + 1, s.saturating_add(t.amount))
        });
        let expected = sender.nonce + count;
        if tx.nonce != expected {
            return Err(Reject::Invalid(if tx.nonce < sender.nonce {
                format!(
                    "nonce too low: {} < account nonce {}",
                    tx.nonce, sender.nonce
                )
            } else if tx.nonce < expected {
                format!("nonce {} is already used by a pending tx", tx.nonce)
            } else {
                format!("nonce gap: got {}, expected {expected}", tx.nonce)
            }));
        }
        let available = sender.balance.saturating_sub(spent);
        if tx.amount > available {
            return Err(Reject::Invalid(format!(
                "insufficient balance: {} available, {} needed",
                available, tx.amount
            )));
        }
        self.hashes.insert(hash, (tx.from.clone(), tx.nonce));
        self.txs.insert((tx.from.clone(), tx.nonce), (hash, tx));
        Ok(())
    }

    /// Takes one tx out, if pooled.
    pub fn remove(&mut self, hash: &Hash) {
        if let Some(key) = self.hashes.remove(hash) {
            self.txs.remove(&key);
        }
    }

    /// Empties the pool, returning its txs in order.
    pub fn drain(&mut self) -> Vec<(Hash, MetaTx)> {
        self.hashes.clear();
        std::mem::take(&mut self.txs).into_values().collect()
    }
}
