//! Read access for the Ethereum JSON-RPC (`eth_*`, served by metachaind's
//! `eth` module): state reads, calls, gas estimates and access lists at the
//! tip or a recent block (the committed state rolled back by the undo data),
//! blocks by number or hash, mined txs by hash, logs by block range, and the
//! events subscriptions and filters follow. No sockets here.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::executor::{BlockParams, Executor};
use crate::store::{self, b256, Acct, BlockLogs, BLOCKS, LOGS, NUMBERS, RECEIPTS};
use crate::system::SystemTx;
use crate::txpool::{self, PoolTx};
use ain_rs::types::{MetaBlock, MetaBlockHeader, MetaGetReceiptResult};
use alloy_eips::eip2930::AccessList;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use prost::Message;
use redb::ReadableDatabase;
use revm::context::TxEnv;
use revm::context_interface::result::ExecutionResult;
use revm::primitives::KECCAK_EMPTY;

/// Gas every tx pays before it runs; the lowest limit `estimate_gas` tries.
pub const TX_BASE_GAS: u64 = 21_000;

/// How far below the tip state can be read: each block further back costs
/// one undo record read per request.
pub const STATE_HISTORY: u64 = 1024;

/// The `safe` block is this many blocks below the tip, the `finalized` one
/// this many: each metachain block rides in one native block, so these are
/// native confirmations.
pub const SAFE_DEPTH: u64 = 6;
pub const FINALIZED_DEPTH: u64 = 100;

/// Most blocks one log query may span, and most logs it may return.
pub const MAX_LOG_RANGE: u64 = 10_000;
pub const MAX_LOGS: usize = 10_000;

/// A log with where it was emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedLog {
    pub block_number: u64,
    pub block_hash: B256,
    pub tx_hash: B256,
    pub tx_index: u64,
    /// Position among the block's logs.
    pub log_index: u64,
    pub address: Address,
    pub topics: Vec<B256>,
    pub data: Bytes,
}

/// What the eth subscriptions and filters follow.
#[derive(Clone, Debug)]
pub enum ChainEvent {
    /// A block joined the active chain.
    Connected {
        number: u64,
        hash: B256,
        logs: std::sync::Arc<Vec<IndexedLog>>,
    },
    /// The tip block left the active chain; its logs are gone.
    Disconnected {
        number: u64,
        hash: B256,
        logs: std::sync::Arc<Vec<IndexedLog>>,
    },
    /// A tx entered the pool.
    Pending(B256),
}

/// The logs of a stored block; a field of the wrong length means a corrupt
/// database.
pub fn indexed_logs(number: u64, stored: &BlockLogs) -> Result<Vec<IndexedLog>, EngineError> {
    let corrupt = || EngineError::Corrupt(format!("logs of block {number}"));
    let block_hash = B256::try_from(stored.block_hash.as_slice()).unwrap_or_default();
    stored
        .logs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(IndexedLog {
                block_number: number,
                block_hash,
                tx_hash: B256::try_from(l.tx_hash.as_slice()).map_err(|_| corrupt())?,
                tx_index: l.tx_index,
                log_index: i as u64,
                address: Address::try_from(l.address.as_slice()).map_err(|_| corrupt())?,
                topics: l
                    .topics
                    .iter()
                    .map(|t| B256::try_from(t.as_slice()).map_err(|_| corrupt()))
                    .collect::<Result<_, _>>()?,
                data: Bytes::copy_from_slice(&l.data),
            })
        })
        .collect()
}

/// Which logs a query or subscription wants: any of `addresses` (none: any),
/// and at each position one of the listed topics (an empty list: any).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub addresses: Vec<Address>,
    pub topics: Vec<Vec<B256>>,
}

impl LogFilter {
    pub fn matches(&self, log: &IndexedLog) -> bool {
        if !self.addresses.is_empty() && !self.addresses.contains(&log.address) {
            return false;
        }
        self.topics.iter().enumerate().all(|(i, wanted)| {
            wanted.is_empty() || log.topics.get(i).is_some_and(|t| wanted.contains(t))
        })
    }
}

/// A block's fee figures (`eth_feeHistory`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockFees {
    pub base_fee: u64,
    pub gas_used: u64,
    pub gas_limit: u64,
    /// (gas used, effective priority fee) of each EVM tx.
    pub txs: Vec<(u64, u64)>,
}

