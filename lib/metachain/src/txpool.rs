//! The EVM txpool (docs/metachain.md, Txpool) as a pure data structure: no
//! storage and no execution. The engine persists what it admits and asks the
//! state for nonces and balances.
//!
//! - [`decode`] runs every stateless check of a raw tx (size, type, chain id,
//!   gas, fees, signature) and recovers its sender; [`recover_all`] does it
//!   for a block's txs on all cores.
//! - [`TxPool`] keeps each sender's txs by nonce: those contiguous from the
//!   account nonce are pending (executable), the others queued. [`TxPool::best`]
//!   yields pending txs by effective tip, each sender's in nonce order.

use crate::chain::ChainParams;
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, Bytes, B256, U256};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// Largest raw tx accepted: 128 KiB.
pub const MAX_TX_SIZE: usize = 128 * 1024;

/// Largest create initcode (EIP-3860: twice the EIP-170 code size limit).
pub const MAX_INITCODE_SIZE: usize = 49_152;

/// Most txs one sender may have in the pool.
pub const PER_SENDER_LIMIT: usize = 64;

/// Default limit of the whole pool (`mempool_limit`).
pub const DEFAULT_POOL_LIMIT: usize = 10_000;

/// A replacement must raise both max fee and tip by at least this percentage.
pub const PRICE_BUMP_PERCENT: u64 = 10;

const TX_GAS: u64 = 21_000;
const TX_CREATE_GAS: u64 = 32_000;
const TX_DATA_ZERO_GAS: u64 = 4;
const TX_DATA_NON_ZERO_GAS: u64 = 16;
const ACCESS_LIST_ADDRESS_GAS: u64 = 2_400;
const ACCESS_LIST_STORAGE_KEY_GAS: u64 = 1_900;
const INITCODE_WORD_GAS: u64 = 2;

/// Why a tx was not admitted. The text is the message the caller shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Malformed or not valid here (`InvalidArgument`).
    #[error("{0}")]
    Invalid(String),
    /// The same tx is already in the pool (`AlreadyExists`).
    #[error("{0}")]
    Known(String),
    /// A same-nonce replacement without the required fee bump (`InvalidArgument`).
    #[error("{0}")]
    Underpriced(String),
    /// The pool or the sender's share of it is full (`ResourceExhausted`).
    #[error("{0}")]
    Full(String),
}

impl PoolError {
    /// The message alone.
    pub fn message(&self) -> &str {
        match self {
            PoolError::Invalid(m)
            | PoolError::Known(m)
            | PoolError::Underpriced(m)
            | PoolError::Full(m) => m,
        }
    }
}

fn invalid(message: impl Into<String>) -> PoolError {
    PoolError::Invalid(message.into())
}

/// A decoded, statelessly valid tx with its recovered sender.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolTx {
    /// keccak256 of `raw`.
    pub hash: B256,
    /// The recovered signer.
    pub sender: Address,
    pub nonce: u64,
    /// Max fee per gas (the gas price of a legacy or EIP-2930 tx).
    pub max_fee: u128,
    /// Max priority fee per gas (the gas price of a legacy or EIP-2930 tx).
    pub max_priority_fee: u128,
    pub gas_limit: u64,
    /// The most the tx can cost: `gas_limit * max_fee + value` (wei).
    pub cost: U256,
    /// The canonical EIP-2718 encoding.
    pub raw: Bytes,
    pub tx: TxEnvelope,
}

impl PoolTx {
    /// `min(max_priority_fee, max_fee - base_fee)`, or `None` if the max fee
    /// is below `base_fee` (the tx cannot be included yet).
    pub fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        let spare = self.max_fee.checked_sub(u128::from(base_fee))?;
        Some(spare.min(self.max_priority_fee))
    }
}

/// Gas a tx uses before executing: 21000, 32000 more for a create plus
/// EIP-3860's 2 per initcode word, 4 per zero and 16 per other data byte,
/// 2400 per access-list address and 1900 per storage key.
pub fn intrinsic_gas(tx: &TxEnvelope) -> u64 {
    let input = tx.input();
    let zeros = input.iter().filter(|&&b| b == 0).count() as u64;
    let non_zeros = input.len() as u64 - zeros;
    let mut gas = TX_GAS
        .saturating_add(zeros.saturating_mul(TX_DATA_ZERO_GAS))
        .saturating_add(non_zeros.saturating_mul(TX_DATA_NON_ZERO_GAS));
    if tx.is_create() {
        let words = (input.len() as u64).div_ceil(32);
        gas = gas
            .saturating_add(TX_CREATE_GAS)
            .saturating_add(words.saturating_mul(INITCODE_WORD_GAS));
    }
    if let Some(list) = tx.access_list() {
        for item in list.iter() {
            gas = gas.saturating_add(ACCESS_LIST_ADDRESS_GAS).saturating_add(
                (item.storage_keys.len() as u64).saturating_mul(ACCESS_LIST_STORAGE_KEY_GAS),
            );
        }
    }
    gas
}

