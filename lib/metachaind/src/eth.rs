//! The Ethereum JSON-RPC (`eth_*`, `net_*`, `web3_*`), hand-written against
//! the execution-API spec with alloy's RPC types, served on the same
//! JSON-RPC endpoint as the generated `meta_*` methods. Every method is open
//! (no JWT). See docs/eth-rpc.md for what is served and what is not yet.
//!
//! State can be read at the tip and up to `metachain::eth::STATE_HISTORY`
//! blocks below it. Filters and subscriptions live in `eth_pubsub.rs`.

use ain_rs::types::MetaGetReceiptResult;
use alloy_consensus::transaction::{Recovered, TransactionInfo};
use alloy_consensus::{Eip658Value, ReceiptEnvelope, ReceiptWithBloom};
use alloy_primitives::{keccak256, Address, Bloom, Bytes, TxKind, B256, U256, U64};
use alloy_rpc_types_eth::{
    Block, BlockId, BlockNumberOrTag, BlockTransactions, Header, Log as RpcLog, Transaction,
    TransactionReceipt, TransactionRequest,
};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use metachain::eth::{
    BlockTx, CallOutcome, CallRequest, EstimateError, IndexedLog, LogFilter, StoredBlock,
};
use metachain::store::b256 as b256_of;
use metachain::system::SystemTx;
use metachain::{Engine, EngineError};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The priority fee `eth_maxPriorityFeePerGas` suggests (1 gwei), also added
/// to the next base fee by `eth_gasPrice`. There is no fee oracle yet.
pub const SUGGESTED_TIP: u64 = 1_000_000_000;

/// Ethereum's codes: a revert is 3, with the revert data; every other
/// failure of a valid request is -32000 (geth's "server error").
pub const REVERTED: i32 = 3;
pub const SERVER_ERROR: i32 = -32000;
pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL_ERROR: i32 = -32603;

type RpcResult<T> = Result<T, ErrorObjectOwned>;

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

fn engine_error(e: EngineError) -> ErrorObjectOwned {
    match e {
        EngineError::Invalid(m)
        | EngineError::Precondition(m)
        | EngineError::NotFound(m)
        | EngineError::Duplicate(m)
        | EngineError::Full(m) => error(SERVER_ERROR, m),
        other => error(INTERNAL_ERROR, other.to_string()),
    }
}

/// geth's revert error: code 3, `execution reverted[: reason]`, the revert
/// data as `data`.
fn revert_error(output: &Bytes) -> ErrorObjectOwned {
    let message = match alloy_sol_types::decode_revert_reason(output) {
        Some(r) if !r.is_empty() => {
            let r = r.strip_prefix("revert: ").unwrap_or(&r).to_string();
            format!("execution reverted: {r}")
        }
        _ => "execution reverted".to_string(),
    };
    ErrorObjectOwned::owned(REVERTED, message, Some(output.clone()))
}

fn to_value<T: Serialize>(v: &T) -> RpcResult<Value> {
    serde_json::to_value(v).map_err(|e| error(INTERNAL_ERROR, format!("serializing: {e}")))
}

/// Most blocks one `eth_feeHistory` call covers, and most percentiles.
pub const MAX_FEE_HISTORY: u64 = 1024;
pub const MAX_PERCENTILES: usize = 100;