/// The fields of an `eth_call` / `eth_estimateGas` request, all optional.
#[derive(Clone, Debug, Default)]
pub struct CallRequest {
    pub from: Option<Address>,
    /// `None` creates a contract from `input`.
    pub to: Option<Address>,
    pub gas: Option<u64>,
    pub gas_price: Option<u128>,
    pub max_fee_per_gas: Option<u128>,
    pub max_priority_fee_per_gas: Option<u128>,
    pub value: Option<U256>,
    pub input: Bytes,
    pub nonce: Option<u64>,
    pub access_list: Option<AccessList>,
}

/// What a call did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    Success {
        output: Bytes,
        gas_used: u64,
    },
    /// The revert data (an ABI-encoded `Error(string)`, say).
    Revert {
        output: Bytes,
        gas_used: u64,
    },
    /// Out of gas, an invalid opcode...
    Halt {
        reason: String,
        gas_used: u64,
    },
}

impl CallOutcome {
    pub fn gas_used(&self) -> u64 {
        match self {
            CallOutcome::Success { gas_used, .. }
            | CallOutcome::Revert { gas_used, .. }
            | CallOutcome::Halt { gas_used, .. } => *gas_used,
        }
    }
}

/// Why `estimate_gas` found no limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EstimateError {
    /// The call reverts even with the most gas allowed.
    Revert(Bytes),
    /// It halts (out of gas, say) with the most gas allowed.
    Halt(String),
}

/// A block of the active chain with its hash.
#[derive(Clone, Debug)]
pub struct StoredBlock {
    pub hash: B256,
    /// Length of the payload in bytes (the `size` of `eth_getBlock*`).
    pub size: u64,
    pub block: MetaBlock,
}

impl StoredBlock {
    pub fn header(&self) -> &MetaBlockHeader {
        // Connect refuses a block without a header; genesis has one.
        static EMPTY: MetaBlockHeader = MetaBlockHeader {
            parent_hash: Vec::new(),
            number: 0,
            native_height: 0,
            native_time: 0,
            tx_root: Vec::new(),
            state_root: Vec::new(),
            receipts_root: Vec::new(),
            beneficiary: Vec::new(),
            gas_limit: 0,
            gas_used: 0,
            base_fee: 0,
            logs_bloom: Vec::new(),
        };
        self.block.header.as_ref().unwrap_or(&EMPTY)
    }

    /// The block's system txs, which connect checked: one that does not
    /// parse means a corrupt database.
    fn system_txs(&self) -> Result<Vec<SystemTx>, EngineError> {
        self.block
            .system_txs
            .iter()
            .enumerate()
            .map(|(i, n)| {
                SystemTx::parse(n).map_err(|e| {
                    EngineError::Corrupt(format!("system tx {i} of {}: {e}", self.hash))
                })
            })
            .collect()
    }

    /// Every tx of the block in block order: system txs first, then EVM txs.
    pub fn txs(&self, chain: &crate::chain::ChainParams) -> Result<Vec<BlockTx>, EngineError> {
        let mut out: Vec<BlockTx> = self
            .system_txs()?
            .into_iter()
            .map(BlockTx::System)
            .collect();
        let raws: Vec<&[u8]> = self
            .block
            .transactions
            .iter()
            .map(|t| t.raw.as_slice())
            .collect();
        let txs = txpool::recover_all(&raws, chain)
            .map_err(|(i, e)| EngineError::Corrupt(format!("tx {i} of {}: {e}", self.hash)))?;
        out.extend(txs.into_iter().map(|t| BlockTx::Evm(Box::new(t))));
        Ok(out)
    }

    /// The hash of every tx, in block order, without recovering senders.
    pub fn tx_hashes(&self) -> Result<Vec<B256>, EngineError> {
        let mut out: Vec<B256> = self.system_txs()?.iter().map(SystemTx::hash).collect();
        out.extend(self.block.transactions.iter().map(|t| keccak256(&t.raw)));
        Ok(out)
    }
}

/// One tx of a block.
#[derive(Clone, Debug)]
pub enum BlockTx {
    System(SystemTx),
    Evm(Box<PoolTx>),
}

