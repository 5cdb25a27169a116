//! System txs: the native chain's deposits and withdrawals as they appear in
//! a metachain block, with an EIP-2718-style encoding (types `0x7e`, `0x7f`)
//! so they have tx hashes, receipts and a place in the tx root.

use crate::chain::WEI_PER_UNIT;
use crate::keys;
use ain_rs::types::{NativeTx, TxKind};
use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_rlp::{BufMut, Encodable, Header};

pub const DEPOSIT_TX_TYPE: u8 = 0x7e;
pub const WITHDRAW_TX_TYPE: u8 = 0x7f;

/// A system tx with its fields checked.
#[derive(Clone, Debug)]
pub enum SystemTx {
    Deposit {
        native_txid: B256,
        to: Address,
        wei: U256,
    },
    Withdraw {
        native_txid: B256,
        from: Address,
        to: String,
        amount: i64,
        wei: U256,
        nonce: u64,
        signature: Vec<u8>,
    },
}

/// `amount` native units as wei; refuses a non-positive amount.
pub fn units_to_wei(amount: i64) -> Result<U256, String> {
    if amount <= 0 {
        return Err(format!("amount must be positive, got {amount}"));
    }
    Ok(U256::from(amount as u64) * U256::from(WEI_PER_UNIT))
}

impl SystemTx {
    /// Checks the fields of a native tx (not the state, not the signature).
    pub fn parse(n: &NativeTx) -> Result<SystemTx, String> {
        let native_txid: [u8; 32] =
            n.native_txid.as_slice().try_into().map_err(|_| {
                format!("native txid must be 32 bytes, got {}", n.native_txid.len())
            })?;
        let wei = units_to_wei(n.amount)?;
        match TxKind::try_from(n.kind) {
            Ok(TxKind::Deposit) => Ok(SystemTx::Deposit {
                native_txid: native_txid.into(),
                to: keys::parse_address(&n.to).map_err(|e| format!("deposit recipient: {e}"))?,
                wei,
            }),
            Ok(TxKind::Withdraw) => {
                if n.to.is_empty() {
                    return Err("withdrawal without a native recipient".into());
                }
                Ok(SystemTx::Withdraw {
                    native_txid: native_txid.into(),
                    from: keys::parse_address(&n.from)
                        .map_err(|e| format!("withdrawal sender: {e}"))?,
                    to: n.to.clone(),
                    amount: n.amount,
                    wei,
                    nonce: n.nonce,
                    signature: n.signature.clone(),
                })
            }
            _ => Err(format!("unknown native tx kind {}", n.kind)),
        }
    }

    pub fn tx_type(&self) -> u8 {
        match self {
            SystemTx::Deposit { .. } => DEPOSIT_TX_TYPE,
            SystemTx::Withdraw { .. } => WITHDRAW_TX_TYPE,
        }
    }

    pub fn native_txid(&self) -> B256 {
        match self {
            SystemTx::Deposit { native_txid, .. } | SystemTx::Withdraw { native_txid, .. } => {
                *native_txid
            }
        }
    }

    /// `type || rlp([fields])`.
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        match self {
            SystemTx::Deposit {
                native_txid,
                to,
                wei,
            } => {
                native_txid.encode(&mut payload);
                to.encode(&mut payload);
                wei.encode(&mut payload);
            }
            SystemTx::Withdraw {
                native_txid,
                from,
                to,
                wei,
                nonce,
                signature,
                ..
            } => {
                native_txid.encode(&mut payload);
                from.encode(&mut payload);
                to.as_bytes().encode(&mut payload);
                wei.encode(&mut payload);
                nonce.encode(&mut payload);
                signature.as_slice().encode(&mut payload);
            }
        }
        let mut out = Vec::with_capacity(payload.len() + 4);
        out.put_u8(self.tx_type());
        Header {
            list: true,
            payload_length: payload.len(),
        }
        .encode(&mut out);
        out.extend_from_slice(&payload);
        out
    }

    pub fn hash(&self) -> B256 {
        keccak256(self.encode())
    }
}