/// Registers the `eth`, `net` and `web3` methods for `engine`, with filters
/// idle for `filter_timeout` dropped.
pub fn module(
    engine: Arc<Engine>,
    filter_timeout: std::time::Duration,
) -> Result<RpcModule<Arc<Engine>>, jsonrpsee::core::RegisterMethodError> {
    let pubsub = crate::eth_pubsub::module(engine.clone(), filter_timeout)?;
    let mut m = RpcModule::new(engine);
    m.merge(pubsub)?;

    m.register_method("web3_clientVersion", |_, _, _| {
        format!("metachaind/v{}", metachain::VERSION)
    })?;
    m.register_method("web3_sha3", |p: Params, _, _| -> RpcResult<B256> {
        let data: Bytes = p.one()?;
        Ok(keccak256(&data))
    })?;
    m.register_method("net_version", |_, e: &Arc<Engine>, _| {
        e.chain().chain_id.to_string()
    })?;
    m.register_method("net_listening", |_, _, _| true)?;
    // The metachain has no peers of its own: its blocks and txs travel in
    // the native node's, which reports them (docs/eth-rpc.md).
    m.register_method("net_peerCount", |_, e: &Arc<Engine>, _| -> RpcResult<U64> {
        Ok(U64::from(e.network_status().peers))
    })?;
    m.register_method("eth_chainId", |_, e: &Arc<Engine>, _| -> RpcResult<U64> {
        Ok(U64::from(e.chain().chain_id))
    })?;
    m.register_method(
        "eth_blockNumber",
        |_, e: &Arc<Engine>, _| -> RpcResult<U64> { Ok(U64::from(e.tip().number)) },
    )?;
    m.register_method("eth_syncing", |_, e: &Arc<Engine>, _| -> RpcResult<Value> {
        let status = e.network_status();
        if !status.syncing {
            return Ok(Value::Bool(false));
        }
        let current = e.tip().number;
        Ok(json!({
            "startingBlock": U64::from(status.starting_block),
            "currentBlock": U64::from(current),
            "highestBlock": U64::from(status.highest_block.max(current)),
        }))
    })?;
    m.register_method("eth_accounts", |_, _, _| Vec::<Address>::new())?;
    m.register_method("eth_gasPrice", |_, e: &Arc<Engine>, _| -> RpcResult<U256> {
        Ok(U256::from(e.next_base_fee()) + U256::from(SUGGESTED_TIP))
    })?;
    m.register_method("eth_maxPriorityFeePerGas", |_, _, _| -> RpcResult<U256> {
        Ok(U256::from(SUGGESTED_TIP))
    })?;

    m.register_blocking_method("eth_getBalance", |p, e, _| -> RpcResult<U256> {
        let mut seq = p.sequence();
        let a: Address = seq.next()?;
        let at = state_block(&e, seq.optional_next()?)?;
        Ok(e.account_at(&a, at)
            .map_err(engine_error)?
            .map_or(U256::ZERO, |x| x.balance))
    })?;
    m.register_blocking_method("eth_getTransactionCount", |p, e, _| -> RpcResult<U64> {
        let mut seq = p.sequence();
        let a: Address = seq.next()?;
        let block: Option<BlockId> = seq.optional_next()?;
        let n = if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending))) {
            e.pending_nonce(&a).map_err(engine_error)?
        } else {
            let at = state_block(&e, block)?;
            e.account_at(&a, at)
                .map_err(engine_error)?
                .map_or(0, |x| x.nonce)
        };
        Ok(U64::from(n))
    })?;
    m.register_blocking_method("eth_getCode", |p, e, _| -> RpcResult<Bytes> {
        let mut seq = p.sequence();
        let a: Address = seq.next()?;
        let at = state_block(&e, seq.optional_next()?)?;
        e.code_at(&a, at).map_err(engine_error)
    })?;
    m.register_blocking_method("eth_getStorageAt", |p, e, _| -> RpcResult<B256> {
        let mut seq = p.sequence();
        let a: Address = seq.next()?;
        let slot: U256 = seq.next()?;
        let at = state_block(&e, seq.optional_next()?)?;
        Ok(B256::from(
            e.storage_at_block(&a, slot, at).map_err(engine_error)?,
        ))
    })?;
    m.register_blocking_method("eth_call", |p, e, _| -> RpcResult<Bytes> {
        let mut seq = p.sequence();
        let req: TransactionRequest = seq.next()?;
        let at = state_block(&e, seq.optional_next()?)?;
        if seq.optional_next::<Value>()?.is_some_and(|v| !v.is_null()) {
            return Err(error(INVALID_PARAMS, "state overrides are not supported"));
        }
        match e.call(&call_request(req)?, at).map_err(engine_error)? {
            CallOutcome::Success { output, .. } => Ok(output),
            CallOutcome::Revert { output, .. } => Err(revert_error(&output)),
            CallOutcome::Halt { reason, .. } => {
                Err(error(SERVER_ERROR, format!("execution halted: {reason}")))
            }
        }
    })?;
    m.register_blocking_method("eth_estimateGas", |p, e, _| -> RpcResult<U64> {
        let mut seq = p.sequence();
        let req: TransactionRequest = seq.next()?;
        let at = state_block(&e, seq.optional_next()?)?;
        let req = call_request(req)?;
        match e.estimate_gas(&req, at).map_err(engine_error)? {
            Ok(gas) => Ok(U64::from(gas)),
            Err(EstimateError::Revert(output)) => Err(revert_error(&output)),
            Err(EstimateError::Halt(reason)) => Err(error(
                SERVER_ERROR,
                format!(
                    "gas required exceeds allowance ({}): {reason}",
                    req.gas.unwrap_or(e.chain().gas_limit)
                ),
            )),
        }
    })?;
    m.register_blocking_method("eth_createAccessList", |p, e, _| -> RpcResult<Value> {
        let mut seq = p.sequence();
        let req: TransactionRequest = seq.next()?;
        let at = state_block(&e, seq.optional_next()?)?;
        let (list, outcome) = e
            .create_access_list(&call_request(req)?, at)
            .map_err(engine_error)?;
        let mut out = json!({
            "accessList": list,
            "gasUsed": U64::from(outcome.gas_used()),
        });
        match outcome {
            CallOutcome::Success { .. } => {}
            CallOutcome::Revert { output, .. } => {
                out["error"] = json!(revert_error(&output).message());
            }
            CallOutcome::Halt { reason, .. } => out["error"] = json!(reason),
        }
        Ok(out)
    })?;
    m.register_blocking_method("eth_sendRawTransaction", |p, e, _| -> RpcResult<B256> {
        let raw: Bytes = p.one()?;
        e.submit(&raw).map_err(engine_error)
    })?;
    m.register_blocking_method("eth_getTransactionReceipt", |p, e, _| -> RpcResult<Value> {
        // One read: the stored receipt has its block and log indexes.
        let h: B256 = p.one()?;
        match e.receipt_of(h).map_err(engine_error)? {
            Some(r) => receipt_json(&r),
            None => Ok(Value::Null),
        }
    })?;
    m.register_blocking_method("eth_getTransactionByHash", |p, e, _| -> RpcResult<Value> {
        let h: B256 = p.one()?;
        if let Some(mined) = e.mined_tx(h).map_err(engine_error)? {
            return tx_json(&mined.tx, mined_info(&mined.block, h, mined.index));
        }
        match e.pooled_tx(&h) {
            Some(tx) => tx_json(
                &BlockTx::Evm(Box::new(tx)),
                TransactionInfo {
                    hash: Some(h),
                    ..Default::default()
                },
            ),
            None => Ok(Value::Null),
        }
    })?;
    m.register_blocking_method("eth_getBlockByNumber", |p, e, _| -> RpcResult<Value> {
        let mut seq = p.sequence();
        let tag: BlockNumberOrTag = seq.next()?;
        let full: bool = seq.optional_next()?.unwrap_or(false);
        match e.block_at(number_of(&e, tag)).map_err(engine_error)? {
            Some(b) => block_json(&e, &b, full),
            None => Ok(Value::Null),
        }
    })?;
    m.register_blocking_method("eth_getBlockByHash", |p, e, _| -> RpcResult<Value> {
        let mut seq = p.sequence();
        let h: B256 = seq.next()?;
        let full: bool = seq.optional_next()?.unwrap_or(false);
        match e.block_by_hash(h).map_err(engine_error)? {
            Some(b) => block_json(&e, &b, full),
            None => Ok(Value::Null),
        }
    })?;
    m.register_blocking_method(
        "eth_getBlockTransactionCountByNumber",
        |p, e, _| -> RpcResult<Value> {
            let tag: BlockNumberOrTag = p.one()?;
            let b = e.block_at(number_of(&e, tag)).map_err(engine_error)?;
            Ok(b.map_or(Value::Null, |b| json!(U64::from(tx_count(&b)))))
        },
    )?;
    m.register_blocking_method(
        "eth_getBlockTransactionCountByHash",
        |p, e, _| -> RpcResult<Value> {
            let h: B256 = p.one()?;
            let b = e.block_by_hash(h).map_err(engine_error)?;
            Ok(b.map_or(Value::Null, |b| json!(U64::from(tx_count(&b)))))
        },
    )?;
    m.register_blocking_method(
        "eth_getTransactionByBlockNumberAndIndex",
        |p, e, _| -> RpcResult<Value> {
            let mut seq = p.sequence();
            let tag: BlockNumberOrTag = seq.next()?;
            let index: U64 = seq.next()?;
            let b = e.block_at(number_of(&e, tag)).map_err(engine_error)?;
            tx_at_index(&e, b, index.to())
        },
    )?;
    m.register_blocking_method(
        "eth_getTransactionByBlockHashAndIndex",
        |p, e, _| -> RpcResult<Value> {
            let mut seq = p.sequence();
            let h: B256 = seq.next()?;
            let index: U64 = seq.next()?;
            let b = e.block_by_hash(h).map_err(engine_error)?;
            tx_at_index(&e, b, index.to())
        },
    )?;
    m.register_blocking_method("eth_getBlockReceipts", |p, e, _| -> RpcResult<Value> {
        let id: BlockId = p.one()?;
        let b = match id {
            BlockId::Number(tag) => e.block_at(number_of(&e, tag)),
            BlockId::Hash(h) => e.block_by_hash(h.block_hash),
        }
        .map_err(engine_error)?;
        let Some(b) = b else {
            return Ok(Value::Null);
        };
        let mut out = Vec::new();
        for h in b.tx_hashes().map_err(engine_error)? {
            let r = e
                .receipt_of(h)
                .map_err(engine_error)?
                .ok_or_else(|| error(INTERNAL_ERROR, format!("receipt of {h} is missing")))?;
            out.push(receipt_json(&r)?);
        }
        Ok(Value::Array(out))
    })?;
    m.register_blocking_method("eth_feeHistory", |p, e, _| -> RpcResult<Value> {
        let mut seq = p.sequence();
        let count: U64 = seq.next()?;
        let newest: BlockNumberOrTag = seq.next()?;
        let percentiles: Option<Vec<f64>> = seq.optional_next()?;
        fee_history(&e, count.to(), newest, percentiles.unwrap_or_default())
    })?;
    m.register_blocking_method("eth_getLogs", |p, e, _| -> RpcResult<Vec<RpcLog>> {
        let q: alloy_rpc_types_eth::Filter = p.one()?;
        let logs = query_logs(&e, &q)?;
        Ok(logs.iter().map(|l| log_json(l, false)).collect())
    })?;
    Ok(m)
}