impl BlockTx {
    pub fn hash(&self) -> B256 {
        match self {
            BlockTx::System(t) => t.hash(),
            BlockTx::Evm(t) => t.hash,
        }
    }
}

/// A mined tx with where it was mined.
#[derive(Clone, Debug)]
pub struct MinedTx {
    pub tx: BlockTx,
    pub block: StoredBlock,
    pub index: u64,
    pub receipt: MetaGetReceiptResult,
}

impl Engine {
    /// An account of the committed state; `None` when empty.
    pub fn account(&self, a: &Address) -> Result<Option<Acct>, EngineError> {
        self.account_at(a, None)
    }

    /// The state after block `at` (`None`: the tip). A block above the tip is
    /// `NotFound`; one more than [`STATE_HISTORY`] below it, `Precondition`.
    fn state_at(
        &self,
        read: &redb::ReadTransaction,
        at: Option<u64>,
    ) -> Result<store::ReadState, EngineError> {
        let Some(number) = at else {
            return store::read_state(read);
        };
        let tip = store::read_tip(read)?.number;
        if number > tip {
            return Err(EngineError::NotFound(format!(
                "block {number} is above the tip {tip}"
            )));
        }
        if tip - number > STATE_HISTORY {
            return Err(EngineError::Precondition(format!(
                "historical state is not available: block {number} is more than {STATE_HISTORY} blocks below the tip {tip}"
            )));
        }
        store::read_state_at(read, number)
    }

    /// An account after block `at` (`None`: the tip).
    pub fn account_at(&self, a: &Address, at: Option<u64>) -> Result<Option<Acct>, EngineError> {
        let read = self.db.begin_read()?;
        self.state_at(&read, at)?.account(a)
    }

    /// The number of the `safe` block (see [`SAFE_DEPTH`]).
    pub fn safe_number(&self) -> u64 {
        self.tip().number.saturating_sub(SAFE_DEPTH)
    }

    /// The number of the `finalized` block (see [`FINALIZED_DEPTH`]).
    pub fn finalized_number(&self) -> u64 {
        self.tip().number.saturating_sub(FINALIZED_DEPTH)
    }

    /// The logs of blocks `from..=to` of the active chain that `filter`
    /// wants, in chain order. Refuses a reversed range, one longer than
    /// [`MAX_LOG_RANGE`] blocks, and more than [`MAX_LOGS`] results.
    pub fn logs(
        &self,
        from: u64,
        to: u64,
        filter: &LogFilter,
    ) -> Result<Vec<IndexedLog>, EngineError> {
        if from > to {
            return Err(EngineError::Invalid(format!(
                "invalid block range: from {from} is above to {to}"
            )));
        }
        if to - from >= MAX_LOG_RANGE {
            return Err(EngineError::Invalid(format!(
                "block range too large: {} blocks, at most {MAX_LOG_RANGE}",
                u128::from(to - from) + 1
            )));
        }
        let read = self.db.begin_read()?;
        let table = read.open_table(LOGS)?;
        let mut out = Vec::new();
        for entry in table.range(from..=to)? {
            let (number, raw) = entry?;
            let number = number.value();
            let stored = BlockLogs::decode(raw.value())
                .map_err(|e| EngineError::Corrupt(format!("logs of block {number}: {e}")))?;
            for log in indexed_logs(number, &stored)? {
                if filter.matches(&log) {
                    if out.len() == MAX_LOGS {
                        return Err(EngineError::Invalid(format!(
                            "query returns more than {MAX_LOGS} logs; narrow the block range or the filter"
                        )));
                    }
                    out.push(log);
                }
            }
        }
        Ok(out)
    }

    /// The logs of one block of the active chain (all of them).
    pub fn block_logs(&self, number: u64) -> Result<Vec<IndexedLog>, EngineError> {
        self.logs(number, number, &LogFilter::default())
    }

    /// The fee figures of a block of the active chain.
    pub fn block_fees(&self, number: u64) -> Result<Option<BlockFees>, EngineError> {
        let Some(block) = self.block_at(number)? else {
            return Ok(None);
        };
        let h = block.header();
        let base_fee = h.base_fee;
        let mut txs = Vec::with_capacity(block.block.transactions.len());
        for raw in &block.block.transactions {
            let hash = keccak256(&raw.raw);
            let r = self
                .receipt_of(hash)?
                .ok_or_else(|| EngineError::Corrupt(format!("receipt of {hash}")))?;
            txs.push((r.gas_used, r.effective_gas_price.saturating_sub(base_fee)));
        }
        Ok(Some(BlockFees {
            base_fee,
            gas_used: h.gas_used,
            gas_limit: h.gas_limit,
            txs,
        }))
    }

