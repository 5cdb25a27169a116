//! Shared helpers for the engine tests: temp engines, native deposits and
//! withdrawals, mint + connect, signed EVM txs and tiny hand-assembled
//! contracts (no solc).
#![allow(dead_code)]

use ain_rs::types::*;
use alloy_consensus::{TxEip1559, TxLegacy};
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use metachain::keys::{self, MetaKey};
use metachain::{Engine, EngineError, EngineOptions};
use std::sync::atomic::{AtomicU64, Ordering};

/// The regtest chain id, the default of a new engine.
pub const CHAIN_ID: u64 = 1132;
pub const GWEI: u128 = 1_000_000_000;
/// The base fee floor, which every lightly used block pays.
pub const BASE_FEE: u64 = 1_000_000_000;
/// wei per native unit.
pub const WEI_PER_UNIT: u64 = 10_000_000_000;
/// Max fee and tip of the txs built here (effective price 2 gwei at the floor).
pub const MAX_FEE: u128 = 3 * GWEI;
pub const TIP: u128 = GWEI;
/// A native recipient of withdrawals.
pub const NATIVE_TO: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

pub fn open() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    (dir, engine)
}

pub fn open_limit(mempool_limit: usize) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open_with(
        dir.path(),
        EngineOptions {
            mempool_limit,
            ..Default::default()
        },
    )
    .unwrap();
    (dir, engine)
}

pub fn ctx(height: u64) -> NativeContext {
    NativeContext {
        height,
        time: 1_700_000_000 + 30 * height as i64,
    }
}

static NEXT_TXID: AtomicU64 = AtomicU64::new(1);

/// A fresh 32-byte native txid.
pub fn fresh_txid() -> Vec<u8> {
    let n = NEXT_TXID.fetch_add(1, Ordering::Relaxed);
    keccak256(n.to_be_bytes()).to_vec()
}

/// A native DepositToMetachain of `units` native units to `to`.
pub fn deposit(to: Address, units: i64) -> NativeTx {
    deposit_id(to, units, fresh_txid())
}

pub fn deposit_id(to: Address, units: i64, native_txid: Vec<u8>) -> NativeTx {
    NativeTx {
        kind: TxKind_::Deposit as i32,
        from: "bcrt1qnativesender".into(),
        to: keys::checksummed(&to),
        amount: units,
        native_txid,
        ..Default::default()
    }
}

/// A native WithdrawFromMetachain of `units` from `key`'s address at `nonce`,
/// signed (EIP-712) by `key`.
pub fn withdrawal(key: &MetaKey, units: i64, nonce: u64) -> NativeTx {
    let signature = key
        .sign_withdrawal(CHAIN_ID, NATIVE_TO, units, nonce)
        .unwrap();
    withdrawal_signed(key.address(), units, nonce, signature.to_vec())
}

pub fn withdrawal_signed(from: Address, units: i64, nonce: u64, signature: Vec<u8>) -> NativeTx {
    NativeTx {
        kind: TxKind_::Withdraw as i32,
        from: keys::checksummed(&from),
        to: NATIVE_TO.into(),
        amount: units,
        native_txid: fresh_txid(),
        nonce,
        signature,
    }
}

/// The native tx kind (not alloy's `TxKind`).
pub use ain_rs::types::TxKind as TxKind_;

pub fn mint(engine: &Engine, native: Vec<NativeTx>, height: u64) -> MetaMintBlockResult {
    mint_by(engine, native, height, Address::ZERO)
}

pub fn mint_by(
    engine: &Engine,
    native: Vec<NativeTx>,
    height: u64,
    beneficiary: Address,
) -> MetaMintBlockResult {
    engine
        .mint(MetaMintBlockInput {
            txs: native,
            context: Some(ctx(height)),
            beneficiary: if beneficiary == Address::ZERO {
                String::new()
            } else {
                keys::checksummed(&beneficiary)
            },
        })
        .expect("mint")
}

/// Connects `payload` at native `height`, with the native txs hash of the
/// system txs it carries.
pub fn connect(
    engine: &Engine,
    payload: &[u8],
    height: u64,
) -> Result<MetaConnectBlockResult, EngineError> {
    let system_txs = prost::Message::decode(payload)
        .map(|b: MetaBlock| b.system_txs)
        .unwrap_or_default();
    engine.connect(MetaConnectBlockInput {
        payload: payload.to_vec(),
        context: Some(ctx(height)),
        native_txs_hash: ain_rs::native_txs_hash(&system_txs).to_vec(),
    })
}

