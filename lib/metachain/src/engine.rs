//! The engine: builds (mint), validates and commits (connect) and rolls back
//! (disconnect) metachain blocks, and answers queries. It serves the generated
//! `MetachainService` trait, so FFI and both network transports share it.

use crate::error::EngineError;
use crate::hashing::{merkle_root, sha256, Hash};
use crate::mempool::{Mempool, Reject};
use crate::state::{Account, StateRoot};
use crate::store::{self, Tip, Undo, UndoAccount, ACCOUNTS, BLOCKS, MEMPOOL, NUMBERS, UNDO};
use crate::{address, tx as sig, VERSION};
use ain_rs::types::*;
use ain_rs::{MetachainService, RpcError};
use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, RwLock};

/// A metachain on disk.
pub struct Engine {
    db: Database,
    /// The committed tip, cached for cheap queries.
    tip: RwLock<Tip>,
    /// Serialises mint, connect, disconnect and mempool admission.
    writer: Mutex<()>,
    mempool: Mutex<Mempool>,
    /// Head events for subscribers.
    heads: tokio::sync::broadcast::Sender<MetaHeadEvent>,
}

/// Head events buffered per subscriber before it counts as fallen behind.
const HEAD_EVENT_BUFFER: usize = 1024;

/// Most transactions one block carries.
pub const MAX_BLOCK_TXS: usize = 100_000;

/// The state changes of executing a list of txs on the tip.
struct Execution<R> {
    read: R,
    /// address -> (before the block, now)
    changes: BTreeMap<String, (Account, Account)>,
    supply: i64,
    root: StateRoot,
}

impl<R: FnMut(&str) -> Result<Account, EngineError>> Execution<R> {
    fn new(read: R, tip: &Tip) -> Result<Self, EngineError> {
        let root = StateRoot::from_bytes(&tip.state_root)
            .ok_or_else(|| EngineError::Corrupt("tip state root".into()))?;
        Ok(Self {
            read,
            changes: BTreeMap::new(),
            supply: tip.supply,
            root,
        })
    }

    fn account(&mut self, addr: &str) -> Result<Account, EngineError> {
        if let Some((_, now)) = self.changes.get(addr) {
            return Ok(*now);
        }
        let a = (self.read)(addr)?;
        self.changes.insert(addr.to_string(), (a, a));
        Ok(a)
    }

    fn set(&mut self, addr: &str, new: Account) {
        if let Some((_, now)) = self.changes.get_mut(addr) {
            self.root.update(addr, now, &new);
            *now = new;
        }
    }

    /// Applies `tx`. The outer error is storage failure; the inner one is the
    /// reason the tx is rejected, in which case nothing was changed. Signatures
    /// are checked only when `check_sig` (callers may have checked them already).
    fn apply(&mut self, tx: &MetaTx, check_sig: bool) -> Result<Result<(), String>, EngineError> {
        if tx.amount <= 0 {
            return Ok(Err(format!("amount must be positive, got {}", tx.amount)));
        }
        let kind = TxKind::try_from(tx.kind).unwrap_or(TxKind::Unspecified);
        let checks = match kind {
            TxKind::Deposit => address::parse(&tx.to).map(drop).and_then(|_| {
                if tx.native_txid.is_empty() {
                    Err("deposit without a native txid".to_string())
                } else {
                    Ok(())
                }
            }),
            TxKind::Withdraw => address::parse(&tx.from).map(drop).and_then(|_| {
                if tx.native_txid.is_empty() || tx.to.is_empty() {
                    Err("withdrawal without a native txid or native recipient".to_string())
                } else {
                    Ok(())
                }
            }),
            TxKind::Transfer => address::parse(&tx.from)
                .and_then(|_| address::parse(&tx.to))
                .and_then(|_| {
                    if tx.native_txid.is_empty() {
                        Ok(())
                    } else {
                        Err("a transfer carries no native txid".to_string())
                    }
                }),
            TxKind::Unspecified => Err(format!("unknown tx kind {}", tx.kind)),
        };
        if let Err(e) = checks {
            return Ok(Err(e));
        }
        if kind == TxKind::Deposit {
            let mut to = self.account(&tx.to)?;
            let (Some(balance), Some(supply)) = (
                to.balance.checked_add(tx.amount),
                self.supply.checked_add(tx.amount),
            ) else {
                return Ok(Err("deposit overflows the balance or the supply".into()));
            };
            to.balance = balance;
            self.set(&tx.to, to);
            self.supply = supply;
            return Ok(Ok(()));
        }
        if check_sig {
            if let Err(e) = sig::verify(tx) {
                return Ok(Err(e));
            }
        }
        let mut from = self.account(&tx.from)?;
        if tx.nonce != from.nonce {
            return Ok(Err(format!(
                "bad nonce: got {}, account nonce is {}",
                tx.nonce, from.nonce
            )));
        }
        if from.balance < tx.amount {
            return Ok(Err(format!(
                "insufficient meta balance: {} < {}",
                from.balance, tx.amount
            )));
        }
        from.balance -= tx.amount;
        from.nonce += 1;
        if kind == TxKind::Withdraw {
            self.set(&tx.from, from);
            self.supply -= tx.amount;
            return Ok(Ok(()));
        }
        let mut to = self.account(&tx.to)?;
        if tx.to == tx.from {
            to = from;
        }
        let Some(balance) = to.balance.checked_add(tx.amount) else {
            return Ok(Err("transfer overflows the recipient balance".into()));
        };
        self.set(&tx.from, from);
        to.balance = balance;
        self.set(&tx.to, to);
        Ok(Ok(()))
    }
}