    /// The nonce the account's next tx takes, counting its pending pool txs.
    pub fn pending_nonce(&self, a: &Address) -> Result<u64, EngineError> {
        // The account and the pool from one moment: a block connected in
        // between would take its txs out of the pool after we read a nonce
        // from before it.
        let _guard = self.lock_writer();
        let nonce = self.account(a)?.map_or(0, |x| x.nonce);
        Ok(self.lock_pool().pending_nonce(a, nonce))
    }

    /// The code of an account after block `at` (`None`: the tip), empty
    /// when it has none.
    pub fn code_at(&self, a: &Address, at: Option<u64>) -> Result<Bytes, EngineError> {
        let read = self.db.begin_read()?;
        let state = self.state_at(&read, at)?;
        match state.account(a)? {
            Some(acct) if acct.code_hash != KECCAK_EMPTY => state
                .code(&acct.code_hash)?
                .ok_or_else(|| EngineError::Corrupt(format!("code of {a}"))),
            _ => Ok(Bytes::new()),
        }
    }

    /// One storage word of an account after block `at` (`None`: the tip).
    pub fn storage_at_block(
        &self,
        a: &Address,
        slot: U256,
        at: Option<u64>,
    ) -> Result<U256, EngineError> {
        let read = self.db.begin_read()?;
        self.state_at(&read, at)?.storage(a, &slot)
    }

    /// The block of the active chain at `number`, if any.
    pub fn block_at(&self, number: u64) -> Result<Option<StoredBlock>, EngineError> {
        let read = self.db.begin_read()?;
        let Some(hash) = read
            .open_table(NUMBERS)?
            .get(number)?
            .map(|h| b256(h.value()))
        else {
            return Ok(None);
        };
        Self::stored_block(&read, hash)
    }

    /// The block of the active chain with this hash, if any (a disconnected
    /// block is gone).
    pub fn block_by_hash(&self, hash: B256) -> Result<Option<StoredBlock>, EngineError> {
        let read = self.db.begin_read()?;
        Self::stored_block(&read, hash)
    }

    fn stored_block(
        read: &redb::ReadTransaction,
        hash: B256,
    ) -> Result<Option<StoredBlock>, EngineError> {
        let Some(payload) = store::get_block(&read.open_table(BLOCKS)?, &hash)? else {
            return Ok(None);
        };
        let block = MetaBlock::decode(payload.as_slice())
            .map_err(|e| EngineError::Corrupt(format!("block {hash}: {e}")))?;
        Ok(Some(StoredBlock {
            hash,
            size: payload.len() as u64,
            block,
        }))
    }

    /// The stored receipt of a tx of the active chain.
    pub fn receipt_of(&self, tx_hash: B256) -> Result<Option<MetaGetReceiptResult>, EngineError> {
        let read = self.db.begin_read()?;
        let stored = read
            .open_table(RECEIPTS)?
            .get(tx_hash.as_slice())?
            .map(|v| v.value().to_vec());
        stored
            .map(|s| {
                MetaGetReceiptResult::decode(s.as_slice())
                    .map_err(|e| EngineError::Corrupt(format!("receipt {tx_hash}: {e}")))
            })
            .transpose()
    }