/// The block number a tag names (`pending` is `latest`: blocks are built by
/// the native miner; see docs/eth-rpc.md for `safe` and `finalized`).
pub(crate) fn number_of(e: &Engine, tag: BlockNumberOrTag) -> u64 {
    match tag {
        BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => e.tip().number,
        BlockNumberOrTag::Earliest => 0,
        BlockNumberOrTag::Safe => e.safe_number(),
        BlockNumberOrTag::Finalized => e.finalized_number(),
        BlockNumberOrTag::Number(n) => n,
    }
}

fn tx_count(b: &StoredBlock) -> u64 {
    (b.block.system_txs.len() + b.block.transactions.len()) as u64
}

fn mined_info(b: &StoredBlock, hash: B256, index: u64) -> TransactionInfo {
    let h = b.header();
    TransactionInfo {
        hash: Some(hash),
        index: Some(index),
        block_hash: Some(b.hash),
        block_number: Some(h.number),
        base_fee: Some(h.base_fee),
        block_timestamp: None,
    }
}

fn tx_at_index(e: &Engine, b: Option<StoredBlock>, index: u64) -> RpcResult<Value> {
    let Some(b) = b else {
        return Ok(Value::Null);
    };
    let txs = b.txs(e.chain()).map_err(engine_error)?;
    match usize::try_from(index).ok().and_then(|i| txs.get(i)) {
        Some(tx) => tx_json(tx, mined_info(&b, tx.hash(), index)),
        None => Ok(Value::Null),
    }
}

