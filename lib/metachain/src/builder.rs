//! The block builder: a candidate block on the tip from the native txs and
//! the txpool. Minting never commits.

use crate::engine::{Engine, MAX_SYSTEM_TXS};
use crate::error::EngineError;
use crate::executor::{BlockParams, Executed, Executor};
use crate::keys;
use crate::lthash::LtHash;
use crate::store;
use crate::system::SystemTx;
use ain_rs::types::*;
use alloy_primitives::{keccak256, Address};
use prost::Message;
use redb::ReadableDatabase;
use std::collections::{HashMap, HashSet};

impl Engine {
    /// Builds a candidate block on the tip: the native txs, then pool txs by
    /// effective tip within the gas limit. Never commits.
    pub fn mint(&self, input: MetaMintBlockInput) -> Result<MetaMintBlockResult, EngineError> {
        let beneficiary = if input.beneficiary.is_empty() {
            Address::ZERO
        } else {
            keys::parse_address(&input.beneficiary)
                .map_err(|e| EngineError::Invalid(format!("beneficiary: {e}")))?
        };
        let ctx = input.context.unwrap_or_default();
        let _guard = self.lock_writer();
        let tip = self.tip();
        let params = self.block_params(&tip, &ctx, beneficiary)?;
        let read = self.db.begin_read()?;
        let state = store::read_state(&read)?;
        let mut exec = Executor::new(&state, params.clone());
        let mut system_txs = Vec::new();
        let mut refused = Vec::new();
        // Accounts whose nonce a withdrawal of this block consumed, and the
        // nonce their pool txs continue from.
        let mut nonces: HashMap<Address, u64> = HashMap::new();
        for native in &input.txs {
            let parsed = SystemTx::parse(native);
            let outcome = if system_txs.len() >= MAX_SYSTEM_TXS {
                Err("block is full".to_string())
            } else {
                match &parsed {
                    Ok(tx) => exec.apply_system(tx)?,
                    Err(e) => Err(e.clone()),
                }
            };
            match outcome {
                Ok(()) => {
                    if let Ok(SystemTx::Withdraw { from, .. }) = &parsed {
                        nonces.insert(*from, exec.nonce(from)?);
                    }
                    system_txs.push(native.clone())
                }
                Err(reason) => refused.push(RefusedTx {
                    native_txid: native.native_txid.clone(),
                    reason,
                }),
            }
        }
        let best = self
            .lock_pool()
            .best(params.base_fee, |a| match nonces.get(a) {
                Some(n) => *n,
                None => state.account(a).ok().flatten().map_or(0, |a| a.nonce),
            });
        let mut transactions = Vec::new();
        let mut skipped: HashSet<Address> = HashSet::new();
        for tx in best {
            if skipped.contains(&tx.sender) || tx.gas_limit > exec.gas_left() {
                // A sender's later nonces cannot follow a skipped one.
                skipped.insert(tx.sender);
                continue;
            }
            match exec.apply_evm(&tx)? {
                Ok(()) => transactions.push(EvmTx {
                    raw: tx.raw.to_vec(),
                }),
                Err(_) => {
                    skipped.insert(tx.sender);
                }
            }
        }
        let executed = exec.finish();
        let root = self.state_root(&tip, &executed)?;
        let block = MetaBlock {
            header: Some(header(&params, &ctx, &executed, &root)),
            system_txs,
            transactions,
        };
        let payload = block.encode_to_vec();
        Ok(MetaMintBlockResult {
            block_hash: hex::encode(keccak256(&payload)),
            payload,
            refused,
        })
    }
}

/// The header of a block executed with `params`.
pub(crate) fn header(
    params: &BlockParams,
    ctx: &NativeContext,
    executed: &Executed,
    root: &LtHash,
) -> MetaBlockHeader {
    MetaBlockHeader {
        parent_hash: params.parent_hash.to_vec(),
        number: params.number,
        native_height: ctx.height,
        native_time: ctx.time,
        tx_root: executed.tx_root().to_vec(),
        state_root: root.checksum().to_vec(),
        receipts_root: executed.receipts_root().to_vec(),
        beneficiary: params.beneficiary.to_vec(),
        gas_limit: params.gas_limit,
        gas_used: executed.gas_used,
        base_fee: params.base_fee,
        logs_bloom: executed.logs_bloom().to_vec(),
    }
}