    /// A mined tx of the active chain: the receipt names its block and
    /// index, the block's payload holds the tx.
    pub fn mined_tx(&self, tx_hash: B256) -> Result<Option<MinedTx>, EngineError> {
        let Some(receipt) = self.receipt_of(tx_hash)? else {
            return Ok(None);
        };
        let block_hash = Self::parse_hash(&receipt.block_hash)?;
        let block = self
            .block_by_hash(block_hash)?
            .ok_or_else(|| EngineError::Corrupt(format!("block of receipt {tx_hash}")))?;
        let index = receipt.index;
        let i = index as usize;
        let systems = block.block.system_txs.len();
        let tx = if i < systems {
            BlockTx::System(
                SystemTx::parse(&block.block.system_txs[i])
                    .map_err(|e| EngineError::Corrupt(format!("system tx {tx_hash}: {e}")))?,
            )
        } else {
            let raw = block
                .block
                .transactions
                .get(i - systems)
                .ok_or_else(|| EngineError::Corrupt(format!("index of tx {tx_hash}")))?;
            BlockTx::Evm(Box::new(
                txpool::decode(&raw.raw, &self.chain)
                    .map_err(|e| EngineError::Corrupt(format!("tx {tx_hash}: {e:?}")))?,
            ))
        };
        if tx.hash() != tx_hash {
            return Err(EngineError::Corrupt(format!(
                "receipt of {tx_hash} points at another tx"
            )));
        }
        Ok(Some(MinedTx {
            tx,
            block,
            index,
            receipt,
        }))
    }

    /// A tx waiting in the pool.
    pub fn pooled_tx(&self, tx_hash: &B256) -> Option<PoolTx> {
        self.lock_pool().get(tx_hash).cloned()
    }

    fn parse_hash(s: &str) -> Result<B256, EngineError> {
        let digits = s.strip_prefix("0x").unwrap_or(s);
        let bytes =
            hex::decode(digits).map_err(|e| EngineError::Corrupt(format!("hash {s}: {e}")))?;
        if bytes.len() != 32 {
            return Err(EngineError::Corrupt(format!("hash {s}")));
        }
        Ok(B256::from_slice(&bytes))
    }

    /// The execution context calls at block `at` (`None`: the tip) run in:
    /// that block's own, as geth does.
    fn call_params(&self, at: Option<u64>) -> Result<BlockParams, EngineError> {
        let number = at.unwrap_or_else(|| self.tip().number);
        let block = self
            .block_at(number)?
            .ok_or_else(|| EngineError::NotFound(format!("block {number} is above the tip")))?;
        let h = block.header();
        Ok(BlockParams {
            number: h.number,
            timestamp: u64::try_from(h.native_time).unwrap_or(0),
            beneficiary: <[u8; 20]>::try_from(h.beneficiary.as_slice())
                .map(Address::from)
                .unwrap_or_default(),
            gas_limit: h.gas_limit,
            base_fee: h.base_fee,
            parent_hash: b256(&h.parent_hash),
            chain_id: self.chain.chain_id,
        })
    }

    fn call_env(&self, req: &CallRequest, gas_limit: u64) -> TxEnv {
        let dynamic = req.max_fee_per_gas.is_some() || req.max_priority_fee_per_gas.is_some();
        let (tx_type, gas_price, priority) = if dynamic {
            let max_fee = req.max_fee_per_gas.unwrap_or(0);
            (
                2,
                max_fee,
                Some(req.max_priority_fee_per_gas.unwrap_or(0).min(max_fee)),
            )
        } else if req.access_list.is_some() {
            (1, req.gas_price.unwrap_or(0), None)
        } else {
            (0, req.gas_price.unwrap_or(0), None)
        };
        TxEnv {
            tx_type,
            caller: req.from.unwrap_or(Address::ZERO),
            gas_limit,
            gas_price,
            kind: req.to.map_or(TxKind::Create, TxKind::Call),
            value: req.value.unwrap_or_default(),
            data: req.input.clone(),
            nonce: req.nonce.unwrap_or(0),
            chain_id: Some(self.chain.chain_id),
            access_list: req.access_list.clone().unwrap_or_default(),
            gas_priority_fee: priority,
            ..Default::default()
        }
    }

    /// The gas a call gets when it names none: the block gas limit.
    fn call_gas(&self, req: &CallRequest, params: &BlockParams) -> u64 {
        req.gas.unwrap_or(params.gas_limit).min(params.gas_limit)
    }

    /// Executes `req` on the state after block `at` (`None`: the tip) and
    /// throws the result away. An invalid call (a gas limit below the
    /// intrinsic gas, a sender who cannot pay `gas × price + value`) is
    /// `EngineError::Invalid`.
    pub fn call(&self, req: &CallRequest, at: Option<u64>) -> Result<CallOutcome, EngineError> {
        let params = self.call_params(at)?;
        let gas = self.call_gas(req, &params);
        let read = self.db.begin_read()?;
        let state = self.state_at(&read, at)?;
        let mut exec = Executor::for_calls(&state, params);
        run(&mut exec, self.call_env(req, gas))
    }