/// Mints on the tip with `native` and connects the block at `height`.
pub fn mint_connect(engine: &Engine, native: Vec<NativeTx>, height: u64) -> MetaMintBlockResult {
    mint_connect_by(engine, native, height, Address::ZERO)
}

pub fn mint_connect_by(
    engine: &Engine,
    native: Vec<NativeTx>,
    height: u64,
    beneficiary: Address,
) -> MetaMintBlockResult {
    let m = mint_by(engine, native, height, beneficiary);
    let c = connect(engine, &m.payload, height).expect("connect");
    assert_eq!(c.block_hash, m.block_hash);
    assert_eq!(c.number, height);
    m
}

/// Mints and connects the next block.
pub fn advance(engine: &Engine, native: Vec<NativeTx>) -> MetaMintBlockResult {
    let height = engine.tip().number + 1;
    mint_connect(engine, native, height)
}

pub fn decode_block(payload: &[u8]) -> MetaBlock {
    prost::Message::decode(payload).unwrap()
}

pub fn encode_block(block: &MetaBlock) -> Vec<u8> {
    prost::Message::encode_to_vec(block)
}

pub fn balance(engine: &Engine, a: Address) -> U256 {
    engine
        .balance(&keys::checksummed(&a))
        .unwrap()
        .balance_wei
        .parse()
        .unwrap()
}

pub fn nonce(engine: &Engine, a: Address) -> u64 {
    engine.balance(&keys::checksummed(&a)).unwrap().nonce
}

pub fn units(n: u64) -> U256 {
    U256::from(n) * U256::from(WEI_PER_UNIT)
}

pub fn supply(engine: &Engine) -> U256 {
    engine.tip_result().supply_wei.parse().unwrap()
}

pub fn burned(engine: &Engine) -> U256 {
    engine.tip_result().burned_wei.parse().unwrap()
}

pub fn key(n: u8) -> MetaKey {
    MetaKey::from_secret(&[n; 32]).unwrap()
}

pub fn addr(n: u8) -> Address {
    Address::repeat_byte(n)
}

/// A signed EIP-1559 transfer at the default fees.
pub fn transfer(key: &MetaKey, nonce: u64, to: Address, value: U256) -> Vec<u8> {
    keys::sign_transfer(key, CHAIN_ID, nonce, to, value, MAX_FEE, TIP, 21_000)
}

pub fn eip1559(nonce: u64, to: TxKind, input: Vec<u8>, gas_limit: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: MAX_FEE,
        max_priority_fee_per_gas: TIP,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::from(input),
    }
}

/// A signed EIP-1559 contract creation.
pub fn create(key: &MetaKey, nonce: u64, initcode: Vec<u8>) -> Vec<u8> {
    key.sign_tx(eip1559(nonce, TxKind::Create, initcode, 300_000))
}

/// A signed EIP-155 legacy contract creation.
pub fn create_legacy(key: &MetaKey, nonce: u64, initcode: Vec<u8>) -> Vec<u8> {
    key.sign_tx(TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_price: 2 * GWEI,
        gas_limit: 300_000,
        to: TxKind::Create,
        value: U256::ZERO,
        input: Bytes::from(initcode),
    })
}

/// A signed EIP-1559 call.
pub fn call(key: &MetaKey, nonce: u64, to: Address, input: Vec<u8>) -> Vec<u8> {
    call_gas(key, nonce, to, input, 200_000)
}

pub fn call_gas(key: &MetaKey, nonce: u64, to: Address, input: Vec<u8>, gas: u64) -> Vec<u8> {
    key.sign_tx(eip1559(nonce, TxKind::Call(to), input, gas))
}

/// A 32-byte calldata word.
pub fn word(v: U256) -> Vec<u8> {
    v.to_be_bytes::<32>().to_vec()
}

pub fn tx_hash(raw: &[u8]) -> String {
    keys::tx_hash(raw).to_string()
}

pub fn hex_word(v: U256) -> String {
    format!("0x{}", hex::encode(v.to_be_bytes::<32>()))
}

pub fn storage(engine: &Engine, a: Address, slot: u64) -> U256 {
    let v = engine
        .storage_at(&keys::checksummed(&a), &format!("0x{slot:x}"))
        .unwrap()
        .value;
    U256::from_str_radix(v.trim_start_matches("0x"), 16).unwrap()
}

pub fn code(engine: &Engine, a: Address) -> String {
    engine.code(&keys::checksummed(&a)).unwrap().code
}