/// Decodes a raw EIP-2718 tx and runs every check that needs no state:
/// size, type (legacy with EIP-155, EIP-2930, EIP-1559), canonical encoding,
/// chain id, gas limit against the block's, initcode size, intrinsic gas,
/// fee sanity and floor, and the signature (low s), whose signer becomes
/// the sender.
pub fn decode(raw: &[u8], chain: &ChainParams) -> Result<PoolTx, PoolError> {
    if raw.len() > MAX_TX_SIZE {
        return Err(invalid(format!(
            "oversized tx: {} bytes, the limit is {MAX_TX_SIZE}",
            raw.len()
        )));
    }
    let Some(&first) = raw.first() else {
        return Err(invalid("malformed tx: empty"));
    };
    match first {
        1 | 2 => {}
        0xc0..=0xff => {} // legacy: an RLP list
        3 => return Err(invalid("blob txs (EIP-4844, type 3) are not supported")),
        4 => return Err(invalid("set-code txs (EIP-7702, type 4) are not supported")),
        0..=0x7f => return Err(invalid(format!("unsupported tx type {first}"))),
        _ => return Err(invalid("malformed tx: neither a typed tx nor an RLP list")),
    }
    let tx =
        TxEnvelope::decode_2718_exact(raw).map_err(|e| invalid(format!("malformed tx: {e}")))?;
    if tx.encoded_2718() != raw {
        return Err(invalid("malformed tx: non-canonical encoding"));
    }
    match tx.chain_id() {
        None => {
            return Err(invalid(
                "legacy tx without a chain id (pre-EIP-155) is not accepted",
            ))
        }
        Some(id) if id != chain.chain_id => {
            return Err(invalid(format!(
                "wrong chain id: got {id}, this chain is {}",
                chain.chain_id
            )))
        }
        Some(_) => {}
    }
    let gas_limit = tx.gas_limit();
    if gas_limit > chain.gas_limit {
        return Err(invalid(format!(
            "gas limit {gas_limit} above the block gas limit {}",
            chain.gas_limit
        )));
    }
    if tx.is_create() && tx.input().len() > MAX_INITCODE_SIZE {
        return Err(invalid(format!(
            "initcode too large: {} bytes, the limit is {MAX_INITCODE_SIZE}",
            tx.input().len()
        )));
    }
    let intrinsic = intrinsic_gas(&tx);
    if intrinsic > gas_limit {
        return Err(invalid(format!(
            "intrinsic gas too low: needs {intrinsic}, limit {gas_limit}"
        )));
    }
    let max_fee = tx.max_fee_per_gas();
    let max_priority_fee = tx.max_priority_fee_per_gas().unwrap_or(max_fee);
    if max_priority_fee > max_fee {
        return Err(invalid(format!(
            "max priority fee per gas {max_priority_fee} above max fee per gas {max_fee}"
        )));
    }
    if max_fee < u128::from(chain.min_base_fee) {
        return Err(invalid(format!(
            "max fee per gas below the minimum {}: got {max_fee}",
            chain.min_base_fee
        )));
    }
    let cost = U256::from(gas_limit)
        .checked_mul(U256::from(max_fee))
        .and_then(|gas_cost| gas_cost.checked_add(tx.value()))
        .ok_or_else(|| invalid("tx cost gas * price + value overflows 256 bits"))?;
    let sender = tx
        .recover_signer()
        .map_err(|e| invalid(format!("bad signature: {e}")))?;
    Ok(PoolTx {
        // canonical, so this is keccak256(raw)
        hash: *tx.tx_hash(),
        sender,
        nonce: tx.nonce(),
        max_fee,
        max_priority_fee,
        gas_limit,
        cost,
        raw: Bytes::copy_from_slice(raw),
        tx,
    })
}

/// Fewest txs per thread worth a thread of their own (a recovery takes
/// tens of microseconds; a thread about as long to start).
const MIN_TXS_PER_THREAD: usize = 16;