/// The logs an `eth_getLogs` filter (or an installed filter's) asks for.
pub(crate) fn query_logs(
    e: &Engine,
    q: &alloy_rpc_types_eth::Filter,
) -> RpcResult<Vec<IndexedLog>> {
    let filter = log_filter(q)?;
    let (from, to) = match q.block_option {
        alloy_rpc_types_eth::FilterBlockOption::AtBlockHash(h) => {
            let b = e
                .block_by_hash(h)
                .map_err(engine_error)?
                .ok_or_else(|| error(SERVER_ERROR, format!("unknown block {h}")))?;
            (b.header().number, b.header().number)
        }
        alloy_rpc_types_eth::FilterBlockOption::Range {
            from_block,
            to_block,
        } => {
            let tip = e.tip().number;
            let from = from_block.map_or(tip, |t| number_of(e, t));
            let to = to_block.map_or(tip, |t| number_of(e, t)).min(tip);
            if from > tip {
                return Ok(Vec::new());
            }
            (from, to)
        }
    };
    e.logs(from, to, &filter).map_err(|err| match err {
        EngineError::Invalid(m) => error(INVALID_PARAMS, m),
        other => engine_error(other),
    })
}

/// At most four topic positions; each position any of its list.
pub(crate) fn log_filter(q: &alloy_rpc_types_eth::Filter) -> RpcResult<LogFilter> {
    let mut topics: Vec<Vec<B256>> = q
        .topics
        .iter()
        .map(|t| t.iter().copied().collect())
        .collect();
    while topics.last().is_some_and(|t| t.is_empty()) {
        topics.pop();
    }
    Ok(LogFilter {
        addresses: q.address.iter().copied().collect(),
        topics,
    })
}