pub fn receipt(engine: &Engine, raw_or_hash: &str) -> MetaGetReceiptResult {
    engine.receipt(raw_or_hash).unwrap()
}

/// The hash of a system tx as the engine names it.
pub fn system_hash(n: &NativeTx) -> String {
    metachain::system::SystemTx::parse(n)
        .unwrap()
        .hash()
        .to_string()
}

// ---- hand-assembled EVM bytecode ----

/// Initcode that deploys `runtime` (at most 255 bytes): CODECOPY it to
/// memory 0 and RETURN it.
pub fn deploy(runtime: &[u8]) -> Vec<u8> {
    let len = u8::try_from(runtime.len()).expect("runtime too long");
    // PUSH1 len DUP1 PUSH1 11 PUSH1 0 CODECOPY PUSH1 0 RETURN
    let mut code = vec![0x60, len, 0x80, 0x60, 11, 0x60, 0, 0x39, 0x60, 0, 0xf3];
    code.extend_from_slice(runtime);
    code
}

/// Runtime: SSTOREs calldata word 0 into slot 0 and LOG1s it (topic and
/// data both the word).
pub fn store_runtime() -> Vec<u8> {
    vec![
        0x60, 0x00, 0x35, // CALLDATALOAD(0)
        0x80, // DUP1
        0x60, 0x00, 0x55, // SSTORE(0, word)
        0x60, 0x00, 0x52, // MSTORE(0, word)
        0x60, 0x00, 0x35, // CALLDATALOAD(0): the topic
        0x60, 0x20, 0x60, 0x00, 0xa1, // LOG1(0, 32, word)
        0x00, // STOP
    ]
}

/// The selector and ABI encoding of `Error("nope")`.
pub fn revert_reason_data() -> Vec<u8> {
    let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
    data.extend_from_slice(&word(U256::from(32)));
    data.extend_from_slice(&word(U256::from(4)));
    let mut s = b"nope".to_vec();
    s.resize(32, 0);
    data.extend_from_slice(&s);
    data
}

/// Runtime that always REVERTs with `Error("nope")`.
pub fn revert_runtime() -> Vec<u8> {
    let data = revert_reason_data();
    let len = data.len() as u8;
    // PUSH1 len PUSH1 12 PUSH1 0 CODECOPY PUSH1 len PUSH1 0 REVERT
    let mut code = vec![0x60, len, 0x60, 12, 0x60, 0, 0x39, 0x60, len, 0x60, 0, 0xfd];
    code.extend_from_slice(&data);
    code
}

/// Initcode that REVERTs without deploying anything.
pub fn reverting_initcode() -> Vec<u8> {
    vec![0x60, 0x00, 0x60, 0x00, 0xfd]
}

/// Runtime that stores the block environment: slot 0 NUMBER, 1 TIMESTAMP,
/// 2 COINBASE, 3 BLOCKHASH(NUMBER - 1), 4 BASEFEE, 5 CHAINID, 6 PREVRANDAO,
/// 7 GASLIMIT, 8 BLOCKHASH(NUMBER) (always 0).
pub fn env_runtime() -> Vec<u8> {
    vec![
        0x43, 0x60, 0x00, 0x55, // NUMBER -> 0
        0x42, 0x60, 0x01, 0x55, // TIMESTAMP -> 1
        0x41, 0x60, 0x02, 0x55, // COINBASE -> 2
        0x60, 0x01, 0x43, 0x03, 0x40, 0x60, 0x03, 0x55, // BLOCKHASH(NUMBER-1) -> 3
        0x48, 0x60, 0x04, 0x55, // BASEFEE -> 4
        0x46, 0x60, 0x05, 0x55, // CHAINID -> 5
        0x44, 0x60, 0x06, 0x55, // PREVRANDAO -> 6
        0x45, 0x60, 0x07, 0x55, // GASLIMIT -> 7
        0x43, 0x40, 0x60, 0x08, 0x55, // BLOCKHASH(NUMBER) -> 8
        0x00,
    ]
}

/// Runtime that loops until it runs out of gas.
pub fn burner_runtime() -> Vec<u8> {
    // JUMPDEST PUSH1 0 JUMP
    vec![0x5b, 0x60, 0x00, 0x56]
}

/// The address a create by `sender` at `nonce` deploys to.
pub fn created(sender: Address, nonce: u64) -> Address {
    sender.create(nonce)
}

pub fn b256_of(hex_hash: &str) -> B256 {
    hex_hash.trim_start_matches("0x").parse().unwrap()
}