    /// The access list of `req` at block `at` (geth's
    /// `eth_createAccessList`): every account and storage slot the call
    /// touches, less its sender, its recipient (unless with slots) and the
    /// precompiles; and the call's outcome with that list. The list is
    /// recomputed until it is stable, since warm accounts change gas and so
    /// paths.
    pub fn create_access_list(
        &self,
        req: &CallRequest,
        at: Option<u64>,
    ) -> Result<(AccessList, CallOutcome), EngineError> {
        let params = self.call_params(at)?;
        let gas = self.call_gas(req, &params);
        let read = self.db.begin_read()?;
        let state = self.state_at(&read, at)?;
        let mut exec = Executor::for_calls(&state, params.clone());
        let from = req.from.unwrap_or(Address::ZERO);
        let precompiles = revm::precompile::Precompiles::cancun();
        let mut list = req.access_list.clone().unwrap_or_default();
        // Each round only adds entries, so this ends; the bound is a guard.
        for _ in 0..8 {
            let mut with = req.clone();
            with.access_list = Some(list.clone());
            let (result, touched) = exec
                .call_touching(self.call_env(&with, gas))?
                .map_err(EngineError::Invalid)?;
            let mut items: Vec<alloy_eips::eip2930::AccessListItem> = touched
                .into_iter()
                .filter(|(a, slots)| {
                    !slots.is_empty()
                        || !(*a == from
                            || Some(*a) == req.to
                            || *a == params.beneficiary
                            || precompiles.contains(a))
                })
                .map(|(address, slots)| {
                    let mut storage_keys: Vec<B256> = slots.into_iter().map(B256::from).collect();
                    storage_keys.sort();
                    alloy_eips::eip2930::AccessListItem {
                        address,
                        storage_keys,
                    }
                })
                .collect();
            items.sort_by_key(|i| i.address);
            let next = AccessList(items);
            let outcome = outcome_of(result);
            if next == list {
                return Ok((next, outcome));
            }
            list = next;
        }
        let mut with = req.clone();
        with.access_list = Some(list.clone());
        let outcome = run(&mut exec, self.call_env(&with, gas))?;
        Ok((list, outcome))
    }

    /// The least gas limit with which `req` succeeds, by binary search
    /// between the gas the call used and the most it may have (its `gas`,
    /// or the block gas limit). The outer error is an invalid call.
    pub fn estimate_gas(
        &self,
        req: &CallRequest,
        at: Option<u64>,
    ) -> Result<Result<u64, EstimateError>, EngineError> {
        let params = self.call_params(at)?;
        let mut hi = self.call_gas(req, &params);
        let read = self.db.begin_read()?;
        let state = self.state_at(&read, at)?;
        let mut exec = Executor::for_calls(&state, params);
        let used = match run(&mut exec, self.call_env(req, hi))? {
            CallOutcome::Success { gas_used, .. } => gas_used,
            CallOutcome::Revert { output, .. } => return Ok(Err(EstimateError::Revert(output))),
            CallOutcome::Halt { reason, .. } => return Ok(Err(EstimateError::Halt(reason))),
        };
        // No limit below the gas used (refunds only lower it) succeeds.
        let mut lo = used.max(TX_BASE_GAS) - 1;
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            let ok = match run(&mut exec, self.call_env(req, mid)) {
                Ok(CallOutcome::Success { .. }) => true,
                Ok(_) | Err(EngineError::Invalid(_)) => false,
                Err(e) => return Err(e),
            };
            if ok {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(Ok(hi))
    }
}

fn run(exec: &mut Executor<'_>, env: TxEnv) -> Result<CallOutcome, EngineError> {
    Ok(outcome_of(exec.call(env)?.map_err(EngineError::Invalid)?))
}

fn outcome_of(result: ExecutionResult) -> CallOutcome {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { output, .. } => CallOutcome::Success {
            output: output.into_data(),
            gas_used,
        },
        ExecutionResult::Revert { output, .. } => CallOutcome::Revert { output, gas_used },
        ExecutionResult::Halt { reason, .. } => CallOutcome::Halt {
            reason: format!("{reason:?}"),
            gas_used,
        },
    }
}