pub(crate) fn log_json(l: &IndexedLog, removed: bool) -> RpcLog {
    RpcLog {
        inner: alloy_primitives::Log::new_unchecked(l.address, l.topics.clone(), l.data.clone()),
        block_hash: Some(l.block_hash),
        block_number: Some(l.block_number),
        block_timestamp: None,
        transaction_hash: Some(l.tx_hash),
        transaction_index: Some(l.tx_index),
        log_index: Some(l.log_index),
        removed,
    }
}

/// geth's `eth_feeHistory`: for `count` blocks ending at `newest`, each
/// block's base fee (and the next block's), gas used ratio, and at each
/// percentile the priority fee of the tx at which that share of the block's
/// gas was used (txs sorted by priority fee; 0 for an empty block).
fn fee_history(
    e: &Engine,
    count: u64,
    newest: BlockNumberOrTag,
    percentiles: Vec<f64>,
) -> RpcResult<Value> {
    if percentiles.len() > MAX_PERCENTILES {
        return Err(error(
            INVALID_PARAMS,
            format!("at most {MAX_PERCENTILES} reward percentiles"),
        ));
    }
    let mut last = -1.0f64;
    for p in &percentiles {
        if !(0.0..=100.0).contains(p) || *p < last {
            return Err(error(
                INVALID_PARAMS,
                format!("invalid reward percentile {p}: each in [0, 100], ascending"),
            ));
        }
        last = *p;
    }
    let tip = e.tip().number;
    let newest = number_of(e, newest);
    if newest > tip {
        return Err(error(
            SERVER_ERROR,
            format!("block {newest} is above the tip {tip}"),
        ));
    }
    let count = count.min(MAX_FEE_HISTORY).min(newest + 1);
    if count == 0 {
        return Ok(json!({"oldestBlock": U64::ZERO, "baseFeePerGas": [], "gasUsedRatio": []}));
    }
    let oldest = newest + 1 - count;
    let mut base_fees = Vec::new();
    let mut ratios = Vec::new();
    let mut rewards = Vec::new();
    let mut next_base_fee = 0;
    for n in oldest..=newest {
        let f = e
            .block_fees(n)
            .map_err(engine_error)?
            .ok_or_else(|| error(SERVER_ERROR, format!("block {n} left the chain")))?;
        base_fees.push(U256::from(f.base_fee));
        ratios.push(if f.gas_limit == 0 {
            0.0
        } else {
            f.gas_used as f64 / f.gas_limit as f64
        });
        next_base_fee =
            metachain::engine::next_base_fee(e.chain(), f.gas_used, f.gas_limit, f.base_fee);
        if !percentiles.is_empty() {
            let mut txs = f.txs.clone();
            txs.sort_by_key(|t| t.1);
            let total: u64 = txs.iter().map(|t| t.0).sum();
            let mut row = Vec::with_capacity(percentiles.len());
            let (mut i, mut sum) = (0usize, 0u64);
            for p in &percentiles {
                if txs.is_empty() {
                    row.push(U256::ZERO);
                    continue;
                }
                let threshold = (total as f64 * p / 100.0) as u64;
                while i < txs.len() - 1 && sum + txs[i].0 < threshold {
                    sum += txs[i].0;
                    i += 1;
                }
                row.push(U256::from(txs[i].1));
            }
            rewards.push(row);
        }
    }
    base_fees.push(U256::from(next_base_fee));
    let mut out = json!({
        "oldestBlock": U64::from(oldest),
        "baseFeePerGas": base_fees,
        "gasUsedRatio": ratios,
    });
    if !percentiles.is_empty() {
        out["reward"] = json!(rewards);
    }
    Ok(out)
}

