//! Executes one block's txs on the tip: system txs by hand, EVM txs with revm,
//! on an [`Overlay`]. Mint and connect both run it; neither commits here.

use crate::error::EngineError;
use crate::keys;
use crate::overlay::{Overlay, StateDiff};
use crate::store::{Acct, ReadState};
use crate::system::SystemTx;
use crate::txpool::PoolTx;
use alloy_consensus::{Transaction as _, Typed2718 as _};
use alloy_primitives::{Address, Bloom, Log, B256, U256};
use alloy_rlp::Encodable;
use revm::context::{BlockEnv, CfgEnv, ContextTr, TxEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::context_interface::result::{EVMError, ExecutionResult};
use revm::handler::{MainnetContext, MainnetEvm};
use revm::primitives::hardfork::SpecId;
use revm::primitives::KECCAK_EMPTY;
use revm::{Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

/// The EVM rules the metachain runs.
pub const SPEC: SpecId = SpecId::CANCUN;

/// Accounts a call read or wrote, each with the storage slots it touched.
pub type Touched = Vec<(Address, Vec<U256>)>;

/// The block-level inputs of execution.
#[derive(Clone, Debug)]
pub struct BlockParams {
    pub number: u64,
    pub timestamp: u64,
    pub beneficiary: Address,
    pub gas_limit: u64,
    pub base_fee: u64,
    pub parent_hash: B256,
    pub chain_id: u64,
}

/// The outcome of one tx in a block.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub tx_hash: B256,
    pub tx_type: u8,
    pub from: Address,
    pub to: Option<Address>,
    pub contract_address: Option<Address>,
    pub success: bool,
    pub gas_used: u64,
    pub cumulative_gas_used: u64,
    pub effective_gas_price: u128,
    pub logs: Vec<Log>,
    pub native_txid: Option<B256>,
    pub error: String,
    /// Of `logs`, computed once.
    pub bloom: Bloom,
}

impl Receipt {
    fn consensus(&self) -> alloy_consensus::Receipt<Log> {
        alloy_consensus::Receipt {
            status: self.success.into(),
            cumulative_gas_used: self.cumulative_gas_used,
            logs: self.logs.clone(),
        }
    }

    /// The EIP-2718 encoding: `type || rlp(receipt)`, bare for legacy.
    pub fn encode_2718(&self) -> Vec<u8> {
        let with_bloom = alloy_consensus::ReceiptWithBloom {
            receipt: self.consensus(),
            logs_bloom: self.bloom,
        };
        let mut out = Vec::with_capacity(with_bloom.length() + 1);
        if self.tx_type != 0 {
            out.push(self.tx_type);
        }
        with_bloom.encode(&mut out);
        out
    }
}

/// What executing a block produced.
pub struct Executed {
    pub receipts: Vec<Receipt>,
    /// The EIP-2718 encoding of every tx, in block order.
    pub tx_encodings: Vec<Vec<u8>>,
    pub gas_used: u64,
    pub burned: U256,
    pub diff: StateDiff,
}

impl Executed {
    pub fn tx_root(&self) -> B256 {
        alloy_trie::root::ordered_trie_root_with_encoder(&self.tx_encodings, |t, out| {
            out.put_slice(t)
        })
    }

    pub fn receipts_root(&self) -> B256 {
        let encoded: Vec<Vec<u8>> = self.receipts.iter().map(Receipt::encode_2718).collect();
        alloy_trie::root::ordered_trie_root_with_encoder(&encoded, |r, out| out.put_slice(r))
    }

    pub fn logs_bloom(&self) -> Bloom {
        let mut bloom = Bloom::ZERO;
        for r in &self.receipts {
            bloom.accrue_bloom(&r.bloom);
        }
        bloom
    }
}

use alloy_rlp::BufMut as _;

/// A reverted tx's receipt error: `revert: <reason>` when the output names
/// one (`Error(string)`, a panic code, or UTF-8 text), else `revert`.
/// (alloy's decoded `Error(string)` already reads `revert: <reason>`.)
pub fn revert_error(output: &[u8]) -> String {
    match alloy_sol_types::decode_revert_reason(output) {
        Some(reason) if reason.is_empty() => "revert".to_string(),
        Some(reason) if reason.starts_with("revert: ") => reason,
        Some(reason) => format!("revert: {reason}"),
        None => "revert".to_string(),
    }
}

type Evm<'s> = MainnetEvm<MainnetContext<Overlay<'s>>>;

/// The revm view of a decoded tx.
pub fn tx_env(tx: &PoolTx) -> TxEnv {
    let env = &tx.tx;
    TxEnv {
        tx_type: env.ty(),
        caller: tx.sender,
        gas_limit: env.gas_limit(),
        // For EIP-1559 txs revm reads this as the max fee.
        gas_price: env.max_fee_per_gas(),
        kind: env.kind(),
        value: env.value(),
        data: env.input().clone(),
        nonce: env.nonce(),
        chain_id: env.chain_id(),
        access_list: env.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: env.max_priority_fee_per_gas(),
        ..Default::default()
    }
}

pub struct Executor<'s> {
    evm: Evm<'s>,
    params: BlockParams,
    receipts: Vec<Receipt>,
    tx_encodings: Vec<Vec<u8>>,
    gas_used: u64,
    burned: U256,
}