/// Checks the signatures of every signed tx of a block on all cores. Returns
/// the index and reason of the first failure.
fn verify_all(block_txs: &[MetaTx]) -> Result<(), (usize, String)> {
    let signed: Vec<(usize, &MetaTx)> = block_txs
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind != TxKind::Deposit as i32)
        .collect();
    if signed.is_empty() {
        return Ok(());
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = signed.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = signed
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .find_map(|(i, t)| sig::verify(t).err().map(|e| (*i, e)))
                })
            })
            .collect();
        let mut first: Option<(usize, String)> = None;
        for h in handles {
            let failure = h
                .join()
                .unwrap_or_else(|_| Some((0, "signature check failed".into())));
            if let Some(f) = failure {
                if first.as_ref().is_none_or(|(i, _)| f.0 < *i) {
                    first = Some(f);
                }
            }
        }
        first.map_or(Ok(()), Err)
    })
}

fn tx_root(txs: &[MetaTx]) -> Hash {
    merkle_root(txs.iter().map(|t| sha256(&t.encode_to_vec())).collect())
}

fn receipts_root(receipts: &[TxReceipt]) -> Hash {
    merkle_root(
        receipts
            .iter()
            .map(|r| sha256(&r.encode_to_vec()))
            .collect(),
    )
}

fn to_meta_tx(n: &NativeTx) -> MetaTx {
    MetaTx {
        kind: n.kind,
        from: n.from.clone(),
        to: n.to.clone(),
        amount: n.amount,
        nonce: n.nonce,
        pubkey: n.pubkey.clone(),
        signature: n.signature.clone(),
        native_txid: n.native_txid.clone(),
    }
}

/// The native txs whose effects `block` carries (its deposits and
/// withdrawals, in order): what `native_txs_hash` commits to on connect.
pub fn native_origin_txs(block: &MetaBlock) -> Vec<NativeTx> {
    block
        .txs
        .iter()
        .filter(|t| t.kind != TxKind::Transfer as i32)
        .map(|t| NativeTx {
            kind: t.kind,
            from: t.from.clone(),
            to: t.to.clone(),
            amount: t.amount,
            native_txid: t.native_txid.clone(),
            nonce: t.nonce,
            pubkey: t.pubkey.clone(),
            signature: t.signature.clone(),
        })
        .collect()
}

fn parse_hash(s: &str) -> Option<Hash> {
    hex::decode(s).ok()?.try_into().ok()
}

/// How `meta_getBlock` names a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockId {
    Hash(Hash),
    Height(u64),
}

/// Longest part of a refused block id quoted back in the error.
const QUOTED_ID_CHARS: usize = 80;

impl BlockId {
    /// Accepts exactly 64 hex digits (a hash) or a canonical decimal height:
    /// digits only, no sign, no leading zero except "0" itself, at most
    /// `u64::MAX`. Anything else (`+1`, `00`, 63 zeros, ` 1`) is refused
    /// rather than read as some other block.
    pub fn parse(id: &str) -> Result<BlockId, EngineError> {
        let bytes = id.as_bytes();
        if bytes.len() == 64 && bytes.iter().all(u8::is_ascii_hexdigit) {
            if let Some(h) = parse_hash(id) {
                return Ok(BlockId::Hash(h));
            }
        }
        let canonical = match bytes {
            [b'0'] => true,
            [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
            _ => false,
        };
        if canonical {
            if let Ok(n) = id.parse::<u64>() {
                return Ok(BlockId::Height(n));
            }
        }
        // The id can be megabytes: quote only its start.
        let quoted: String = id.chars().take(QUOTED_ID_CHARS).collect();
        let more = if quoted.len() < id.len() {
            format!(" (first {QUOTED_ID_CHARS} of {} bytes)", id.len())
        } else {
            String::new()
        };
        Err(EngineError::Invalid(format!(
            "block id {quoted:?}{more} is neither a block hash (64 hex digits) nor a height \
             (decimal 0 to {}, no sign or leading zeros)",
            u64::MAX
        )))
    }
}

fn hash_from_slice(b: &[u8]) -> Result<Hash, EngineError> {
    b.try_into()
        .map_err(|_| EngineError::Corrupt(format!("stored hash has {} bytes", b.len())))
}

/// Tunables of an engine.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Capacity of the mempool in transactions.
    pub mempool_limit: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            mempool_limit: crate::mempool::DEFAULT_LIMIT,
        }
    }
}

