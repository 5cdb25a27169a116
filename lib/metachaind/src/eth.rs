//! The Ethereum JSON-RPC (`eth_*`, `net_*`, `web3_*`), hand-written against
//! the execution-API spec with alloy's RPC types, served on the same
//! JSON-RPC endpoint as the generated `meta_*` methods. Every method is open
//! (no JWT). See docs/eth-rpc.md for what is served and what is not yet.
//!
//! Only the tip's state exists: a state read or call at another block is
//! answered with `-32000 historical state is not available`.

use alloy_consensus::transaction::{Recovered, TransactionInfo};
use alloy_consensus::{Eip658Value, ReceiptEnvelope, ReceiptWithBloom};
use alloy_primitives::{keccak256, Address, Bloom, Bytes, TxKind, B256, U256, U64};
use alloy_rpc_types_eth::{
    Block, BlockId, BlockNumberOrTag, BlockTransactions, Header, Log as RpcLog, Transaction,
    TransactionReceipt, TransactionRequest,
};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use metachain::eth::{BlockTx, CallOutcome, CallRequest, EstimateError, MinedTx, StoredBlock};
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

/// Registers the `eth`, `net` and `web3` methods for `engine`.
pub fn module(
    engine: Arc<Engine>,
) -> Result<RpcModule<Arc<Engine>>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(engine);

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
    m.register_method("eth_chainId", |_, e: &Arc<Engine>, _| -> RpcResult<U64> {
        Ok(U64::from(e.chain().chain_id))
    })?;
    m.register_method(
        "eth_blockNumber",
        |_, e: &Arc<Engine>, _| -> RpcResult<U64> { Ok(U64::from(e.tip().number)) },
    )?;
    m.register_method("eth_syncing", |_, _, _| false)?;
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
        at_tip(&e, seq.optional_next()?)?;
        Ok(e.account(&a)
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
            at_tip(&e, block)?;
            e.account(&a).map_err(engine_error)?.map_or(0, |x| x.nonce)
        };
        Ok(U64::from(n))
    })?;
    m.register_blocking_method("eth_getCode", |p, e, _| -> RpcResult<Bytes> {
        let mut seq = p.sequence();
        let a: Address = seq.next()?;
        at_tip(&e, seq.optional_next()?)?;
        e.code_of(&a).map_err(engine_error)
    })?;
    m.register_blocking_method("eth_getStorageAt", |p, e, _| -> RpcResult<B256> {
        let mut seq = p.sequence();
        let a: Address = seq.next()?;
        let slot: U256 = seq.next()?;
        at_tip(&e, seq.optional_next()?)?;
        Ok(B256::from(e.storage_of(&a, slot).map_err(engine_error)?))
    })?;
    m.register_blocking_method("eth_call", |p, e, _| -> RpcResult<Bytes> {
        let mut seq = p.sequence();
        let req: TransactionRequest = seq.next()?;
        at_tip(&e, seq.optional_next()?)?;
        if seq.optional_next::<Value>()?.is_some_and(|v| !v.is_null()) {
            return Err(error(INVALID_PARAMS, "state overrides are not supported"));
        }
        match e.call(&call_request(req)?).map_err(engine_error)? {
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
        at_tip(&e, seq.optional_next()?)?;
        let req = call_request(req)?;
        match e.estimate_gas(&req).map_err(engine_error)? {
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
    m.register_blocking_method("eth_sendRawTransaction", |p, e, _| -> RpcResult<B256> {
        let raw: Bytes = p.one()?;
        e.submit(&raw).map_err(engine_error)
    })?;
    m.register_blocking_method("eth_getTransactionReceipt", |p, e, _| -> RpcResult<Value> {
        let h: B256 = p.one()?;
        match e.mined_tx(h).map_err(engine_error)? {
            Some(mined) => receipt_json(&e, &mined),
            None => Ok(Value::Null),
        }
    })?;
    m.register_blocking_method("eth_getTransactionByHash", |p, e, _| -> RpcResult<Value> {
        let h: B256 = p.one()?;
        if let Some(mined) = e.mined_tx(h).map_err(engine_error)? {
            let header = mined.block.header();
            let info = TransactionInfo {
                hash: Some(h),
                index: Some(mined.index),
                block_hash: Some(mined.block.hash),
                block_number: Some(header.number),
                base_fee: Some(header.base_fee),
                block_timestamp: None,
            };
            return tx_json(&mined.tx, info);
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
        let number = match tag {
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => e.tip().number,
            BlockNumberOrTag::Earliest => 0,
            BlockNumberOrTag::Number(n) => n,
            BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized => {
                return Err(error(
                    SERVER_ERROR,
                    format!("the {tag} tag is not supported yet"),
                ))
            }
        };
        match e.block_at(number).map_err(engine_error)? {
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
    Ok(m)
}

/// Accepts a block that names the tip (or none); refuses any other, since
/// only the tip's state is kept.
fn at_tip(e: &Engine, block: Option<BlockId>) -> RpcResult<()> {
    let tip = e.tip();
    let ok = match block {
        None => true,
        Some(BlockId::Number(n)) => match n {
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => true,
            BlockNumberOrTag::Number(n) => n == tip.number,
            BlockNumberOrTag::Earliest => tip.number == 0,
            BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized => false,
        },
        Some(BlockId::Hash(h)) => h.block_hash == tip.hash(),
    };
    if ok {
        Ok(())
    } else {
        Err(error(
            SERVER_ERROR,
            format!(
                "historical state is not available: only the tip ({}) can be read, asked for {}",
                tip.number,
                block.map_or_else(String::new, |b| b.to_string())
            ),
        ))
    }
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
    <[u8; 32]>::try_from(b).map(B256::from).unwrap_or_default()
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

fn tx_json(tx: &BlockTx, info: TransactionInfo) -> RpcResult<Value> {
    match tx {
        BlockTx::System(s) => Ok(system_tx_json(s, &info)),
        BlockTx::Evm(t) => to_value(&Transaction::from_transaction(
            Recovered::new_unchecked(t.tx.clone(), t.sender),
            info,
        )),
    }
}

fn block_json(e: &Engine, b: &StoredBlock, full: bool) -> RpcResult<Value> {
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
    let transactions = if full {
        let txs = b.txs(e.chain()).map_err(engine_error)?;
        let mut out = Vec::with_capacity(txs.len());
        for (i, tx) in txs.iter().enumerate() {
            out.push(tx_json(
                tx,
                TransactionInfo {
                    hash: Some(tx.hash()),
                    index: Some(i as u64),
                    block_hash: Some(b.hash),
                    block_number: Some(h.number),
                    base_fee: Some(h.base_fee),
                    block_timestamp: None,
                },
            )?);
        }
        BlockTransactions::Full(out)
    } else {
        BlockTransactions::Hashes(b.tx_hashes().map_err(engine_error)?)
    };
    let block: Block<Value, Header> = Block {
        header: Header {
            hash: b.hash,
            inner: header,
            total_difficulty: Some(U256::ZERO),
            size: Some(U256::from(b.size)),
        },
        uncles: vec![],
        transactions,
        withdrawals: None,
    };
    to_value(&block)
}

/// A receipt as the spec has it. Log indexes count the logs of the earlier
/// txs of the block, read from their receipts.
fn receipt_json(e: &Engine, mined: &MinedTx) -> RpcResult<Value> {
    let r = &mined.receipt;
    let header = mined.block.header();
    let hashes = mined.block.tx_hashes().map_err(engine_error)?;
    let mut log_index = 0u64;
    for h in hashes.iter().take(mined.index as usize) {
        log_index += e
            .receipt_of(*h)
            .map_err(engine_error)?
            .map_or(0, |x| x.logs.len() as u64);
    }
    let tx_hash = mined.tx.hash();
    let parse_addr = |s: &str| -> RpcResult<Address> {
        s.parse()
            .map_err(|_| error(INTERNAL_ERROR, format!("stored address {s:?}")))
    };
    let mut logs = Vec::with_capacity(r.logs.len());
    for (i, l) in r.logs.iter().enumerate() {
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
            block_hash: Some(mined.block.hash),
            block_number: Some(header.number),
            block_timestamp: None,
            transaction_hash: Some(tx_hash),
            transaction_index: Some(mined.index),
            log_index: Some(log_index + i as u64),
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
        transaction_index: Some(mined.index),
        block_hash: Some(mined.block.hash),
        block_number: Some(header.number),
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