impl<'s> Executor<'s> {
    pub fn new(src: &'s ReadState, params: BlockParams) -> Self {
        let mut cfg = CfgEnv::new_with_spec(SPEC);
        cfg.chain_id = params.chain_id;
        cfg.tx_chain_id_check = true;
        let block = BlockEnv {
            number: U256::from(params.number),
            beneficiary: params.beneficiary,
            timestamp: U256::from(params.timestamp),
            gas_limit: params.gas_limit,
            basefee: params.base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(params.parent_hash),
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new_with_spec(0, SPEC)),
            ..Default::default()
        };
        let evm = Context::mainnet()
            .with_db(Overlay::new(src))
            .with_block(block)
            .with_cfg(cfg)
            .build_mainnet();
        Self {
            evm,
            params,
            receipts: Vec::new(),
            tx_encodings: Vec::new(),
            gas_used: 0,
            burned: U256::ZERO,
        }
    }

    /// An executor for calls that are never committed (`eth_call`,
    /// `eth_estimateGas`): as geth does, the nonce is not checked and a gas
    /// price below the base fee (zero, by default) is allowed.
    pub fn for_calls(src: &'s ReadState, params: BlockParams) -> Self {
        let mut exec = Self::new(src, params);
        let cfg = &mut exec.evm.ctx.cfg;
        cfg.disable_nonce_check = true;
        cfg.disable_base_fee = true;
        exec
    }

    /// Runs `tx` on the state as the block has left it so far, without
    /// committing anything. The inner error is why the tx is invalid.
    pub fn call(&mut self, tx: TxEnv) -> Result<Result<ExecutionResult, String>, EngineError> {
        match self.evm.transact(tx) {
            Ok(out) => Ok(Ok(out.result)),
            Err(EVMError::Database(e)) => Err(EngineError::Corrupt(e.0)),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    /// [`Executor::call`], with every account the call read or wrote and
    /// the storage slots it touched of each (what an access list names).
    pub fn call_touching(
        &mut self,
        tx: TxEnv,
    ) -> Result<Result<(ExecutionResult, Touched), String>, EngineError> {
        match self.evm.transact(tx) {
            Ok(out) => {
                let touched = out
                    .state
                    .into_iter()
                    .map(|(a, acct)| (a, acct.storage.into_keys().collect()))
                    .collect();
                Ok(Ok((out.result, touched)))
            }
            Err(EVMError::Database(e)) => Err(EngineError::Corrupt(e.0)),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    fn state(&mut self) -> &mut Overlay<'s> {
        self.evm.ctx.db_mut()
    }

    pub fn gas_left(&self) -> u64 {
        self.params.gas_limit.saturating_sub(self.gas_used)
    }

    /// The account's nonce as the block has left it so far.
    pub fn nonce(&mut self, a: &Address) -> Result<u64, EngineError> {
        Ok(self.state().account(a)?.map_or(0, |a| a.nonce))
    }

    /// Applies a deposit or withdrawal. The outer error is a storage failure;
    /// the inner one the reason the tx is refused, with nothing changed.
    pub fn apply_system(&mut self, tx: &SystemTx) -> Result<Result<(), String>, EngineError> {
        let chain_id = self.params.chain_id;
        match tx {
            SystemTx::Deposit { to, wei, .. } => {
                let mut acct = self.state().account(to)?.unwrap_or(Acct {
                    nonce: 0,
                    balance: U256::ZERO,
                    code_hash: KECCAK_EMPTY,
                });
                let Some(balance) = acct.balance.checked_add(*wei) else {
                    return Ok(Err("deposit overflows the balance".into()));
                };
                acct.balance = balance;
                self.state().set_account(to, acct)?;
            }
            SystemTx::Withdraw {
                from,
                to,
                amount,
                wei,
                nonce,
                signature,
                ..
            } => {
                match keys::recover_withdrawal_signer(
                    chain_id, *from, to, *amount, *nonce, signature,
                ) {
                    Ok(signer) if signer == *from => {}
                    Ok(signer) => {
                        return Ok(Err(format!(
                            "withdrawal signature is by {}, not {}",
                            keys::checksummed(&signer),
                            keys::checksummed(from)
                        )))
                    }
                    Err(e) => return Ok(Err(format!("bad withdrawal signature: {e}"))),
                }
                let Some(mut acct) = self.state().account(from)? else {
                    return Ok(Err(format!(
                        "insufficient meta balance: {} has nothing",
                        keys::checksummed(from)
                    )));
                };
                if acct.nonce != *nonce {
                    return Ok(Err(format!(
                        "bad nonce: got {nonce}, account nonce is {}",
                        acct.nonce
                    )));
                }
                if acct.balance < *wei {
                    return Ok(Err(format!(
                        "insufficient meta balance: {} wei < {} wei",
                        acct.balance, wei
                    )));
                }
                acct.balance -= *wei;
                acct.nonce += 1;
                self.state().set_account(from, acct)?;
            }
        }
        let (from, to) = match tx {
            SystemTx::Deposit { to, .. } => (Address::ZERO, Some(*to)),
            SystemTx::Withdraw { from, .. } => (*from, None),
        };
        self.receipts.push(Receipt {
            tx_hash: tx.hash(),
            tx_type: tx.tx_type(),
            from,
            to,
            contract_address: None,
            success: true,
            gas_used: 0,
            cumulative_gas_used: self.gas_used,
            effective_gas_price: 0,
            logs: Vec::new(),
            native_txid: Some(tx.native_txid()),
            error: String::new(),
            bloom: Bloom::ZERO,
        });
        self.tx_encodings.push(tx.encode());
        Ok(Ok(()))
    }

    /// Executes an EVM tx. The inner error is why it cannot be included
    /// (nothing changed); a tx that reverts is included, with status 0.
    pub fn apply_evm(&mut self, tx: &PoolTx) -> Result<Result<(), String>, EngineError> {
        let env = &tx.tx;
        if env.gas_limit() > self.gas_left() {
            return Ok(Err(format!(
                "tx gas limit {} exceeds the gas left in the block ({})",
                env.gas_limit(),
                self.gas_left()
            )));
        }
        let tx_env = tx_env(tx);
        let out = match self.evm.transact(tx_env) {
            Ok(out) => out,
            Err(EVMError::Database(e)) => return Err(EngineError::Corrupt(e.0)),
            Err(EVMError::Transaction(e)) => return Ok(Err(e.to_string())),
            Err(e) => return Ok(Err(e.to_string())),
        };
        self.evm.commit(out.state);
        self.state().take_error()?;
        let result = out.result;
        let gas_used = result.tx_gas_used();
        self.gas_used += gas_used;
        let base_fee = self.params.base_fee;
        self.burned += U256::from(base_fee) * U256::from(gas_used);
        let effective_gas_price = env.effective_gas_price(Some(base_fee));
        let (success, error) = match &result {
            ExecutionResult::Success { .. } => (true, String::new()),
            ExecutionResult::Revert { output, .. } => (false, revert_error(output)),
            ExecutionResult::Halt { reason, .. } => (false, format!("halt: {reason:?}")),
        };
        self.receipts.push(Receipt {
            tx_hash: tx.hash,
            tx_type: env.ty(),
            from: tx.sender,
            to: env.to(),
            contract_address: result.created_address(),
            success,
            gas_used,
            cumulative_gas_used: self.gas_used,
            effective_gas_price,
            bloom: alloy_primitives::logs_bloom(result.logs()),
            logs: result.into_logs(),
            native_txid: None,
            error,
        });
        self.tx_encodings.push(tx.raw.to_vec());
        Ok(Ok(()))
    }

    pub fn finish(mut self) -> Executed {
        let diff = self.state().diff();
        Executed {
            receipts: self.receipts,
            tx_encodings: self.tx_encodings,
            gas_used: self.gas_used,
            burned: self.burned,
            diff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::revert_error;
    use alloy_primitives::hex;

    #[test]
    fn revert_errors_name_the_reason_once() {
        // Error("nope")
        let error_nope = hex::decode(
            "08c379a0\
             0000000000000000000000000000000000000000000000000000000000000020\
             0000000000000000000000000000000000000000000000000000000000000004\
             6e6f706500000000000000000000000000000000000000000000000000000000",
        )
        .unwrap();
        assert_eq!(revert_error(&error_nope), "revert: nope");
        assert_eq!(revert_error(&[]), "revert");
        assert_eq!(revert_error(b"plain text"), "revert: plain text");
        // Panic(0x01)
        let panic = hex::decode(
            "4e487b71\
             0000000000000000000000000000000000000000000000000000000000000001",
        )
        .unwrap();
        let e = revert_error(&panic);
        assert!(e.starts_with("revert: panic: assert"), "{e}");
        assert_eq!(revert_error(&[0xff, 0xfe, 0x00, 0x01, 0x02]), "revert");
    }
}
