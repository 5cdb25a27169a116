//! Shared helpers for the engine tests.
#![allow(dead_code)]

use ain_rs::types::*;
use metachain::{Engine, EngineError};

pub fn ctx(height: u64) -> Option<NativeContext> {
    Some(NativeContext {
        height,
        time: 1_700_000_000 + height as i64,
    })
}

pub fn deposit(to: &str, amount: i64, txid: &str) -> NativeTx {
    NativeTx {
        kind: TxKind::Deposit as i32,
        from: "bcrt1native".into(),
        to: to.into(),
        amount,
        native_txid: txid.into(),
        ..Default::default()
    }
}

/// A native WithdrawFromMetachain carrying a meta-signed withdrawal.
pub fn withdraw(signed: &MetaTx, txid: &str) -> NativeTx {
    NativeTx {
        kind: signed.kind,
        from: signed.from.clone(),
        to: signed.to.clone(),
        amount: signed.amount,
        native_txid: txid.into(),
        nonce: signed.nonce,
        pubkey: signed.pubkey.clone(),
        signature: signed.signature.clone(),
    }
}

pub fn mint(engine: &Engine, height: u64, txs: Vec<NativeTx>) -> MetaMintBlockResult {
    engine
        .mint(MetaMintBlockInput {
            txs,
            context: ctx(height),
        })
        .expect("mint")
}

pub fn connect(
    engine: &Engine,
    height: u64,
    payload: &[u8],
) -> Result<MetaConnectBlockResult, EngineError> {
    let txs = prost::Message::decode(payload)
        .map(|b: MetaBlock| metachain::engine::native_origin_txs(&b))
        .unwrap_or_default();
    engine.connect(MetaConnectBlockInput {
        payload: payload.to_vec(),
        context: ctx(height),
        native_txs_hash: ain_rs::native_txs_hash(&txs).to_vec(),
    })
}

/// Mints and connects the next block; returns the mint result.
pub fn advance(engine: &Engine, txs: Vec<NativeTx>) -> MetaMintBlockResult {
    let height = engine.tip().number + 1;
    let m = mint(engine, height, txs);
    connect(engine, height, &m.payload).expect("connect");
    m
}

pub fn balance(engine: &Engine, addr: &str) -> (i64, u64) {
    let b = engine.balance(addr).expect("balance");
    (b.balance, b.nonce)
}