impl Engine {
    /// Opens the metachain in `dir`, creating it with its genesis block when new.
    pub fn open(dir: &Path) -> Result<Engine, EngineError> {
        Self::open_with(dir, EngineOptions::default())
    }

    /// [`Engine::open`] with explicit options.
    pub fn open_with(dir: &Path, options: EngineOptions) -> Result<Engine, EngineError> {
        let (db, tip) = store::open(dir)?;
        let tip = match tip {
            Some(tip) => tip,
            None => Self::write_genesis(&db)?,
        };
        let engine = Engine {
            db,
            tip: RwLock::new(tip),
            writer: Mutex::new(()),
            mempool: Mutex::new(Mempool::new(options.mempool_limit)),
            heads: tokio::sync::broadcast::channel(HEAD_EVENT_BUFFER).0,
        };
        engine.reload_mempool()?;
        Ok(engine)
    }

    /// Re-admits the persisted mempool against the committed state.
    fn reload_mempool(&self) -> Result<(), EngineError> {
        let mut pooled = {
            let read = self.db.begin_read()?;
            match read.open_table(MEMPOOL) {
                Ok(table) => {
                    let mut txs = Vec::new();
                    for entry in table.iter()? {
                        let (_, v) = entry?;
                        let tx = MetaTx::decode(v.value())
                            .map_err(|e| EngineError::Corrupt(format!("pooled tx: {e}")))?;
                        txs.push(tx);
                    }
                    txs
                }
                Err(redb::TableError::TableDoesNotExist(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            }
        };
        // Pool order is (sender, nonce); the table is in hash order.
        pooled.sort_by(|a, b| (&a.from, a.nonce).cmp(&(&b.from, b.nonce)));
        self.refill_mempool(pooled, &Default::default())
    }

    fn write_genesis(db: &Database) -> Result<Tip, EngineError> {
        let block = MetaBlock {
            header: Some(MetaBlockHeader {
                parent_hash: vec![0; 32],
                number: 0,
                native_height: 0,
                native_time: 0,
                tx_root: tx_root(&[]).to_vec(),
                state_root: StateRoot::default().to_bytes().to_vec(),
                receipts_root: receipts_root(&[]).to_vec(),
            }),
            txs: vec![],
        };
        let payload = block.encode_to_vec();
        let hash = sha256(&payload);
        let tip = Tip {
            number: 0,
            hash: hash.to_vec(),
            state_root: StateRoot::default().to_bytes().to_vec(),
            supply: 0,
        };
        let txn = db.begin_write()?;
        txn.open_table(BLOCKS)?
            .insert(hash.as_slice(), payload.as_slice())?;
        txn.open_table(NUMBERS)?.insert(0, hash.as_slice())?;
        txn.open_table(ACCOUNTS)?;
        txn.open_table(UNDO)?;
        store::put_tip(&txn, &tip)?;
        txn.commit()?;
        Ok(tip)
    }

    /// The committed tip.
    pub fn tip(&self) -> Tip {
        self.tip
            .read()
            .map(|t| t.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    fn set_tip(&self, tip: Tip) {
        match self.tip.write() {
            Ok(mut t) => *t = tip,
            Err(e) => *e.into_inner() = tip,
        }
    }

    fn publish(&self, kind: HeadEventKind, number: u64, hash: &[u8], parent: &[u8], tip: &Tip) {
        // No subscriber is not an error.
        let _ = self.heads.send(MetaHeadEvent {
            kind: kind as i32,
            number,
            hash: hex::encode(hash),
            parent_hash: hex::encode(parent),
            state_root: hex::encode(&tip.state_root),
            total_supply: tip.supply,
        });
    }

    /// A receiver of every head connected or disconnected from now on.
    pub fn subscribe_heads(&self) -> tokio::sync::broadcast::Receiver<MetaHeadEvent> {
        self.heads.subscribe()
    }

    /// Number of live head subscriptions.
    pub fn head_subscribers(&self) -> usize {
        self.heads.receiver_count()
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_mempool(&self) -> std::sync::MutexGuard<'_, Mempool> {
        self.mempool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of transfers waiting in the mempool.
    pub fn mempool_len(&self) -> usize {
        self.lock_mempool().len()
    }

    /// Checks a signed transfer and admits it to the mempool; returns its hash.
    pub fn submit(&self, tx: MetaTx) -> Result<String, EngineError> {
        if tx.kind != TxKind::Transfer as i32 {
            return Err(EngineError::Invalid(
                "only transfers can be submitted; deposits and withdrawals come from the native chain".into(),
            ));
        }
        if tx.amount <= 0 {
            return Err(EngineError::Invalid(format!(
                "amount must be positive, got {}",
                tx.amount
            )));
        }
        if !tx.native_txid.is_empty() {
            return Err(EngineError::Invalid(
                "a transfer carries no native txid".into(),
            ));
        }
        address::parse(&tx.from).map_err(EngineError::Invalid)?;
        address::parse(&tx.to).map_err(EngineError::Invalid)?;
        sig::verify(&tx).map_err(EngineError::Invalid)?;
        let hash = sig::tx_hash(&tx);
        let _guard = self.lock_writer();
        let sender = {
            let read = self.db.begin_read()?;
            store::get_account(&read.open_table(ACCOUNTS)?, &tx.from)?
        };
        let encoded = tx.encode_to_vec();
        self.lock_mempool()
            .add(hash, tx, sender)
            .map_err(|r| match r {
                Reject::Invalid(m) => EngineError::Invalid(m),
                Reject::Duplicate(m) => EngineError::Duplicate(m),
                Reject::Full(n) => EngineError::Full(format!("mempool is full ({n} txs)")),
            })?;
        // Durable before the caller hears "accepted". The writer lock keeps
        // mint and connect out meanwhile; the pool lock is not held across the
        // disk write, so pool readers (GetBalance runs inline) never wait on it.
        let persisted = (|| -> Result<(), EngineError> {
            let txn = self.db.begin_write()?;
            txn.open_table(MEMPOOL)?
                .insert(hash.as_slice(), encoded.as_slice())?;
            txn.commit()?;
            Ok(())
        })();
        if let Err(e) = persisted {
            self.lock_mempool().remove(&hash);
            return Err(e);
        }
        Ok(hex::encode(hash))
    }

    /// Re-admits `first` then the pooled txs against the committed state,
    /// dropping `drop` and those that no longer apply. Signatures were checked
    /// before. The persisted pool loses what no longer applies; the caller's
    /// block transaction already removed `drop`.
    fn refill_mempool(
        &self,
        first: Vec<MetaTx>,
        drop: &std::collections::HashSet<Hash>,
    ) -> Result<(), EngineError> {
        let mut pool = self.lock_mempool();
        let old = pool.drain();
        let mut dropped = Vec::new();
        {
            let read = self.db.begin_read()?;
            let accounts = read.open_table(ACCOUNTS)?;
            let mut cache: BTreeMap<String, Account> = BTreeMap::new();
            let candidates = first.into_iter().map(|t| (sig::tx_hash(&t), t)).chain(old);
            for (hash, tx) in candidates {
                if drop.contains(&hash) {
                    continue;
                }
                let sender = match cache.get(&tx.from) {
                    Some(a) => *a,
                    None => {
                        let a = store::get_account(&accounts, &tx.from)?;
                        cache.insert(tx.from.clone(), a);
                        a
                    }
                };
                if pool.add(hash, tx, sender).is_err() {
                    dropped.push(hash);
                }
            }
        }
        if dropped.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(MEMPOOL)?;
            for hash in &dropped {
                table.remove(hash.as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Builds a candidate block on the tip. Never commits.
    pub fn mint(&self, input: MetaMintBlockInput) -> Result<MetaMintBlockResult, EngineError> {
        let _guard = self.lock_writer();
        let tip = self.tip();
        let ctx = input.context.unwrap_or_default();
        let read = self.db.begin_read()?;
        let accounts = read.open_table(ACCOUNTS)?;
        let mut exec = Execution::new(|a: &str| store::get_account(&accounts, a), &tip)?;
        let mut txs = Vec::new();
        let mut refused = Vec::new();
        let mut included = Vec::new();
        for native in &input.txs {
            let tx = to_meta_tx(native);
            let outcome = if txs.len() >= MAX_BLOCK_TXS {
                Err("block is full".to_string())
            } else {
                exec.apply(&tx, true)?
            };
            match outcome {
                Ok(()) => {
                    included.push(TxReceipt {
                        native_txid: tx.native_txid.clone(),
                        success: true,
                        error: String::new(),
                    });
                    txs.push(tx);
                }
                Err(reason) => refused.push(RefusedTx {
                    native_txid: tx.native_txid,
                    reason,
                }),
            }
        }
        let pooled: Vec<MetaTx> = self.lock_mempool().ordered().cloned().collect();
        for tx in pooled {
            if txs.len() >= MAX_BLOCK_TXS {
                break;
            }
            if exec.apply(&tx, false)?.is_ok() {
                included.push(TxReceipt {
                    native_txid: Vec::new(),
                    success: true,
                    error: String::new(),
                });
                txs.push(tx);
            }
        }
        let block = MetaBlock {
            header: Some(MetaBlockHeader {
                parent_hash: tip.hash.clone(),
                number: tip.number + 1,
                native_height: ctx.height,
                native_time: ctx.time,
                tx_root: tx_root(&txs).to_vec(),
                state_root: exec.root.to_bytes().to_vec(),
                receipts_root: receipts_root(&included).to_vec(),
            }),
            txs,
        };
        let payload = block.encode_to_vec();
        Ok(MetaMintBlockResult {
            block_hash: hex::encode(sha256(&payload)),
            payload,
            refused,
        })
    }

    /// Validates `payload` as the next block and commits it atomically.
    pub fn connect(
        &self,
        input: MetaConnectBlockInput,
    ) -> Result<MetaConnectBlockResult, EngineError> {
        let _guard = self.lock_writer();
        let tip = self.tip();
        let hash = sha256(&input.payload);
        if hash.as_slice() == tip.hash.as_slice() {
            return Ok(MetaConnectBlockResult {
                block_hash: hex::encode(hash),
                number: tip.number,
            });
        }
        let block = MetaBlock::decode(input.payload.as_slice())
            .map_err(|e| EngineError::Invalid(format!("corrupt payload: {e}")))?;
        if block.encode_to_vec() != input.payload {
            return Err(EngineError::Invalid(
                "corrupt payload: non-canonical encoding".into(),
            ));
        }
        let header = block
            .header
            .as_ref()
            .ok_or_else(|| EngineError::Invalid("corrupt payload: no header".into()))?;
        if header.parent_hash != tip.hash {
            return Err(EngineError::Precondition(format!(
                "block parent {} is not the tip {}",
                hex::encode(&header.parent_hash),
                hex::encode(&tip.hash)
            )));
        }
        if header.number != tip.number + 1 {
            return Err(EngineError::Invalid(format!(
                "block number {} does not follow tip {}",
                header.number, tip.number
            )));
        }
        let ctx = input
            .context
            .ok_or_else(|| EngineError::Invalid("missing native context".into()))?;
        if (header.native_height, header.native_time) != (ctx.height, ctx.time) {
            return Err(EngineError::Invalid(format!(
                "block was minted for native height {} time {}, connected at height {} time {}",
                header.native_height, header.native_time, ctx.height, ctx.time
            )));
        }

        let carried = native_origin_txs(&block);
        let carried_hash = ain_rs::native_txs_hash(&carried);
        if carried_hash.as_slice() != input.native_txs_hash.as_slice() {
            return Err(EngineError::Invalid(format!(
                "payload does not match the native block: its {} deposit/withdraw txs hash to {}, the block's to {}",
                carried.len(),
                hex::encode(carried_hash),
                hex::encode(&input.native_txs_hash)
            )));
        }
        if block.txs.len() > MAX_BLOCK_TXS {
            return Err(EngineError::Invalid(format!(
                "block has {} txs, more than {MAX_BLOCK_TXS}",
                block.txs.len()
            )));
        }
        verify_all(&block.txs)
            .map_err(|(i, e)| EngineError::Invalid(format!("tx {i} is invalid: {e}")))?;

        let txn = self.db.begin_write()?;
        let (changes, new_tip) = {
            let accounts = txn.open_table(ACCOUNTS)?;
            let mut exec = Execution::new(|a: &str| store::get_account(&accounts, a), &tip)?;
            let mut receipts = Vec::new();
            for (i, tx) in block.txs.iter().enumerate() {
                if let Err(reason) = exec.apply(tx, false)? {
                    return Err(EngineError::Invalid(format!("tx {i} is invalid: {reason}")));
                }
                receipts.push(TxReceipt {
                    native_txid: tx.native_txid.clone(),
                    success: true,
                    error: String::new(),
                });
            }
            let checks = [
                ("tx root", tx_root(&block.txs), &header.tx_root),
                ("state root", exec.root.to_bytes(), &header.state_root),
                (
                    "receipts root",
                    receipts_root(&receipts),
                    &header.receipts_root,
                ),
            ];
            for (what, computed, claimed) in checks {
                if computed.as_slice() != claimed.as_slice() {
                    return Err(EngineError::Invalid(format!(
                        "{what} mismatch: block claims {}, execution gives {}",
                        hex::encode(claimed),
                        hex::encode(computed)
                    )));
                }
            }
            let new_tip = Tip {
                number: header.number,
                hash: hash.to_vec(),
                state_root: exec.root.to_bytes().to_vec(),
                supply: exec.supply,
            };
            (exec.changes, new_tip)
        };
        let undo = Undo {
            accounts: changes
                .iter()
                .map(|(a, (before, _))| UndoAccount {
                    address: a.clone(),
                    before: Some(*before),
                })
                .collect(),
            prev_tip: Some(tip.clone()),
        };
        // The block's transfers leave the pool: on disk in this transaction,
        // in memory after it. Only transfers are ever pooled.
        let included: std::collections::HashSet<Hash> = block
            .txs
            .iter()
            .filter(|t| t.kind == TxKind::Transfer as i32)
            .map(sig::tx_hash)
            .collect();
        {
            let mut accounts = txn.open_table(ACCOUNTS)?;
            for (addr, (_, now)) in &changes {
                if now.is_empty() {
                    accounts.remove(addr.as_str())?;
                } else {
                    accounts.insert(addr.as_str(), now.encode_to_vec().as_slice())?;
                }
            }
            txn.open_table(BLOCKS)?
                .insert(hash.as_slice(), input.payload.as_slice())?;
            txn.open_table(NUMBERS)?
                .insert(new_tip.number, hash.as_slice())?;
            txn.open_table(UNDO)?
                .insert(new_tip.number, undo.encode_to_vec().as_slice())?;
            store::put_tip(&txn, &new_tip)?;
            let mut pooled = txn.open_table(MEMPOOL)?;
            for hash in &included {
                pooled.remove(hash.as_slice())?;
            }
        }
        txn.commit()?;
        let result = MetaConnectBlockResult {
            block_hash: hex::encode(hash),
            number: new_tip.number,
        };
        self.publish(
            HeadEventKind::Connected,
            new_tip.number,
            &hash,
            &header.parent_hash,
            &new_tip,
        );
        self.set_tip(new_tip);
        self.refill_mempool(Vec::new(), &included)?;
        Ok(result)
    }

    /// Rolls the tip `block_hash` back to its parent atomically.
    pub fn disconnect(
        &self,
        input: MetaDisconnectBlockInput,
    ) -> Result<MetaDisconnectBlockResult, EngineError> {
        let _guard = self.lock_writer();
        let tip = self.tip();
        if input.block_hash != hex::encode(&tip.hash) {
            return Err(EngineError::Precondition(format!(
                "block {} is not the tip {}",
                input.block_hash,
                hex::encode(&tip.hash)
            )));
        }
        if tip.number == 0 {
            return Err(EngineError::Precondition(
                "cannot disconnect the genesis block".into(),
            ));
        }
        let payload = {
            let read = self.db.begin_read()?;
            store::get_block(
                &read.open_table(BLOCKS)?,
                &parse_hash(&input.block_hash).unwrap_or_default(),
            )?
        };
        let transfers: Vec<MetaTx> = payload
            .and_then(|p| MetaBlock::decode(p.as_slice()).ok())
            .map(|b| {
                b.txs
                    .into_iter()
                    .filter(|t| t.kind == TxKind::Transfer as i32)
                    .collect()
            })
            .unwrap_or_default();
        let txn = self.db.begin_write()?;
        let prev = {
            let mut undo_table = txn.open_table(UNDO)?;
            let undo = undo_table.remove(tip.number)?.ok_or_else(|| {
                EngineError::Corrupt(format!("no undo data for block {}", tip.number))
            })?;
            let undo = Undo::decode(undo.value())
                .map_err(|e| EngineError::Corrupt(format!("undo of block {}: {e}", tip.number)))?;
            let mut accounts = txn.open_table(ACCOUNTS)?;
            for u in &undo.accounts {
                let before = u.before.unwrap_or_default();
                if before.is_empty() {
                    accounts.remove(u.address.as_str())?;
                } else {
                    accounts.insert(u.address.as_str(), before.encode_to_vec().as_slice())?;
                }
            }
            txn.open_table(NUMBERS)?.remove(tip.number)?;
            txn.open_table(BLOCKS)?.remove(tip.hash.as_slice())?;
            let prev = undo
                .prev_tip
                .ok_or_else(|| EngineError::Corrupt("undo without previous tip".into()))?;
            store::put_tip(&txn, &prev)?;
            // The block's transfers go back to the pool, durably with the rollback.
            let mut pooled = txn.open_table(MEMPOOL)?;
            for tx in &transfers {
                pooled.insert(sig::tx_hash(tx).as_slice(), tx.encode_to_vec().as_slice())?;
            }
            prev
        };
        txn.commit()?;
        let result = MetaDisconnectBlockResult {
            tip_hash: hex::encode(&prev.hash),
            number: prev.number,
        };
        self.publish(
            HeadEventKind::Disconnected,
            tip.number,
            &tip.hash,
            &prev.hash,
            &prev,
        );
        self.set_tip(prev);
        self.refill_mempool(transfers, &Default::default())?;
        Ok(result)
    }

    /// Recomputes the state root and supply from every stored account and
    /// checks them, and the tip block, against the stored tip.
    pub fn check_integrity(&self) -> Result<(), EngineError> {
        let _guard = self.lock_writer();
        let tip = self.tip();
        let read = self.db.begin_read()?;
        let accounts = read.open_table(ACCOUNTS)?;
        let mut root = StateRoot::default();
        let mut supply: i64 = 0;
        for entry in redb::ReadableTable::iter(&accounts)? {
            let (addr, value) = entry?;
            let account = Account::decode(value.value())
                .map_err(|e| EngineError::Corrupt(format!("account {}: {e}", addr.value())))?;
            root.update(addr.value(), &Account::default(), &account);
            supply = supply
                .checked_add(account.balance)
                .ok_or_else(|| EngineError::Corrupt("balances overflow".into()))?;
        }
        if root.to_bytes().as_slice() != tip.state_root.as_slice() || supply != tip.supply {
            return Err(EngineError::Corrupt(format!(
                "state does not match tip {}: root {} vs {}, supply {} vs {}",
                tip.number,
                hex::encode(root.to_bytes()),
                hex::encode(&tip.state_root),
                supply,
                tip.supply
            )));
        }
        let numbers = read.open_table(NUMBERS)?;
        let at_tip = numbers
            .get(tip.number)?
            .map(|h| h.value().to_vec())
            .ok_or_else(|| EngineError::Corrupt(format!("no block hash at tip {}", tip.number)))?;
        let payload = store::get_block(&read.open_table(BLOCKS)?, &hash_from_slice(&at_tip)?)?
            .ok_or_else(|| EngineError::Corrupt("tip block missing".into()))?;
        let header = MetaBlock::decode(payload.as_slice())
            .ok()
            .and_then(|b| b.header)
            .ok_or_else(|| EngineError::Corrupt("tip block does not decode".into()))?;
        if at_tip != tip.hash
            || sha256(&payload).as_slice() != tip.hash.as_slice()
            || header.state_root != tip.state_root
        {
            return Err(EngineError::Corrupt(
                "tip block does not match the tip".into(),
            ));
        }
        Ok(())
    }

    /// Balance and nonce of a meta address.
    pub fn balance(&self, addr: &str) -> Result<MetaGetBalanceResult, EngineError> {
        address::parse(addr).map_err(EngineError::Invalid)?;
        let read = self.db.begin_read()?;
        let account = store::get_account(&read.open_table(ACCOUNTS)?, addr)?;
        Ok(MetaGetBalanceResult {
            address: addr.to_string(),
            balance: account.balance,
            nonce: account.nonce,
            pending_nonce: account.nonce + self.lock_mempool().pending_count(addr),
        })
    }

    /// A block of the active chain by hash or number; see [`BlockId::parse`].
    pub fn block(&self, id: &str) -> Result<MetaGetBlockResult, EngineError> {
        let id = BlockId::parse(id)?;
        let read = self.db.begin_read()?;
        let hash = match id {
            BlockId::Hash(h) => h,
            BlockId::Height(n) => {
                let numbers = read.open_table(NUMBERS)?;
                let h = numbers
                    .get(n)?
                    .ok_or_else(|| EngineError::NotFound(format!("no block at height {n}")))?;
                hash_from_slice(h.value())?
            }
        };
        let payload = store::get_block(&read.open_table(BLOCKS)?, &hash)?
            .ok_or_else(|| EngineError::NotFound(format!("no block {}", hex::encode(hash))))?;
        let block = MetaBlock::decode(payload.as_slice())
            .map_err(|e| EngineError::Corrupt(format!("block {}: {e}", hex::encode(hash))))?;
        Ok(MetaGetBlockResult {
            hash: hex::encode(hash),
            block: Some(block),
        })
    }
}

impl MetachainService for Engine {
    fn meta_mint_block(&self, input: MetaMintBlockInput) -> Result<MetaMintBlockResult, RpcError> {
        Ok(self.mint(input)?)
    }

    fn meta_connect_block(
        &self,
        input: MetaConnectBlockInput,
    ) -> Result<MetaConnectBlockResult, RpcError> {
        Ok(self.connect(input)?)
    }

    fn meta_disconnect_block(
        &self,
        input: MetaDisconnectBlockInput,
    ) -> Result<MetaDisconnectBlockResult, RpcError> {
        Ok(self.disconnect(input)?)
    }

    fn meta_get_tip(&self, _input: MetaGetTipInput) -> Result<MetaGetTipResult, RpcError> {
        let tip = self.tip();
        Ok(MetaGetTipResult {
            number: tip.number,
            hash: hex::encode(&tip.hash),
            state_root: hex::encode(&tip.state_root),
            total_supply: tip.supply,
        })
    }

    fn meta_get_balance(
        &self,
        input: MetaGetBalanceInput,
    ) -> Result<MetaGetBalanceResult, RpcError> {
        Ok(self.balance(&input.address)?)
    }

    fn meta_get_block(&self, input: MetaGetBlockInput) -> Result<MetaGetBlockResult, RpcError> {
        Ok(self.block(&input.block_id)?)
    }

    fn meta_send_transaction(
        &self,
        input: MetaSendTransactionInput,
    ) -> Result<MetaSendTransactionResult, RpcError> {
        let tx = input.tx.ok_or_else(|| RpcError::invalid("missing tx"))?;
        Ok(MetaSendTransactionResult {
            tx_hash: self.submit(tx)?,
        })
    }

    fn meta_get_status(&self, _input: MetaGetStatusInput) -> Result<MetaGetStatusResult, RpcError> {
        let tip = self.tip();
        Ok(MetaGetStatusResult {
            version: VERSION.to_string(),
            height: tip.number,
            hash: hex::encode(&tip.hash),
            mempool_size: self.mempool_len() as u64,
            head_subscribers: self.head_subscribers() as u64,
        })
    }

    fn meta_subscribe_new_heads(
        &self,
        _input: MetaSubscribeNewHeadsInput,
    ) -> Result<ain_rs::Subscription<MetaHeadEvent>, RpcError> {
        Ok(self.subscribe_heads())
    }

    fn meta_get_version(
        &self,
        _input: MetaGetVersionInput,
    ) -> Result<MetaGetVersionResult, RpcError> {
        Ok(MetaGetVersionResult {
            version: VERSION.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_are_a_hash_or_a_canonical_height() {
        let hash = "ab".repeat(32);
        assert_eq!(BlockId::parse(&hash).unwrap(), BlockId::Hash([0xab; 32]));
        assert_eq!(
            BlockId::parse(&hash.to_uppercase()).unwrap(),
            BlockId::Hash([0xab; 32])
        );
        assert_eq!(
            BlockId::parse(&"0".repeat(64)).unwrap(),
            BlockId::Hash([0; 32])
        );
        for (id, n) in [
            ("0", 0),
            ("1", 1),
            ("10", 10),
            ("18446744073709551615", u64::MAX),
        ] {
            assert_eq!(BlockId::parse(id).unwrap(), BlockId::Height(n), "{id}");
        }
        let refused = [
            "".to_string(),
            "+1".into(),
            "-1".into(),
            "00".into(),
            "01".into(),
            " 1".into(),
            "1 ".into(),
            "1.0".into(),
            "1e3".into(),
            "0x1".into(),
            "١".into(), // a non-ASCII digit
            "18446744073709551616".into(),
            "0".repeat(63),
            "0".repeat(65),
            format!("{}g", "a".repeat(63)),
            format!("+{}", "a".repeat(63)),
        ];
        for id in refused {
            let e = BlockId::parse(&id).unwrap_err();
            assert!(matches!(e, EngineError::Invalid(_)), "{id:?}: {e:?}");
            let text = e.to_string();
            assert!(
                text.contains("64 hex digits") && text.contains("no sign or leading zeros"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_huge_block_id_is_quoted_only_in_part() {
        let id = "9".repeat(1 << 20);
        let text = BlockId::parse(&id).unwrap_err().to_string();
        assert!(text.len() < 400, "{text}");
        assert!(
            text.contains(&format!("(first 80 of {} bytes)", 1 << 20)),
            "{text}"
        );
    }
}
