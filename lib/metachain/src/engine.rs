//! The engine: builds (mint), validates and commits (connect) and rolls back
//! (disconnect) metachain blocks, keeps the txpool, and answers queries.
//! Minting lives in `builder.rs`; `service.rs` serves the engine as the
//! generated `MetachainService`.

use crate::block_id::BlockId;
use crate::builder::header;
use crate::chain::ChainParams;
use crate::error::EngineError;
use crate::eth::ChainEvent;
use crate::executor::{BlockParams, Executed, Executor, Receipt};
use crate::keys;
use crate::lthash::{self, LtHash};
use crate::store::{
    self, b256, Acct, BlockLogs, StoredLog, Tip, Undo, UndoAccount, UndoSlot, ACCOUNTS, BLOCKS,
    CODE, LOGS, MEMPOOL, NUMBERS, RECEIPTS, STORAGE, UNDO,
};
use crate::system::SystemTx;
use crate::txpool::{self, PoolError, PoolTx, TxPool};
use ain_rs::types::*;
use alloy_eips::eip1559::BaseFeeParams;
use alloy_primitives::{keccak256, Address, B256, U256};
use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable};
use revm::primitives::KECCAK_EMPTY;
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, RwLock};

/// A metachain on disk.
pub struct Engine {
    pub(crate) db: Database,
    pub(crate) chain: ChainParams,
    /// The committed tip, cached for cheap queries.
    tip: RwLock<Tip>,
    /// Serialises mint, connect, disconnect and pool admission.
    writer: Mutex<()>,
    pub(crate) pool: Mutex<TxPool>,
    /// Head events for subscribers.
    heads: tokio::sync::broadcast::Sender<MetaHeadEvent>,
    /// Blocks with their logs, and admitted txs, for the eth subscriptions.
    events: tokio::sync::broadcast::Sender<ChainEvent>,
    /// Admitted txs by sequence number, for relay.
    feed: Mutex<Feed>,
    /// What the native node last said of the network.
    network: RwLock<MetaNetworkStatus>,
}

/// The txs admitted to the pool, numbered from 0 in each process (`epoch`
/// tells processes apart), the latest [`FEED_CAPACITY`] kept.
struct Feed {
    epoch: u64,
    next: u64,
    entries: std::collections::VecDeque<(u64, B256)>,
}

/// Admitted txs the relay feed remembers.
pub const FEED_CAPACITY: usize = 65_536;
/// Most txs one feed read returns.
pub const FEED_READ_LIMIT: usize = 1000;

/// Head events buffered per subscriber before it counts as fallen behind.
const HEAD_EVENT_BUFFER: usize = 1024;

/// Fewest state changes worth hashing on several threads.
const MIN_PARALLEL_ELEMENTS: usize = 512;

/// Most system txs one block carries.
pub const MAX_SYSTEM_TXS: usize = 100_000;

/// Tunables of an engine.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Capacity of the txpool in transactions.
    pub mempool_limit: usize,
    /// The network; fixed when the database is created.
    pub chain: ChainParams,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            mempool_limit: txpool::DEFAULT_POOL_LIMIT,
            chain: crate::chain::regtest(),
        }
    }
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fn u256_bytes(v: U256) -> Vec<u8> {
    v.to_be_bytes::<32>().to_vec()
}

/// The base fee of the block after one with these figures.
pub fn next_base_fee(chain: &ChainParams, gas_used: u64, gas_limit: u64, base_fee: u64) -> u64 {
    alloy_eips::eip1559::calc_next_block_base_fee(
        gas_used,
        gas_limit,
        base_fee,
        BaseFeeParams::ethereum(),
    )
    .max(chain.min_base_fee)
}

impl Engine {
    /// Opens the regtest metachain in `dir`, creating it when new.
    pub fn open(dir: &Path) -> Result<Engine, EngineError> {
        Self::open_with(dir, EngineOptions::default())
    }

    /// Opens the metachain in `dir`, creating it with its genesis block when
    /// new. A database of another chain is refused.
    pub fn open_with(dir: &Path, options: EngineOptions) -> Result<Engine, EngineError> {
        let (db, tip) = store::open(dir)?;
        let chain = options.chain;
        let tip = match tip {
            Some(tip) if tip.chain_id != chain.chain_id => {
                return Err(EngineError::Open {
                    path: dir.display().to_string(),
                    cause: format!(
                        "the database is of chain id {}, not {} ({})",
                        tip.chain_id, chain.chain_id, chain.name
                    ),
                })
            }
            Some(tip) => tip,
            None => Self::write_genesis(&db, &chain)?,
        };
        let engine = Engine {
            db,
            chain,
            tip: RwLock::new(tip),
            writer: Mutex::new(()),
            pool: Mutex::new(TxPool::new(options.mempool_limit)),
            heads: tokio::sync::broadcast::channel(HEAD_EVENT_BUFFER).0,
            events: tokio::sync::broadcast::channel(HEAD_EVENT_BUFFER).0,
            network: RwLock::new(MetaNetworkStatus::default()),
            feed: Mutex::new(Feed {
                epoch: rand::random::<u64>() | 1,
                next: 0,
                entries: Default::default(),
            }),
        };
        engine.reload_pool()?;
        Ok(engine)
    }