/// The block a state read names: `None` for the tip (no block, `latest`,
/// `pending`), else its number. A hash must name a block of the active
/// chain; a number above the tip is an error, as in geth.
fn state_block(e: &Engine, block: Option<BlockId>) -> RpcResult<Option<u64>> {
    let tip = e.tip().number;
    let number = match block {
        None
        | Some(BlockId::Number(BlockNumberOrTag::Latest))
        | Some(BlockId::Number(BlockNumberOrTag::Pending)) => return Ok(None),
        Some(BlockId::Number(tag)) => number_of(e, tag),
        Some(BlockId::Hash(h)) => {
            e.block_by_hash(h.block_hash)
                .map_err(engine_error)?
                .ok_or_else(|| {
                    error(
                        SERVER_ERROR,
                        format!("header for hash {} not found", h.block_hash),
                    )
                })?
                .header()
                .number
        }
    };
    if number > tip {
        return Err(error(
            SERVER_ERROR,
            format!("header not found: block {number} is above the tip {tip}"),
        ));
    }
    Ok(Some(number))
}

fn call_request(r: TransactionRequest) -> RpcResult<CallRequest> {
    let input = r
        .input
        .try_into_unique_input()
        .map_err(|e| error(INVALID_PARAMS, e.to_string()))?
        .unwrap_or_default();
    if r.blob_versioned_hashes.is_some() || r.authorization_list.is_some() {
        return Err(error(
            INVALID_PARAMS,
            "blob and set-code (EIP-7702) calls are not supported",
        ));
    }
    Ok(CallRequest {
        from: r.from,
        to: match r.to {
            Some(TxKind::Call(a)) => Some(a),
            _ => None,
        },
        gas: r.gas,
        gas_price: r.gas_price,
        max_fee_per_gas: r.max_fee_per_gas,
        max_priority_fee_per_gas: r.max_priority_fee_per_gas,
        value: r.value,
        input,
        nonce: r.nonce,
        access_list: r.access_list,
    })
}

fn address20(b: &[u8]) -> Address {
    <[u8; 20]>::try_from(b)
        .map(Address::from)
        .unwrap_or_default()
}

fn b256(b: &[u8]) -> B256 {
    b256_of(b)
}

/// A system tx as a tx object: type `0x7e` (deposit) or `0x7f`
/// (withdrawal), no signature and no gas, `sourceHash` the native txid (as
/// the OP Stack shows its deposits).
fn system_tx_json(tx: &SystemTx, info: &TransactionInfo) -> Value {
    let (from, to, value, nonce) = match tx {
        SystemTx::Deposit { to, wei, .. } => (Address::ZERO, Some(*to), *wei, 0),
        SystemTx::Withdraw {
            from, wei, nonce, ..
        } => (*from, None, *wei, *nonce),
    };
    json!({
        "type": format!("{:#x}", tx.tx_type()),
        "hash": tx.hash(),
        "blockHash": info.block_hash,
        "blockNumber": info.block_number.map(U64::from),
        "transactionIndex": info.index.map(U64::from),
        "from": from,
        "to": to,
        "value": value,
        "nonce": U64::from(nonce),
        "gas": "0x0",
        "gasPrice": "0x0",
        "input": "0x",
        "sourceHash": tx.native_txid(),
        "v": "0x0",
        "r": "0x0",
        "s": "0x0",
    })
}

pub(crate) fn tx_json(tx: &BlockTx, info: TransactionInfo) -> RpcResult<Value> {
    match tx {
        BlockTx::System(s) => Ok(system_tx_json(s, &info)),
        BlockTx::Evm(t) => to_value(&Transaction::from_transaction(
            Recovered::new_unchecked(t.tx.clone(), t.sender),
            info,
        )),
    }
}