/// [`decode`]s every raw tx of a block on all cores, keeping their order.
/// On failure, the lowest failing index and its error.
pub fn recover_all<T: AsRef<[u8]> + Sync>(
    raws: &[T],
    chain: &ChainParams,
) -> Result<Vec<PoolTx>, (usize, PoolError)> {
    let decode_chunk = |start: usize, chunk: &[T]| -> Result<Vec<PoolTx>, (usize, PoolError)> {
        chunk
            .iter()
            .enumerate()
            .map(|(i, raw)| decode(raw.as_ref(), chain).map_err(|e| (start + i, e)))
            .collect()
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(raws.len() / MIN_TXS_PER_THREAD).max(1);
    if threads == 1 {
        return decode_chunk(0, raws);
    }
    let chunk_len = raws.len().div_ceil(threads);
    let chunks: Vec<(usize, &[T])> = raws
        .chunks(chunk_len)
        .enumerate()
        .map(|(n, chunk)| (n * chunk_len, chunk))
        .collect();
    let Some((&(last_start, last), others)) = chunks.split_last() else {
        return Ok(Vec::new());
    };
    let results: Vec<Result<Vec<PoolTx>, (usize, PoolError)>> = std::thread::scope(|s| {
        // one thread per chunk but the last, which this thread decodes
        let spawned: Vec<_> = others
            .iter()
            .map(|&(start, chunk)| {
                std::thread::Builder::new()
                    .name("mc-recover".into())
                    .spawn_scoped(s, move || decode_chunk(start, chunk))
                    // without a thread, decode the chunk here
                    .map_err(|_| decode_chunk(start, chunk))
            })
            .collect();
        let last = decode_chunk(last_start, last);
        let mut results: Vec<_> = spawned
            .into_iter()
            .zip(others)
            .map(|(handle, &(start, _))| match handle {
                Ok(h) => h.join().unwrap_or_else(|_| {
                    Err((start, invalid("internal error: tx decoding panicked")))
                }),
                Err(done) => done,
            })
            .collect();
        results.push(last);
        results
    });
    let mut txs = Vec::with_capacity(raws.len());
    for r in results {
        txs.extend(r?);
    }
    Ok(txs)
}

/// A pooled tx and when it arrived (orders equal tips).
#[derive(Debug, Clone)]
struct Entry {
    tx: PoolTx,
    seq: u64,
}

/// The txpool: per sender, txs by nonce.
#[derive(Debug, Clone)]
pub struct TxPool {
    limit: usize,
    next_seq: u64,
    by_hash: HashMap<B256, (Address, u64)>,
    by_sender: HashMap<Address, BTreeMap<u64, Entry>>,
}

impl Default for TxPool {
    fn default() -> Self {
        Self::new(DEFAULT_POOL_LIMIT)
    }
}

/// `new` is at least `old` plus [`PRICE_BUMP_PERCENT`].
fn bumped_enough(new: u128, old: u128) -> bool {
    U256::from(new) * U256::from(100) >= U256::from(old) * U256::from(100 + PRICE_BUMP_PERCENT)
}

impl TxPool {
    /// An empty pool holding at most `limit` txs.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            next_seq: 0,
            by_hash: HashMap::new(),
            by_sender: HashMap::new(),
        }
    }

    /// The most txs the pool holds.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Admits `tx` given its sender's account nonce and balance. Returns the
    /// hash of the same-nonce tx it replaced, if any. On error the pool is
    /// unchanged.
    pub fn add(
        &mut self,
        tx: PoolTx,
        account_nonce: u64,
        balance: U256,
    ) -> Result<Option<B256>, PoolError> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(PoolError::Known(format!("already known: {}", tx.hash)));
        }
        if tx.nonce < account_nonce {
            return Err(invalid(format!(
                "nonce too low: got {}, account nonce is {account_nonce}",
                tx.nonce
            )));
        }
        if balance < tx.cost {
            return Err(invalid(format!(
                "insufficient funds for gas * price + value: have {balance}, want {}",
                tx.cost
            )));
        }
        let sender_txs = self.by_sender.get(&tx.sender);
        let replaced = match sender_txs.and_then(|txs| txs.get(&tx.nonce)) {
            Some(old) => {
                let old = &old.tx;
                if !bumped_enough(tx.max_fee, old.max_fee)
                    || !bumped_enough(tx.max_priority_fee, old.max_priority_fee)
                {
                    return Err(PoolError::Underpriced(format!(
                        "replacement underpriced: max fee {} and priority fee {} must both be at \
                         least {PRICE_BUMP_PERCENT}% above the pooled tx's {} and {}",
                        tx.max_fee, tx.max_priority_fee, old.max_fee, old.max_priority_fee
                    )));
                }
                Some(old.hash)
            }
            None => {
                let count = sender_txs.map_or(0, BTreeMap::len);
                if count >= PER_SENDER_LIMIT {
                    return Err(PoolError::Full(format!(
                        "sender {} already has {PER_SENDER_LIMIT} txs in the pool (the limit)",
                        tx.sender
                    )));
                }
                if self.by_hash.len() >= self.limit {
                    return Err(PoolError::Full(format!(
                        "txpool is full: {} txs (the limit)",
                        self.limit
                    )));
                }
                None
            }
        };
        if let Some(old) = replaced {
            self.by_hash.remove(&old);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_hash.insert(tx.hash, (tx.sender, tx.nonce));
        self.by_sender
            .entry(tx.sender)
            .or_default()
            .insert(tx.nonce, Entry { tx, seq });
        Ok(replaced)
    }

    /// Removes the tx with this hash.
    pub fn remove(&mut self, hash: &B256) -> Option<PoolTx> {
        let (sender, nonce) = self.by_hash.remove(hash)?;
        let txs = self.by_sender.get_mut(&sender)?;
        let entry = txs.remove(&nonce);
        if txs.is_empty() {
            self.by_sender.remove(&sender);
        }
        entry.map(|e| e.tx)
    }

    /// Removes `sender`'s txs with a nonce below `account_nonce` (mined, or
    /// superseded by a mined tx of the same nonce).
    pub fn prune_sender(&mut self, sender: &Address, account_nonce: u64) -> Vec<PoolTx> {
        let Some(txs) = self.by_sender.get_mut(sender) else {
            return Vec::new();
        };
        let keep = txs.split_off(&account_nonce);
        let stale = std::mem::replace(txs, keep);
        if txs.is_empty() {
            self.by_sender.remove(sender);
        }
        stale
            .into_values()
            .map(|e| {
                self.by_hash.remove(&e.tx.hash);
                e.tx
            })
            .collect()
    }

    /// [`TxPool::prune_sender`] for every sender.
    pub fn prune(&mut self, nonce_of: impl Fn(&Address) -> u64) -> Vec<PoolTx> {
        let senders: Vec<Address> = self.by_sender.keys().copied().collect();
        senders
            .iter()
            .flat_map(|s| self.prune_sender(s, nonce_of(s)))
            .collect()
    }

    /// The pooled tx with this hash.
    pub fn get(&self, hash: &B256) -> Option<&PoolTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce).map(|e| &e.tx)
    }

    /// Whether a tx with this hash is pooled.
    pub fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// The nonce `sender`'s next tx should have: `account_nonce` plus the
    /// number of pooled txs contiguous from it.
    pub fn pending_nonce(&self, sender: &Address, account_nonce: u64) -> u64 {
        let mut next = account_nonce;
        if let Some(txs) = self.by_sender.get(sender) {
            for &nonce in txs.range(account_nonce..).map(|(n, _)| n) {
                if nonce != next {
                    break;
                }
                next = next.saturating_add(1);
            }
        }
        next
    }

    /// `sender`'s pooled txs in nonce order.
    pub fn sender_txs<'a>(&'a self, sender: &Address) -> impl Iterator<Item = &'a PoolTx> + 'a {
        self.by_sender
            .get(sender)
            .into_iter()
            .flat_map(|txs| txs.values().map(|e| &e.tx))
    }

    /// Every pooled tx, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &PoolTx> + '_ {
        self.by_sender
            .values()
            .flat_map(|txs| txs.values().map(|e| &e.tx))
    }

    /// The executable txs in the order to include them: each sender's
    /// nonce-contiguous from `nonce_of(sender)`; across senders by effective
    /// tip at `base_fee`, highest first (equal tips: earliest arrival). A tx
    /// whose max fee is below `base_fee` is left out with its sender's later
    /// ones. A caller that skips a tx must skip its sender's later ones too.
    pub fn best(&self, base_fee: u64, nonce_of: impl Fn(&Address) -> u64) -> Vec<PoolTx> {
        /// A sender's next executable tx.
        struct Head<'a> {
            tip: u128,
            seq: u64,
            nonce: u64,
            txs: &'a BTreeMap<u64, Entry>,
        }
        impl Ord for Head<'_> {
            fn cmp(&self, other: &Self) -> Ordering {
                // max-heap: higher tip first, then lower seq first
                self.tip
                    .cmp(&other.tip)
                    .then_with(|| other.seq.cmp(&self.seq))
            }
        }
        impl PartialOrd for Head<'_> {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl PartialEq for Head<'_> {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == Ordering::Equal
            }
        }
        impl Eq for Head<'_> {}

        let head = |txs: &BTreeMap<u64, Entry>, nonce: u64| -> Option<(u128, u64)> {
            let e = txs.get(&nonce)?;
            Some((e.tx.effective_tip(base_fee)?, e.seq))
        };
        let mut heap = BinaryHeap::with_capacity(self.by_sender.len());
        for (sender, txs) in &self.by_sender {
            let nonce = nonce_of(sender);
            if let Some((tip, seq)) = head(txs, nonce) {
                heap.push(Head {
                    tip,
                    seq,
                    nonce,
                    txs,
                });
            }
        }
        let mut out = Vec::new();
        while let Some(h) = heap.pop() {
            if let Some(e) = h.txs.get(&h.nonce) {
                out.push(e.tx.clone());
            }
            let Some(nonce) = h.nonce.checked_add(1) else {
                continue;
            };
            if let Some((tip, seq)) = head(h.txs, nonce) {
                heap.push(Head {
                    tip,
                    seq,
                    nonce,
                    txs: h.txs,
                });
            }
        }
        out
    }

    /// Empties the pool, returning its txs in arrival order.
    pub fn drain(&mut self) -> Vec<PoolTx> {
        self.by_hash.clear();
        let mut entries: Vec<Entry> = self
            .by_sender
            .drain()
            .flat_map(|(_, txs)| txs.into_values())
            .collect();
        entries.sort_by_key(|e| e.seq);
        entries.into_iter().map(|e| e.tx).collect()
    }

    /// Number of pooled txs.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the pool holds no tx.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::params;
    use crate::keys::{sign_transfer, MetaKey};
    use alloy_consensus::{Signed, TxEip1559, TxEip2930, TxLegacy};
    use alloy_eips::eip2930::{AccessList, AccessListItem};
    use alloy_primitives::{address, keccak256, Signature, TxKind};

    const GWEI: u128 = 1_000_000_000;
    const GWEI64: u64 = 1_000_000_000;
    const TO: Address = address!("3535353535353535353535353535353535353535");

    fn chain() -> ChainParams {
        params("regtest").unwrap()
    }

    fn rich() -> U256 {
        U256::from(10u64).pow(U256::from(21))
    }

    fn raw_1559(key: &MetaKey, nonce: u64, max_fee: u128, tip: u128) -> Vec<u8> {
        sign_transfer(key, 1132, nonce, TO, U256::from(1), max_fee, tip, 21_000)
    }

    fn tx(key: &MetaKey, nonce: u64, max_fee: u128, tip: u128) -> PoolTx {
        decode(&raw_1559(key, nonce, max_fee, tip), &chain()).unwrap()
    }

    fn eip1559(nonce: u64) -> TxEip1559 {
        TxEip1559 {
            chain_id: 1132,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 2 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to: TxKind::Call(TO),
            value: U256::from(5),
            access_list: Default::default(),
            input: Default::default(),
        }
    }

    fn legacy(chain_id: Option<u64>) -> TxLegacy {
        TxLegacy {
            chain_id,
            nonce: 0,
            gas_price: 2 * GWEI,
            gas_limit: 21_000,
            to: TxKind::Call(TO),
            value: U256::from(5),
            input: Default::default(),
        }
    }

    fn err(raw: &[u8]) -> String {
        match decode(raw, &chain()) {
            Err(PoolError::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    /// What the pool holds, to check that a refusal changed nothing.
    fn snapshot(pool: &TxPool) -> Vec<B256> {
        let mut v: Vec<B256> = pool.iter().map(|t| t.hash).collect();
        v.sort();
        assert_eq!(v.len(), pool.len());
        v
    }

    #[test]
    fn decodes_all_three_types() {
        let k = MetaKey::random();
        let t = decode(&k.sign_tx(eip1559(3)), &chain()).unwrap();
        assert_eq!(t.sender, k.address());
        assert_eq!((t.nonce, t.gas_limit), (3, 21_000));
        assert_eq!((t.max_fee, t.max_priority_fee), (2 * GWEI, GWEI));
        assert_eq!(t.cost, U256::from(21_000 * 2 * GWEI + 5));
        assert_eq!(t.hash, keccak256(&t.raw));
        assert_eq!(t.hash, *t.tx.tx_hash());

        let t = decode(&k.sign_tx(legacy(Some(1132))), &chain()).unwrap();
        assert_eq!(t.sender, k.address());
        assert_eq!((t.max_fee, t.max_priority_fee), (2 * GWEI, 2 * GWEI));

        let t2930 = TxEip2930 {
            chain_id: 1132,
            nonce: 1,
            gas_price: 3 * GWEI,
            gas_limit: 21_000 + 2_400 + 1_900,
            to: TxKind::Call(TO),
            value: U256::ZERO,
            access_list: AccessList(vec![AccessListItem {
                address: TO,
                storage_keys: vec![B256::ZERO],
            }]),
            input: Default::default(),
        };
        let t = decode(&k.sign_tx(t2930), &chain()).unwrap();
        assert_eq!(t.sender, k.address());
        assert_eq!(intrinsic_gas(&t.tx), 25_300);
    }

    #[test]
    fn refuses_malformed_and_unsupported() {
        let k = MetaKey::random();
        let good = k.sign_tx(eip1559(0));
        assert!(err(&vec![0xc0; MAX_TX_SIZE + 1]).contains("oversized tx"));
        assert!(err(&[]).contains("empty"));
        assert!(err(&[3, 0xc0]).contains("type 3"));
        assert!(err(&[4, 0xc0]).contains("type 4"));
        for ty in [0u8, 5, 0x7e, 0x7f] {
            assert!(err(&[ty, 0xc0]).contains("unsupported tx type"), "{ty}");
        }
        assert!(err(&[0x80]).contains("malformed"));
        assert!(err(&[2]).contains("malformed"));
        assert!(err(&[2, 0xc0]).contains("malformed"));
        assert!(err(&[0xc0]).contains("malformed"));
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(err(&trailing).contains("malformed"));
        assert!(err(&good[..good.len() - 1]).contains("malformed"));
        // a list length with a leading zero byte: not canonical RLP
        assert_eq!(good[1], 0xf8);
        let mut padded = vec![2u8, 0xf9, 0];
        padded.extend_from_slice(&good[2..]);
        assert!(err(&padded).contains("malformed"));
        // every truncation and every single-byte change is refused or, if
        // it still decodes, is a different tx: never a panic
        for i in 0..good.len() {
            let _ = decode(&good[..i], &chain());
            let mut b = good.clone();
            b[i] ^= 0x55;
            if let Ok(t) = decode(&b, &chain()) {
                assert_ne!(t.hash, keccak256(&good));
            }
        }
    }

    #[test]
    fn refuses_wrong_chain_and_pre_eip155() {
        let k = MetaKey::random();
        assert!(err(&k.sign_tx(legacy(None))).contains("pre-EIP-155"));
        assert_eq!(
            err(&k.sign_tx(legacy(Some(1)))),
            "wrong chain id: got 1, this chain is 1132"
        );
        let mut t = eip1559(0);
        t.chain_id = 1130;
        assert_eq!(
            err(&k.sign_tx(t)),
            "wrong chain id: got 1130, this chain is 1132"
        );
        // the same tx is fine on its own chain
        assert!(decode(&k.sign_tx(legacy(Some(1130))), &params("main").unwrap()).is_ok());
    }

    #[test]
    fn refuses_bad_gas() {
        let k = MetaKey::random();
        let mut t = eip1559(0);
        t.gas_limit = 30_000_001;
        assert_eq!(
            err(&k.sign_tx(t)),
            "gas limit 30000001 above the block gas limit 30000000"
        );
        let mut t = eip1559(0);
        t.gas_limit = 30_000_000;
        assert!(decode(&k.sign_tx(t), &chain()).is_ok());

        let mut t = eip1559(0);
        t.gas_limit = 20_999;
        assert_eq!(
            err(&k.sign_tx(t)),
            "intrinsic gas too low: needs 21000, limit 20999"
        );
        // data: 2 zero bytes (4 each) and 3 others (16 each)
        let mut t = eip1559(0);
        t.input = vec![0, 1, 0, 2, 3].into();
        t.gas_limit = 21_055;
        assert_eq!(
            err(&k.sign_tx(t.clone())),
            "intrinsic gas too low: needs 21056, limit 21055"
        );
        t.gas_limit = 21_056;
        assert!(decode(&k.sign_tx(t), &chain()).is_ok());
        // create: 32000 more and 2 per initcode word (33 bytes = 2 words)
        let mut t = eip1559(0);
        t.to = TxKind::Create;
        t.input = vec![1; 33].into();
        t.gas_limit = 21_000 + 32_000 + 33 * 16 + 2 * 2;
        assert!(decode(&k.sign_tx(t.clone()), &chain()).is_ok());
        t.gas_limit -= 1;
        assert!(err(&k.sign_tx(t)).contains("intrinsic gas too low: needs 53532"));
        // access list: 2400 per address, 1900 per key
        let mut t = eip1559(0);
        t.access_list = AccessList(vec![
            AccessListItem {
                address: TO,
                storage_keys: vec![B256::ZERO, B256::repeat_byte(1)],
            },
            AccessListItem {
                address: Address::ZERO,
                storage_keys: vec![],
            },
        ]);
        t.gas_limit = 21_000 + 2 * 2_400 + 2 * 1_900 - 1;
        assert_eq!(
            err(&k.sign_tx(t)),
            "intrinsic gas too low: needs 29600, limit 29599"
        );
        // initcode limit (EIP-3860)
        let mut t = eip1559(0);
        t.to = TxKind::Create;
        t.gas_limit = 30_000_000;
        t.input = vec![0; MAX_INITCODE_SIZE].into();
        assert!(decode(&k.sign_tx(t.clone()), &chain()).is_ok());
        t.input = vec![0; MAX_INITCODE_SIZE + 1].into();
        assert_eq!(
            err(&k.sign_tx(t)),
            "initcode too large: 49153 bytes, the limit is 49152"
        );
    }

    #[test]
    fn refuses_bad_fees() {
        let k = MetaKey::random();
        let mut t = eip1559(0);
        t.max_priority_fee_per_gas = t.max_fee_per_gas + 1;
        assert!(err(&k.sign_tx(t)).contains("max priority fee per gas 2000000001 above"));
        let mut t = eip1559(0);
        t.max_fee_per_gas = GWEI - 1;
        t.max_priority_fee_per_gas = 0;
        assert_eq!(
            err(&k.sign_tx(t)),
            "max fee per gas below the minimum 1000000000: got 999999999"
        );
        let mut t = legacy(Some(1132));
        t.gas_price = GWEI - 1;
        assert!(err(&k.sign_tx(t)).contains("below the minimum"));
        let mut t = eip1559(0);
        t.max_fee_per_gas = GWEI;
        t.max_priority_fee_per_gas = 0;
        assert!(decode(&k.sign_tx(t), &chain()).is_ok());
        // gas * price + value beyond 2^256
        let mut t = eip1559(0);
        t.max_fee_per_gas = u128::MAX;
        t.value = U256::MAX;
        assert!(err(&k.sign_tx(t)).contains("overflows"));
    }

    #[test]
    fn refuses_bad_signatures() {
        let k = MetaKey::random();
        let tx = eip1559(0);
        let good = k.sign_hash(&alloy_consensus::SignableTransaction::signature_hash(&tx));
        let n = U256::from_be_bytes([
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C,
            0xD0, 0x36, 0x41, 0x41,
        ]);
        let encode =
            |sig: Signature| TxEnvelope::from(Signed::new_unhashed(tx.clone(), sig)).encoded_2718();
        assert_eq!(decode(&encode(good), &chain()).unwrap().sender, k.address());
        // the malleated twin (n - s, other parity): high s, EIP-2
        let high = Signature::new(good.r(), n - good.s(), !good.v());
        assert!(err(&encode(high)).contains("bad signature"));
        for sig in [
            Signature::new(U256::ZERO, good.s(), good.v()),
            Signature::new(good.r(), U256::ZERO, good.v()),
            Signature::new(n, good.s(), good.v()),
            Signature::new(U256::MAX, U256::MAX, true),
        ] {
            assert!(err(&encode(sig)).contains("bad signature"));
        }
        // another signature is another sender, not an error
        let other = Signature::new(good.r(), good.s(), !good.v());
        if let Ok(t) = decode(&encode(other), &chain()) {
            assert_ne!(t.sender, k.address());
        }
    }

    #[test]
    fn recover_all_keeps_order_and_names_first_failure() {
        let keys: Vec<MetaKey> = (0..5).map(|_| MetaKey::random()).collect();
        let raws: Vec<Vec<u8>> = (0..60)
            .map(|i| raw_1559(&keys[i % 5], i as u64, 2 * GWEI, GWEI))
            .collect();
        let txs = recover_all(&raws, &chain()).unwrap();
        assert_eq!(txs.len(), 60);
        for (i, t) in txs.iter().enumerate() {
            assert_eq!(t.nonce, i as u64);
            assert_eq!(t.sender, keys[i % 5].address());
        }
        let slices: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
        assert_eq!(recover_all(&slices, &chain()).unwrap(), txs);
        assert!(recover_all::<Vec<u8>>(&[], &chain()).unwrap().is_empty());

        let mut bad = raws.clone();
        bad[45] = vec![3, 0xc0];
        bad[7] = vec![];
        bad[50] = vec![0xde, 0xad];
        let (i, e) = recover_all(&bad, &chain()).unwrap_err();
        assert_eq!(i, 7);
        assert!(e.message().contains("empty"));
        let (i, _) = recover_all(&bad[8..], &chain()).unwrap_err();
        assert_eq!(i, 45 - 8);
        assert_eq!(recover_all(&bad[..7], &chain()).unwrap().len(), 7);
    }

    #[test]
    fn add_refusals_leave_pool_unchanged() {
        let k = MetaKey::random();
        let mut pool = TxPool::new(100);
        let t0 = tx(&k, 5, 2 * GWEI, GWEI);
        assert_eq!(pool.add(t0.clone(), 5, rich()), Ok(None));
        let before = snapshot(&pool);

        assert_eq!(
            pool.add(t0.clone(), 5, rich()),
            Err(PoolError::Known(format!("already known: {}", t0.hash)))
        );
        assert_eq!(
            pool.add(tx(&k, 4, 2 * GWEI, GWEI), 5, rich()),
            Err(PoolError::Invalid(
                "nonce too low: got 4, account nonce is 5".into()
            ))
        );
        let t6 = tx(&k, 6, 2 * GWEI, GWEI);
        let want = U256::from(21_000 * 2 * GWEI + 1);
        assert_eq!(
            pool.add(t6.clone(), 5, want - U256::from(1)),
            Err(PoolError::Invalid(format!(
                "insufficient funds for gas * price + value: have {}, want {want}",
                want - U256::from(1)
            )))
        );
        // 9% more is not enough
        let r = pool.add(tx(&k, 5, 2 * GWEI * 109 / 100, GWEI * 109 / 100), 5, rich());
        assert!(
            matches!(&r, Err(PoolError::Underpriced(m)) if m.starts_with("replacement underpriced"))
        );
        // 10% more max fee but the same tip
        let r = pool.add(tx(&k, 5, 2 * GWEI * 110 / 100, GWEI), 5, rich());
        assert!(matches!(r, Err(PoolError::Underpriced(_))));
        // the same tip bump but not the max fee
        let r = pool.add(tx(&k, 5, 2 * GWEI * 109 / 100, GWEI * 2), 5, rich());
        assert!(matches!(r, Err(PoolError::Underpriced(_))));
        assert_eq!(snapshot(&pool), before);
        assert_eq!(pool.get(&t0.hash), Some(&t0));

        // exactly enough funds is fine
        assert_eq!(pool.add(t6, 5, want), Ok(None));
    }

    #[test]
    fn replacement_at_exactly_ten_percent() {
        let k = MetaKey::random();
        let mut pool = TxPool::new(100);
        let old = tx(&k, 0, 2 * GWEI, GWEI);
        pool.add(old.clone(), 0, rich()).unwrap();
        let new = tx(&k, 0, 2 * GWEI * 110 / 100, GWEI * 110 / 100);
        assert_eq!(pool.add(new.clone(), 0, rich()), Ok(Some(old.hash)));
        assert_eq!(pool.len(), 1);
        assert!(pool.get(&old.hash).is_none());
        assert!(!pool.contains(&old.hash));
        assert_eq!(pool.get(&new.hash), Some(&new));
        assert_eq!(pool.best(GWEI64, |_| 0), vec![new.clone()]);
        // the replaced tx can come back only with a further bump
        assert!(matches!(
            pool.add(old, 0, rich()),
            Err(PoolError::Underpriced(_))
        ));
        // replacing works at the sender limit and the pool limit
        let mut full = TxPool::new(1);
        let a = tx(&k, 0, 2 * GWEI, GWEI);
        full.add(a.clone(), 0, rich()).unwrap();
        assert_eq!(full.add(new.clone(), 0, rich()), Ok(Some(a.hash)));
        assert!(bumped_enough(u128::MAX, u128::MAX / 2));
        assert!(!bumped_enough(u128::MAX, u128::MAX));
        assert!(bumped_enough(0, 0));
    }

    #[test]
    fn queued_tx_is_promoted_when_the_gap_fills() {
        let k = MetaKey::random();
        let mut pool = TxPool::new(100);
        let t1 = tx(&k, 1, 2 * GWEI, GWEI);
        let t2 = tx(&k, 2, 2 * GWEI, GWEI);
        pool.add(t2.clone(), 0, rich()).unwrap();
        pool.add(t1.clone(), 0, rich()).unwrap();
        assert_eq!(pool.pending_nonce(&k.address(), 0), 0);
        assert!(pool.best(GWEI64, |_| 0).is_empty());
        // once the account nonce is 1 (nonce 0 mined elsewhere) both are pending
        assert_eq!(pool.pending_nonce(&k.address(), 1), 3);
        let t0 = tx(&k, 0, 2 * GWEI, GWEI);
        pool.add(t0.clone(), 0, rich()).unwrap();
        assert_eq!(pool.pending_nonce(&k.address(), 0), 3);
        assert_eq!(
            pool.best(GWEI64, |_| 0),
            vec![t0.clone(), t1.clone(), t2.clone()]
        );
        assert_eq!(pool.pending_nonce(&MetaKey::random().address(), 7), 7);
        let t4 = tx(&k, 4, 2 * GWEI, GWEI);
        pool.add(t4, 0, rich()).unwrap();
        assert_eq!(pool.pending_nonce(&k.address(), 0), 3);
        assert_eq!(pool.best(GWEI64, |_| 0).len(), 3);
        let order: Vec<u64> = pool.sender_txs(&k.address()).map(|t| t.nonce).collect();
        assert_eq!(order, vec![0, 1, 2, 4]);

        // nonces 0 and 1 mined: prune drops them, the rest stays
        let pruned = pool.prune_sender(&k.address(), 2);
        assert_eq!(pruned, vec![t0, t1]);
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.best(GWEI64, |_| 2), vec![t2]);
        assert_eq!(pool.prune(|_| 10).len(), 2);
        assert!(pool.is_empty());
        assert!(pool.prune_sender(&k.address(), 10).is_empty());
    }

    #[test]
    fn best_orders_by_tip_across_senders_and_nonce_within() {
        let (a, b, c) = (MetaKey::random(), MetaKey::random(), MetaKey::random());
        let mut pool = TxPool::new(100);
        // a's first tx pays little, its second much: nonce order still rules
        let a0 = tx(&a, 0, 10 * GWEI, GWEI);
        let a1 = tx(&a, 1, 10 * GWEI, 5 * GWEI);
        let b0 = tx(&b, 0, 10 * GWEI, 3 * GWEI);
        let b1 = tx(&b, 1, 10 * GWEI, 2 * GWEI);
        let c0 = tx(&c, 0, 10 * GWEI, 3 * GWEI); // ties b0: arrived later
        for t in [&a1, &a0, &b0, &b1, &c0] {
            pool.add(t.clone(), 0, rich()).unwrap();
        }
        let order = |v: Vec<PoolTx>| v.into_iter().map(|t| t.hash).collect::<Vec<_>>();
        assert_eq!(
            order(pool.best(GWEI64, |_| 0)),
            order(vec![
                b0.clone(),
                c0.clone(),
                b1.clone(),
                a0.clone(),
                a1.clone()
            ])
        );
        // at base fee 8 gwei the tips above 2 gwei are capped to 2: b's and
        // c0 tie and arrival breaks it (b0, b1 before c0); a0 pays 1 gwei
        assert_eq!(
            order(pool.best(8 * GWEI64, |_| 0)),
            order(vec![
                b0.clone(),
                b1.clone(),
                c0.clone(),
                a0.clone(),
                a1.clone()
            ])
        );
        // account nonces from the state: a's nonce 0 already mined
        assert_eq!(
            order(pool.best(GWEI64, |s| u64::from(*s == a.address()))),
            order(vec![a1.clone(), b0.clone(), c0.clone(), b1.clone()])
        );
        // above every max fee: nothing
        assert!(pool.best(10 * GWEI64 + 1, |_| 0).is_empty());
    }

    #[test]
    fn best_drops_underpaying_tx_and_its_successors() {
        let (a, b) = (MetaKey::random(), MetaKey::random());
        let mut pool = TxPool::new(100);
        let a0 = tx(&a, 0, 20 * GWEI, GWEI);
        let a1 = tx(&a, 1, 4 * GWEI, GWEI); // below the base fee
        let a2 = tx(&a, 2, 20 * GWEI, 10 * GWEI);
        let b0 = tx(&b, 0, 5 * GWEI, GWEI);
        for t in [&a0, &a1, &a2, &b0] {
            pool.add(t.clone(), 0, rich()).unwrap();
        }
        let best = pool.best(5 * GWEI64, |_| 0);
        assert_eq!(best, vec![a0.clone(), b0.clone()]);
        assert_eq!(a1.effective_tip(5 * GWEI64), None);
        assert_eq!(b0.effective_tip(5 * GWEI64), Some(0));
        assert_eq!(a2.effective_tip(15 * GWEI64), Some(5 * GWEI));
        assert_eq!(pool.best(GWEI64, |_| 0).len(), 4);
    }

    #[test]
    fn limits() {
        let k = MetaKey::random();
        let mut pool = TxPool::new(1000);
        for n in 0..PER_SENDER_LIMIT as u64 {
            pool.add(tx(&k, n, 2 * GWEI, GWEI), 0, rich()).unwrap();
        }
        let before = snapshot(&pool);
        let r = pool.add(tx(&k, 64, 2 * GWEI, GWEI), 0, rich());
        assert!(
            matches!(&r, Err(PoolError::Full(m)) if m.contains("already has 64 txs")),
            "{r:?}"
        );
        assert_eq!(snapshot(&pool), before);
        // another sender is fine
        pool.add(tx(&MetaKey::random(), 0, 2 * GWEI, GWEI), 0, rich())
            .unwrap();
        // after one leaves, the sender may add again
        let first = pool.sender_txs(&k.address()).next().unwrap().hash;
        assert!(pool.remove(&first).is_some());
        assert!(pool.remove(&first).is_none());
        pool.add(tx(&k, 64, 2 * GWEI, GWEI), 0, rich()).unwrap();

        let mut small = TxPool::new(3);
        for _ in 0..3 {
            small
                .add(tx(&MetaKey::random(), 0, 2 * GWEI, GWEI), 0, rich())
                .unwrap();
        }
        let before = snapshot(&small);
        let r = small.add(tx(&MetaKey::random(), 0, 2 * GWEI, GWEI), 0, rich());
        assert_eq!(
            r,
            Err(PoolError::Full("txpool is full: 3 txs (the limit)".into()))
        );
        assert_eq!(snapshot(&small), before);
        assert_eq!(small.limit(), 3);
        assert!(TxPool::new(0)
            .add(tx(&k, 0, 2 * GWEI, GWEI), 0, rich())
            .is_err());
        assert_eq!(TxPool::default().limit(), DEFAULT_POOL_LIMIT);
    }

    #[test]
    fn remove_and_drain() {
        let (a, b) = (MetaKey::random(), MetaKey::random());
        let mut pool = TxPool::new(100);
        let txs = [
            tx(&a, 1, 2 * GWEI, GWEI),
            tx(&b, 0, 2 * GWEI, GWEI),
            tx(&a, 0, 2 * GWEI, GWEI),
        ];
        for t in &txs {
            pool.add(t.clone(), 0, rich()).unwrap();
        }
        assert_eq!(pool.remove(&txs[1].hash), Some(txs[1].clone()));
        assert!(pool.sender_txs(&b.address()).next().is_none());
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.drain(), vec![txs[0].clone(), txs[2].clone()]);
        assert!(pool.is_empty());
        assert!(pool.best(GWEI64, |_| 0).is_empty());
        assert!(pool.get(&txs[0].hash).is_none());
        // re-admission after a drain
        for t in &txs {
            pool.add(t.clone(), 0, rich()).unwrap();
        }
        assert_eq!(pool.len(), 3);
    }

    /// Arbitrary bytes (random, and random tails after each type byte)
    /// never panic the decoder.
    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..3000 {
            let len = (next() % 300) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(first) = b.first_mut() {
                *first = [0x01, 0x02, 0xf8, 0xf9, 0xc0 | (i as u8 & 0x3f), *first][i % 6];
            }
            assert!(decode(&b, &chain()).is_err());
        }
    }

    #[test]
    fn errors_display_their_message() {
        let e = PoolError::Full("x".into());
        assert_eq!(e.to_string(), "x");
        assert_eq!(e.message(), "x");
    }
}