    pub fn chain(&self) -> &ChainParams {
        &self.chain
    }

    fn write_genesis(db: &Database, chain: &ChainParams) -> Result<Tip, EngineError> {
        let root = LtHash::new();
        let empty = alloy_trie::EMPTY_ROOT_HASH;
        let block = MetaBlock {
            header: Some(MetaBlockHeader {
                parent_hash: vec![0; 32],
                number: 0,
                native_height: 0,
                native_time: 0,
                tx_root: empty.to_vec(),
                state_root: root.checksum().to_vec(),
                receipts_root: empty.to_vec(),
                beneficiary: vec![0; 20],
                gas_limit: chain.gas_limit,
                gas_used: 0,
                base_fee: chain.min_base_fee,
                logs_bloom: vec![0; 256],
            }),
            system_txs: vec![],
            transactions: vec![],
        };
        let payload = block.encode_to_vec();
        let hash = keccak256(&payload);
        let tip = Tip {
            number: 0,
            hash: hash.to_vec(),
            state_root: root.checksum().to_vec(),
            lthash: root.to_bytes(),
            supply_wei: u256_bytes(U256::ZERO),
            burned_wei: u256_bytes(U256::ZERO),
            base_fee: chain.min_base_fee,
            gas_used: 0,
            gas_limit: chain.gas_limit,
            chain_id: chain.chain_id,
        };
        let txn = db.begin_write()?;
        txn.open_table(BLOCKS)?
            .insert(hash.as_slice(), payload.as_slice())?;
        txn.open_table(NUMBERS)?.insert(0, hash.as_slice())?;
        for t in [ACCOUNTS, STORAGE, CODE, RECEIPTS, MEMPOOL] {
            txn.open_table(t)?;
        }
        txn.open_table(UNDO)?;
        txn.open_table(LOGS)?;
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

    /// The base fee the next block pays.
    pub fn next_base_fee(&self) -> u64 {
        let tip = self.tip();
        next_base_fee(&self.chain, tip.gas_used, tip.gas_limit, tip.base_fee)
    }

    fn publish(&self, kind: HeadEventKind, number: u64, hash: &[u8], parent: &[u8], tip: &Tip) {
        // No subscriber is not an error.
        let _ = self.heads.send(MetaHeadEvent {
            kind: kind as i32,
            number,
            hash: hex::encode(hash),
            parent_hash: hex::encode(parent),
            state_root: hex::encode(&tip.state_root),
            supply_wei: tip.supply().to_string(),
        });
    }

    /// A receiver of every head connected or disconnected from now on.
    pub fn subscribe_heads(&self) -> tokio::sync::broadcast::Receiver<MetaHeadEvent> {
        self.heads.subscribe()
    }

    /// A receiver of every block connected or disconnected (with its logs)
    /// and every tx admitted to the pool from now on.
    pub fn subscribe_events(&self) -> tokio::sync::broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    /// Number of live head subscriptions.
    pub fn head_subscribers(&self) -> usize {
        self.heads.receiver_count()
    }

    pub(crate) fn lock_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock_pool(&self) -> std::sync::MutexGuard<'_, TxPool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of txs waiting in the pool.
    pub fn mempool_len(&self) -> usize {
        self.lock_pool().len()
    }

    fn committed_account(&self, a: &Address) -> Result<Option<Acct>, EngineError> {
        let read = self.db.begin_read()?;
        store::read_state(&read)?.account(a)
    }

    /// Checks a signed raw tx and admits it to the pool; returns its hash.
    pub fn submit(&self, raw: &[u8]) -> Result<B256, EngineError> {
        let tx = txpool::decode(raw, &self.chain).map_err(pool_error)?;
        let hash = tx.hash;
        let _guard = self.lock_writer();
        let sender = self.committed_account(&tx.sender)?;
        let (nonce, balance) = sender.map_or((0, U256::ZERO), |a| (a.nonce, a.balance));
        let replaced = self
            .lock_pool()
            .add(tx, nonce, balance)
            .map_err(stateful_pool_error)?;
        // Durable before the caller hears "accepted". The writer lock keeps
        // mint and connect out meanwhile.
        let persisted = (|| -> Result<(), EngineError> {
            let txn = self.db.begin_write()?;
            {
                let mut table = txn.open_table(MEMPOOL)?;
                table.insert(hash.as_slice(), raw)?;
                if let Some(old) = replaced {
                    table.remove(old.as_slice())?;
                }
            }
            txn.commit()?;
            Ok(())
        })();
        if let Err(e) = persisted {
            self.lock_pool().remove(&hash);
            return Err(e);
        }
        self.feed_push(&[hash]);
        // No subscriber is not an error.
        let _ = self.events.send(ChainEvent::Pending(hash));
        Ok(hash)
    }

    /// Records the native node's view of the network.
    pub fn set_network_status(&self, status: MetaNetworkStatus) {
        *self.network.write().unwrap_or_else(|e| e.into_inner()) = status;
    }

    /// The native node's view of the network; all zero until it reports.
    pub fn network_status(&self) -> MetaNetworkStatus {
        *self.network.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Names txs the pool admitted in the relay feed.
    fn feed_push(&self, hashes: &[B256]) {
        let mut feed = self.feed.lock().unwrap_or_else(|e| e.into_inner());
        for hash in hashes {
            let seq = feed.next;
            feed.next += 1;
            feed.entries.push_back((seq, *hash));
            if feed.entries.len() > FEED_CAPACITY {
                feed.entries.pop_front();
            }
        }
    }

    /// The relay feed: txs admitted from `since` on that are still pooled
    /// (see `MetaGetPendingTxsInput`).
    pub fn pending_txs(&self, input: &MetaGetPendingTxsInput) -> MetaGetPendingTxsResult {
        let limit = match input.limit as usize {
            0 => FEED_READ_LIMIT,
            n => n.min(FEED_READ_LIMIT),
        };
        let (epoch, end, named, gap) = {
            let feed = self.feed.lock().unwrap_or_else(|e| e.into_inner());
            let since = if input.epoch == feed.epoch {
                input.since
            } else {
                0
            };
            let first = feed.entries.front().map_or(feed.next, |e| e.0);
            let named: Vec<(u64, B256)> = feed
                .entries
                .iter()
                .filter(|e| e.0 >= since)
                .copied()
                .collect();
            (feed.epoch, feed.next, named, since < first)
        };
        // Mined or dropped txs are skipped; `limit` counts the pooled ones.
        let pool = self.lock_pool();
        let txs: Vec<MetaPendingTx> = named
            .into_iter()
            .filter_map(|(seq, hash)| {
                pool.get(&hash).map(|t| MetaPendingTx {
                    seq,
                    hash: hash.to_vec(),
                    raw: t.raw.to_vec(),
                })
            })
            .take(limit)
            .collect();
        let next = if txs.len() == limit {
            txs.last().map_or(end, |t| t.seq + 1)
        } else {
            end
        };
        MetaGetPendingTxsResult {
            epoch,
            next,
            txs,
            gap,
        }
    }

    /// Re-admits the persisted pool against the committed state.
    fn reload_pool(&self) -> Result<(), EngineError> {
        let raws: Vec<Vec<u8>> = {
            let read = self.db.begin_read()?;
            let table = read.open_table(MEMPOOL)?;
            let mut raws = Vec::new();
            for entry in table.iter()? {
                raws.push(entry?.1.value().to_vec());
            }
            raws
        };
        let txs = raws
            .iter()
            .filter_map(|r| txpool::decode(r, &self.chain).ok())
            .collect();
        self.refill_pool(txs, &HashSet::new())
    }

    /// Re-admits `first` then the pooled txs against the committed state,
    /// dropping `drop` and whatever no longer applies, in the pool and on disk.
    /// `first` (txs read back at start, or of a disconnected block) enter the
    /// relay feed when admitted: peers may never have heard of them.
    fn refill_pool(&self, first: Vec<PoolTx>, drop: &HashSet<B256>) -> Result<(), EngineError> {
        let fed: HashSet<B256> = first.iter().map(|t| t.hash).collect();
        let mut admitted = Vec::new();
        let mut pool = self.lock_pool();
        let mut all = first;
        all.extend(pool.drain());
        // Nonce order per sender, so each one is admitted as pending.
        all.sort_by_key(|t| (t.sender, t.nonce));
        let mut dropped = Vec::new();
        {
            let read = self.db.begin_read()?;
            let state = store::read_state(&read)?;
            let mut seen = HashSet::new();
            for tx in all {
                if drop.contains(&tx.hash) || !seen.insert(tx.hash) {
                    dropped.push(tx.hash);
                    continue;
                }
                let (nonce, balance) = state
                    .account(&tx.sender)?
                    .map_or((0, U256::ZERO), |a| (a.nonce, a.balance));
                let hash = tx.hash;
                if pool.add(tx, nonce, balance).is_err() {
                    dropped.push(hash);
                } else if fed.contains(&hash) {
                    admitted.push(hash);
                }
            }
        }
        std::mem::drop(pool);
        self.feed_push(&admitted);
        drop_from_disk(&self.db, &dropped)
    }

    pub(crate) fn block_params(
        &self,
        tip: &Tip,
        ctx: &NativeContext,
        beneficiary: Address,
    ) -> Result<BlockParams, EngineError> {
        let timestamp = u64::try_from(ctx.time)
            .map_err(|_| EngineError::Invalid(format!("native time {} is negative", ctx.time)))?;
        Ok(BlockParams {
            number: tip.number + 1,
            timestamp,
            beneficiary,
            gas_limit: self.chain.gas_limit,
            base_fee: next_base_fee(&self.chain, tip.gas_used, tip.gas_limit, tip.base_fee),
            parent_hash: tip.hash(),
            chain_id: self.chain.chain_id,
        })
    }

    /// The tip's LtHash with a block's changes applied.
    pub(crate) fn state_root(&self, tip: &Tip, executed: &Executed) -> Result<LtHash, EngineError> {
        let mut root = LtHash::from_bytes(&tip.lthash)
            .ok_or_else(|| EngineError::Corrupt("tip lthash".into()))?;
        // (element, added?) for every changed entry; removing the old value
        // and adding the new one commute, so the work splits across cores.
        let mut elements: Vec<(Vec<u8>, bool)> = Vec::new();
        for (a, before, after) in &executed.diff.accounts {
            if let Some(b) = before {
                elements.push((
                    lthash::account_element(a, b.nonce, b.balance, b.code_hash),
                    false,
                ));
            }
            if let Some(n) = after {
                elements.push((
                    lthash::account_element(a, n.nonce, n.balance, n.code_hash),
                    true,
                ));
            }
        }
        for (a, k, before, after) in &executed.diff.slots {
            if !before.is_zero() {
                elements.push((lthash::slot_element(a, *k, *before), false));
            }
            if !after.is_zero() {
                elements.push((lthash::slot_element(a, *k, *after), true));
            }
        }
        let fold = |part: &[(Vec<u8>, bool)]| {
            let (mut added, mut removed) = (LtHash::new(), LtHash::new());
            for (e, add) in part {
                if *add {
                    added.add(e);
                } else {
                    removed.add(e);
                }
            }
            (added, removed)
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let parts: Vec<(LtHash, LtHash)> = if threads < 2 || elements.len() < MIN_PARALLEL_ELEMENTS
        {
            vec![fold(&elements)]
        } else {
            let chunk = elements.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let handles: Vec<_> = elements
                    .chunks(chunk)
                    .map(|part| scope.spawn(move || fold(part)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join())
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|_| EngineError::Corrupt("state root: a hashing thread panicked".into()))?
        };
        for (added, removed) in &parts {
            root.add_hash(added);
            root.sub_hash(removed);
        }
        Ok(root)
    }

    /// Validates `payload` as the next block and commits it atomically.
    pub fn connect(
        &self,
        input: MetaConnectBlockInput,
    ) -> Result<MetaConnectBlockResult, EngineError> {
        let _guard = self.lock_writer();
        let tip = self.tip();
        let hash = keccak256(&input.payload);
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
        let h = block
            .header
            .as_ref()
            .ok_or_else(|| EngineError::Invalid("corrupt payload: no header".into()))?;
        if h.parent_hash != tip.hash {
            return Err(EngineError::Precondition(format!(
                "block parent {} is not the tip {}",
                hex::encode(&h.parent_hash),
                hex::encode(&tip.hash)
            )));
        }
        if h.number != tip.number + 1 {
            return Err(EngineError::Invalid(format!(
                "block number {} does not follow tip {}",
                h.number, tip.number
            )));
        }
        let ctx = input
            .context
            .ok_or_else(|| EngineError::Invalid("missing native context".into()))?;
        if (h.native_height, h.native_time) != (ctx.height, ctx.time) {
            return Err(EngineError::Invalid(format!(
                "block was minted for native height {} time {}, connected at height {} time {}",
                h.native_height, h.native_time, ctx.height, ctx.time
            )));
        }
        let carried_hash = ain_rs::native_txs_hash(&block.system_txs);
        if carried_hash.as_slice() != input.native_txs_hash.as_slice() {
            return Err(EngineError::Invalid(format!(
                "payload does not match the native block: its {} deposit/withdraw txs hash to {}, the block's to {}",
                block.system_txs.len(),
                hex::encode(carried_hash),
                hex::encode(&input.native_txs_hash)
            )));
        }
        if block.system_txs.len() > MAX_SYSTEM_TXS {
            return Err(EngineError::Invalid(format!(
                "block has {} system txs, more than {MAX_SYSTEM_TXS}",
                block.system_txs.len()
            )));
        }
        let beneficiary: [u8; 20] = h.beneficiary.as_slice().try_into().map_err(|_| {
            EngineError::Invalid(format!(
                "beneficiary has {} bytes, not 20",
                h.beneficiary.len()
            ))
        })?;
        let params = self.block_params(&tip, &ctx, Address::from(beneficiary))?;
        if (h.gas_limit, h.base_fee) != (params.gas_limit, params.base_fee) {
            return Err(EngineError::Invalid(format!(
                "block has gas limit {} and base fee {}, the chain requires {} and {}",
                h.gas_limit, h.base_fee, params.gas_limit, params.base_fee
            )));
        }
        let system: Vec<SystemTx> = block
            .system_txs
            .iter()
            .enumerate()
            .map(|(i, n)| {
                SystemTx::parse(n).map_err(|e| EngineError::Invalid(format!("system tx {i}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let evm_txs = self.recover_block_txs(&block.transactions)?;

        let read = self.db.begin_read()?;
        let state = store::read_state(&read)?;
        let mut exec = Executor::new(&state, params.clone());
        for (i, tx) in system.iter().enumerate() {
            if let Err(reason) = exec.apply_system(tx)? {
                return Err(EngineError::Invalid(format!(
                    "system tx {i} is invalid: {reason}"
                )));
            }
        }
        for (i, tx) in evm_txs.iter().enumerate() {
            if let Err(reason) = exec.apply_evm(tx)? {
                return Err(EngineError::Invalid(format!("tx {i} is invalid: {reason}")));
            }
        }
        let executed = exec.finish();
        let root = self.state_root(&tip, &executed)?;
        let expected = header(&params, &ctx, &executed, &root);
        let checks: [(&str, &[u8], &[u8]); 5] = [
            ("tx root", &expected.tx_root, &h.tx_root),
            ("receipts root", &expected.receipts_root, &h.receipts_root),
            ("state root", &expected.state_root, &h.state_root),
            ("logs bloom", &expected.logs_bloom, &h.logs_bloom),
            (
                "gas used",
                &expected.gas_used.to_be_bytes(),
                &h.gas_used.to_be_bytes(),
            ),
        ];
        for (what, computed, claimed) in checks {
            if computed != claimed {
                return Err(EngineError::Invalid(format!(
                    "{what} mismatch: block claims {}, execution gives {}",
                    hex::encode(claimed),
                    hex::encode(computed)
                )));
            }
        }
        drop(state);
        drop(read);

        let supply = apply_supply(tip.supply(), &executed)?;
        let new_tip = Tip {
            number: h.number,
            hash: hash.to_vec(),
            state_root: root.checksum().to_vec(),
            lthash: root.to_bytes(),
            supply_wei: u256_bytes(supply),
            burned_wei: u256_bytes(tip.burned() + executed.burned),
            base_fee: params.base_fee,
            gas_used: executed.gas_used,
            gas_limit: params.gas_limit,
            chain_id: self.chain.chain_id,
        };
        let block_hash_hex = hex0x(hash.as_slice());
        let block_logs = BlockLogs {
            block_hash: hash.to_vec(),
            logs: executed
                .receipts
                .iter()
                .enumerate()
                .flat_map(|(i, r)| {
                    r.logs.iter().map(move |l| StoredLog {
                        tx_hash: r.tx_hash.to_vec(),
                        tx_index: i as u64,
                        address: l.address.to_vec(),
                        topics: l.topics().iter().map(|t| t.to_vec()).collect(),
                        data: l.data.data.to_vec(),
                    })
                })
                .collect(),
        };
        let included: HashSet<B256> = evm_txs.iter().map(|t| t.hash).collect();
        let txn = self.db.begin_write()?;
        {
            let mut undo = Undo {
                prev_tip: Some(tip.clone()),
                ..Default::default()
            };
            let mut accounts = txn.open_table(ACCOUNTS)?;
            for (a, before, after) in &executed.diff.accounts {
                undo.accounts.push(UndoAccount {
                    address: a.to_vec(),
                    before: before.map(|b| b.encode().to_vec()).unwrap_or_default(),
                });
                match after {
                    Some(n) => accounts.insert(a.as_slice(), n.encode().as_slice())?,
                    None => accounts.remove(a.as_slice())?,
                };
            }
            let mut storage = txn.open_table(STORAGE)?;
            for (a, k, before, after) in &executed.diff.slots {
                undo.slots.push(UndoSlot {
                    address: a.to_vec(),
                    key: u256_bytes(*k),
                    before: u256_bytes(*before),
                });
                let key = store::slot_key(a, k);
                if after.is_zero() {
                    storage.remove(key.as_slice())?;
                } else {
                    storage.insert(key.as_slice(), u256_bytes(*after).as_slice())?;
                }
            }
            let mut code = txn.open_table(CODE)?;
            for (h, c) in &executed.diff.code {
                code.insert(h.as_slice(), c.as_ref())?;
            }
            let mut receipts = txn.open_table(RECEIPTS)?;
            let mut first_log = 0u64;
            for (i, r) in executed.receipts.iter().enumerate() {
                let stored = receipt_result(r, &block_hash_hex, h.number, i as u64, first_log);
                first_log += r.logs.len() as u64;
                receipts.insert(r.tx_hash.as_slice(), stored.encode_to_vec().as_slice())?;
                undo.tx_hashes.push(r.tx_hash.to_vec());
            }
            if !block_logs.logs.is_empty() {
                txn.open_table(LOGS)?
                    .insert(h.number, block_logs.encode_to_vec().as_slice())?;
            }
            txn.open_table(BLOCKS)?
                .insert(hash.as_slice(), input.payload.as_slice())?;
            txn.open_table(NUMBERS)?
                .insert(new_tip.number, hash.as_slice())?;
            txn.open_table(UNDO)?
                .insert(new_tip.number, undo.encode_to_vec().as_slice())?;
            store::put_tip(&txn, &new_tip)?;
            let mut pooled = txn.open_table(MEMPOOL)?;
            for h in &included {
                pooled.remove(h.as_slice())?;
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
            hash.as_slice(),
            &h.parent_hash,
            &new_tip,
        );
        let _ = self.events.send(ChainEvent::Connected {
            number: new_tip.number,
            hash,
            logs: crate::eth::indexed_logs(new_tip.number, &block_logs)?.into(),
        });
        self.set_tip(new_tip);
        self.refill_pool(Vec::new(), &included)?;
        Ok(result)
    }

    /// Decodes and checks a block's EVM txs with their senders. A tx the pool
    /// holds was checked by the same rules on admission, so its sender is
    /// reused (as after relay); the others are recovered on all cores.
    fn recover_block_txs(&self, txs: &[EvmTx]) -> Result<Vec<PoolTx>, EngineError> {
        let mut out: Vec<Option<PoolTx>> = Vec::with_capacity(txs.len());
        let mut missing = Vec::new();
        {
            let pool = self.lock_pool();
            for (i, t) in txs.iter().enumerate() {
                let pooled = pool
                    .get(&keccak256(&t.raw))
                    .filter(|p| p.raw.as_ref() == t.raw.as_slice());
                if pooled.is_none() {
                    missing.push(i);
                }
                out.push(pooled.cloned());
            }
        }
        let raws: Vec<&[u8]> = missing.iter().map(|&i| txs[i].raw.as_slice()).collect();
        let recovered = txpool::recover_all(&raws, &self.chain)
            .map_err(|(k, e)| EngineError::Invalid(format!("tx {} is invalid: {e}", missing[k])))?;
        for (i, tx) in missing.into_iter().zip(recovered) {
            out[i] = Some(tx);
        }
        out.into_iter()
            .map(|t| {
                t.ok_or_else(|| EngineError::Corrupt("a tx of the block was not decoded".into()))
            })
            .collect()
    }

    /// Rolls the tip back to its parent from the undo data, and returns the
    /// block's EVM txs to the pool.
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
            store::get_block(&read.open_table(BLOCKS)?, &tip.hash())?
        };
        let returned: Vec<PoolTx> = payload
            .and_then(|p| MetaBlock::decode(p.as_slice()).ok())
            .map(|b| {
                b.transactions
                    .iter()
                    .filter_map(|t| txpool::decode(&t.raw, &self.chain).ok())
                    .collect()
            })
            .unwrap_or_default();
        let txn = self.db.begin_write()?;
        let removed_logs;
        let prev = {
            let mut undo_table = txn.open_table(UNDO)?;
            let undo = undo_table.remove(tip.number)?.ok_or_else(|| {
                EngineError::Corrupt(format!("no undo data for block {}", tip.number))
            })?;
            let undo = Undo::decode(undo.value())
                .map_err(|e| EngineError::Corrupt(format!("undo of block {}: {e}", tip.number)))?;
            let mut accounts = txn.open_table(ACCOUNTS)?;
            for u in &undo.accounts {
                if u.before.is_empty() {
                    accounts.remove(u.address.as_slice())?;
                } else {
                    accounts.insert(u.address.as_slice(), u.before.as_slice())?;
                }
            }
            let mut storage = txn.open_table(STORAGE)?;
            for s in &undo.slots {
                let (Ok(a), Ok(k)) = (
                    <[u8; 20]>::try_from(s.address.as_slice()),
                    <[u8; 32]>::try_from(s.key.as_slice()),
                ) else {
                    return Err(EngineError::Corrupt("undo slot".into()));
                };
                let key = store::slot_key(&Address::from(a), &U256::from_be_bytes(k));
                if s.before.iter().all(|b| *b == 0) {
                    storage.remove(key.as_slice())?;
                } else {
                    storage.insert(key.as_slice(), s.before.as_slice())?;
                }
            }
            let mut receipts = txn.open_table(RECEIPTS)?;
            for h in &undo.tx_hashes {
                receipts.remove(h.as_slice())?;
            }
            let logs = txn
                .open_table(LOGS)?
                .remove(tip.number)?
                .map(|v| v.value().to_vec());
            removed_logs = match logs {
                Some(raw) => BlockLogs::decode(raw.as_slice()).map_err(|e| {
                    EngineError::Corrupt(format!("logs of block {}: {e}", tip.number))
                })?,
                None => BlockLogs::default(),
            };
            txn.open_table(NUMBERS)?.remove(tip.number)?;
            txn.open_table(BLOCKS)?.remove(tip.hash.as_slice())?;
            let prev = undo
                .prev_tip
                .ok_or_else(|| EngineError::Corrupt("undo without previous tip".into()))?;
            store::put_tip(&txn, &prev)?;
            let mut pooled = txn.open_table(MEMPOOL)?;
            for tx in &returned {
                pooled.insert(tx.hash.as_slice(), tx.raw.as_ref())?;
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
        let _ = self.events.send(ChainEvent::Disconnected {
            number: tip.number,
            hash: tip.hash(),
            logs: crate::eth::indexed_logs(tip.number, &removed_logs)?.into(),
        });
        self.set_tip(prev);
        self.refill_pool(returned, &HashSet::new())?;
        Ok(result)
    }

    /// Recomputes the state root and supply from every account and slot and
    /// checks them, and the tip block, against the tip.
    pub fn check_integrity(&self) -> Result<(), EngineError> {
        let _guard = self.lock_writer();
        let tip = self.tip();
        let read = self.db.begin_read()?;
        let mut root = LtHash::new();
        let mut supply = U256::ZERO;
        for entry in read.open_table(ACCOUNTS)?.iter()? {
            let (a, v) = entry?;
            let (Ok(a), Some(acct)) = (<[u8; 20]>::try_from(a.value()), Acct::decode(v.value()))
            else {
                return Err(EngineError::Corrupt("account entry".into()));
            };
            root.add(&lthash::account_element(
                &Address::from(a),
                acct.nonce,
                acct.balance,
                acct.code_hash,
            ));
            supply = supply
                .checked_add(acct.balance)
                .ok_or_else(|| EngineError::Corrupt("balances overflow".into()))?;
        }
        for entry in read.open_table(STORAGE)?.iter()? {
            let (k, v) = entry?;
            let (k, v) = (k.value(), v.value());
            if k.len() != 52 || v.len() != 32 {
                return Err(EngineError::Corrupt("storage entry".into()));
            }
            root.add(&lthash::slot_element(
                &Address::from_slice(&k[..20]),
                U256::from_be_slice(&k[20..]),
                U256::from_be_slice(v),
            ));
        }
        if root.checksum().as_slice() != tip.state_root.as_slice() || supply != tip.supply() {
            return Err(EngineError::Corrupt(format!(
                "state does not match tip {}: root {} vs {}, supply {} vs {}",
                tip.number,
                root.checksum(),
                hex::encode(&tip.state_root),
                supply,
                tip.supply()
            )));
        }
        let at_tip = read
            .open_table(NUMBERS)?
            .get(tip.number)?
            .map(|h| h.value().to_vec())
            .ok_or_else(|| EngineError::Corrupt(format!("no block hash at tip {}", tip.number)))?;
        let payload = store::get_block(&read.open_table(BLOCKS)?, &b256(&at_tip))?
            .ok_or_else(|| EngineError::Corrupt("tip block missing".into()))?;
        let header = MetaBlock::decode(payload.as_slice())
            .ok()
            .and_then(|b| b.header)
            .ok_or_else(|| EngineError::Corrupt("tip block does not decode".into()))?;
        if at_tip != tip.hash
            || keccak256(&payload).as_slice() != tip.hash.as_slice()
            || header.state_root != tip.state_root
        {
            return Err(EngineError::Corrupt(
                "tip block does not match the tip".into(),
            ));
        }
        Ok(())
    }

    fn parse_address(s: &str) -> Result<Address, EngineError> {
        keys::parse_address(s).map_err(EngineError::Invalid)
    }

    /// Balance, nonces and code hash of an address.
    pub fn balance(&self, addr: &str) -> Result<MetaGetBalanceResult, EngineError> {
        let a = Self::parse_address(addr)?;
        // The account and the pool from one moment (see `pending_nonce`).
        let _guard = self.lock_writer();
        let acct = self.committed_account(&a)?;
        let (nonce, balance, code_hash) = acct.map_or((0, U256::ZERO, KECCAK_EMPTY), |x| {
            (x.nonce, x.balance, x.code_hash)
        });
        Ok(MetaGetBalanceResult {
            address: keys::checksummed(&a),
            balance_wei: balance.to_string(),
            nonce,
            pending_nonce: self.lock_pool().pending_nonce(&a, nonce),
            code_hash: hex0x(code_hash.as_slice()),
        })
    }

    /// A block of the active chain by hash or number; see [`BlockId::parse`].
    pub fn block(&self, id: &str) -> Result<MetaGetBlockResult, EngineError> {
        let id = BlockId::parse(id)?;
        let read = self.db.begin_read()?;
        let hash = match id {
            BlockId::Hash(h) => B256::from(h),
            BlockId::Height(n) => {
                let numbers = read.open_table(NUMBERS)?;
                let h = numbers
                    .get(n)?
                    .ok_or_else(|| EngineError::NotFound(format!("no block at height {n}")))?;
                b256(h.value())
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

    fn parse_word(s: &str, what: &str) -> Result<B256, EngineError> {
        let digits = s.strip_prefix("0x").unwrap_or(s);
        if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(EngineError::Invalid(format!(
                "{what} must be 0x and 1 to 64 hex digits, got {:?}",
                s.chars().take(80).collect::<String>()
            )));
        }
        let padded = format!("{digits:0>64}");
        let mut out = [0u8; 32];
        hex::decode_to_slice(padded, &mut out)
            .map_err(|e| EngineError::Invalid(format!("{what}: {e}")))?;
        Ok(B256::from(out))
    }

    /// The receipt of a tx on the active chain.
    pub fn receipt(&self, tx_hash: &str) -> Result<MetaGetReceiptResult, EngineError> {
        if tx_hash.len() != 66 {
            return Err(EngineError::Invalid(format!(
                "tx hash must be 0x and 64 hex digits, got {} characters",
                tx_hash.len()
            )));
        }
        let h = Self::parse_word(tx_hash, "tx hash")?;
        let read = self.db.begin_read()?;
        let stored = read
            .open_table(RECEIPTS)?
            .get(h.as_slice())?
            .map(|v| v.value().to_vec())
            .ok_or_else(|| EngineError::NotFound(format!("no mined tx {h}")))?;
        MetaGetReceiptResult::decode(stored.as_slice())
            .map_err(|e| EngineError::Corrupt(format!("receipt {h}: {e}")))
    }

    /// One storage word of an account.
    pub fn storage_at(
        &self,
        addr: &str,
        slot: &str,
    ) -> Result<MetaGetStorageAtResult, EngineError> {
        let a = Self::parse_address(addr)?;
        let k = Self::parse_word(slot, "slot")?;
        let read = self.db.begin_read()?;
        let v = store::read_state(&read)?.storage(&a, &U256::from_be_bytes(k.0))?;
        Ok(MetaGetStorageAtResult {
            value: hex0x(&v.to_be_bytes::<32>()),
        })
    }

    /// The code of an account.
    pub fn code(&self, addr: &str) -> Result<MetaGetCodeResult, EngineError> {
        let a = Self::parse_address(addr)?;
        let read = self.db.begin_read()?;
        let state = store::read_state(&read)?;
        let code = match state.account(&a)? {
            Some(acct) if acct.code_hash != KECCAK_EMPTY => state
                .code(&acct.code_hash)?
                .ok_or_else(|| EngineError::Corrupt(format!("code of {a}")))?,
            _ => Default::default(),
        };
        Ok(MetaGetCodeResult { code: hex0x(&code) })
    }

    /// The tip as the service reports it.
    pub fn tip_result(&self) -> MetaGetTipResult {
        let tip = self.tip();
        MetaGetTipResult {
            number: tip.number,
            hash: hex::encode(&tip.hash),
            state_root: hex::encode(&tip.state_root),
            supply_wei: tip.supply().to_string(),
            burned_wei: tip.burned().to_string(),
            chain_id: tip.chain_id,
            base_fee: tip.base_fee,
            gas_used: tip.gas_used,
            gas_limit: tip.gas_limit,
            next_base_fee: next_base_fee(&self.chain, tip.gas_used, tip.gas_limit, tip.base_fee),
        }
    }
}

fn pool_error(e: PoolError) -> EngineError {
    match e {
        PoolError::Invalid(m) | PoolError::Underpriced(m) => EngineError::Invalid(m),
        PoolError::Known(m) => EngineError::Duplicate(m),
        PoolError::Full(m) => EngineError::Full(m),
    }
}

/// A tx that decoded but does not fit the state or the pool (a nonce
/// already used, too few funds, an underpriced replacement) fails a
/// precondition: a peer relaying it may only be late, not at fault.
fn stateful_pool_error(e: PoolError) -> EngineError {
    match e {
        PoolError::Invalid(m) | PoolError::Underpriced(m) => EngineError::Precondition(m),
        other => pool_error(other),
    }
}

fn drop_from_disk(db: &Database, hashes: &[B256]) -> Result<(), EngineError> {
    if hashes.is_empty() {
        return Ok(());
    }
    let txn = db.begin_write()?;
    {
        let mut table = txn.open_table(MEMPOOL)?;
        for h in hashes {
            table.remove(h.as_slice())?;
        }
    }
    txn.commit()?;
    Ok(())
}

/// The supply after a block: the sum of balances changes by exactly the
/// balance deltas of the accounts it touched.
fn apply_supply(supply: U256, executed: &Executed) -> Result<U256, EngineError> {
    let mut supply = supply;
    for (_, before, after) in &executed.diff.accounts {
        let b = before.map_or(U256::ZERO, |x| x.balance);
        let n = after.map_or(U256::ZERO, |x| x.balance);
        supply = supply
            .checked_add(n)
            .and_then(|s| s.checked_sub(b))
            .ok_or_else(|| EngineError::Corrupt("supply out of range".into()))?;
    }
    Ok(supply)
}

fn receipt_result(
    r: &Receipt,
    block_hash: &str,
    number: u64,
    index: u64,
    first_log: u64,
) -> MetaGetReceiptResult {
    MetaGetReceiptResult {
        tx_hash: hex0x(r.tx_hash.as_slice()),
        block_hash: block_hash.to_string(),
        block_number: number,
        index,
        tx_type: r.tx_type as u32,
        from: keys::checksummed(&r.from),
        to: r.to.map(|a| keys::checksummed(&a)).unwrap_or_default(),
        contract_address: r
            .contract_address
            .map(|a| keys::checksummed(&a))
            .unwrap_or_default(),
        success: r.success,
        gas_used: r.gas_used,
        cumulative_gas_used: r.cumulative_gas_used,
        effective_gas_price: u64::try_from(r.effective_gas_price).unwrap_or(u64::MAX),
        logs: r
            .logs
            .iter()
            .enumerate()
            .map(|(i, l)| MetaLog {
                address: keys::checksummed(&l.address),
                topics: l.topics().iter().map(|t| hex0x(t.as_slice())).collect(),
                data: hex0x(&l.data.data),
                log_index: first_log + i as u64,
            })
            .collect(),
        native_txid: r.native_txid.map(|t| t.to_vec()).unwrap_or_default(),
        error: r.error.clone(),
    }
}