/// A block's header as the spec has it (also `newHeads`).
pub(crate) fn header_of(b: &StoredBlock) -> Header {
    let h = b.header();
    let header = alloy_consensus::Header {
        parent_hash: b256(&h.parent_hash),
        ommers_hash: alloy_consensus::constants::EMPTY_OMMER_ROOT_HASH,
        beneficiary: address20(&h.beneficiary),
        state_root: b256(&h.state_root),
        transactions_root: b256(&h.tx_root),
        receipts_root: b256(&h.receipts_root),
        logs_bloom: Bloom::try_from(h.logs_bloom.as_slice()).unwrap_or_default(),
        difficulty: U256::ZERO,
        number: h.number,
        gas_limit: h.gas_limit,
        gas_used: h.gas_used,
        timestamp: u64::try_from(h.native_time).unwrap_or(0),
        extra_data: Bytes::new(),
        // PREVRANDAO is the parent hash.
        mix_hash: b256(&h.parent_hash),
        base_fee_per_gas: Some(h.base_fee),
        ..Default::default()
    };
    Header {
        hash: b.hash,
        inner: header,
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(b.size)),
    }
}

fn block_json(e: &Engine, b: &StoredBlock, full: bool) -> RpcResult<Value> {
    let transactions = if full {
        let txs = b.txs(e.chain()).map_err(engine_error)?;
        let mut out = Vec::with_capacity(txs.len());
        for (i, tx) in txs.iter().enumerate() {
            out.push(tx_json(tx, mined_info(b, tx.hash(), i as u64))?);
        }
        BlockTransactions::Full(out)
    } else {
        BlockTransactions::Hashes(b.tx_hashes().map_err(engine_error)?)
    };
    let block: Block<Value, Header> = Block {
        header: header_of(b),
        uncles: vec![],
        transactions,
        withdrawals: None,
    };
    to_value(&block)
}

/// A stored receipt as the spec has it.
fn receipt_json(r: &MetaGetReceiptResult) -> RpcResult<Value> {
    let stored_hash = |s: &str| -> RpcResult<B256> {
        s.parse()
            .map_err(|_| error(INTERNAL_ERROR, format!("stored hash {s:?}")))
    };
    let tx_hash = stored_hash(&r.tx_hash)?;
    let block_hash = stored_hash(&r.block_hash)?;
    let (number, index) = (r.block_number, r.index);
    let parse_addr = |s: &str| -> RpcResult<Address> {
        s.parse()
            .map_err(|_| error(INTERNAL_ERROR, format!("stored address {s:?}")))
    };
    let mut logs = Vec::with_capacity(r.logs.len());
    for l in &r.logs {
        let topics = l
            .topics
            .iter()
            .map(|t| t.parse::<B256>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| error(INTERNAL_ERROR, "stored log topic"))?;
        let data: Bytes = l
            .data
            .parse()
            .map_err(|_| error(INTERNAL_ERROR, "stored log data"))?;
        logs.push(RpcLog {
            inner: alloy_primitives::Log::new_unchecked(parse_addr(&l.address)?, topics, data),
            block_hash: Some(block_hash),
            block_number: Some(number),
            block_timestamp: None,
            transaction_hash: Some(tx_hash),
            transaction_index: Some(index),
            log_index: Some(l.log_index),
            removed: false,
        });
    }
    let bloom = alloy_primitives::logs_bloom(logs.iter().map(|l| &l.inner));
    let receipt = alloy_consensus::Receipt {
        status: Eip658Value::Eip658(r.success),
        cumulative_gas_used: r.cumulative_gas_used,
        logs,
    };
    let with_bloom = ReceiptWithBloom {
        receipt,
        logs_bloom: bloom,
    };
    let inner = match r.tx_type {
        1 => ReceiptEnvelope::Eip2930(with_bloom),
        2 => ReceiptEnvelope::Eip1559(with_bloom),
        _ => ReceiptEnvelope::Legacy(with_bloom),
    };
    let opt_addr = |s: &str| -> RpcResult<Option<Address>> {
        if s.is_empty() {
            Ok(None)
        } else {
            parse_addr(s).map(Some)
        }
    };
    let receipt = TransactionReceipt {
        inner,
        transaction_hash: tx_hash,
        transaction_index: Some(index),
        block_hash: Some(block_hash),
        block_number: Some(number),
        gas_used: r.gas_used,
        effective_gas_price: r.effective_gas_price as u128,
        blob_gas_used: None,
        blob_gas_price: None,
        from: parse_addr(&r.from)?,
        to: opt_addr(&r.to)?,
        contract_address: opt_addr(&r.contract_address)?,
    };
    let mut v = to_value(&receipt)?;
    // System txs have types alloy's envelope does not know.
    if r.tx_type > 2 {
        v["type"] = json!(format!("{:#x}", r.tx_type));
    }
    Ok(v)
}
