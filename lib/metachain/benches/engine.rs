//! The engine benchmark (prints figures; asserts nothing):
//!
//! ConnectBlock of one block of 10,000 signed ERC-20 transfers (500 senders,
//! 20 each, to 10,000 fresh recipients), on a second node that did not see
//! the txs before: decoding, parallel sender recovery, execution, roots,
//! LtHash and the redb commit. Next to it, the same txs executed by bare revm
//! (an in-memory `CacheDB`, senders already known, `transact_commit` each).
//! Targets: >= 10,000 tx/s, and at most 2x bare revm.
//!
//! The token is `test/contracts/Token.sol` as solc built it
//! (`test/contracts/build/Token.json`, made by `node test/contracts/compile.js`;
//! `./make.sh bench` runs it), else a minimal hand-written ERC-20 with the same
//! storage layout (`BENCH_TOKEN=builtin` forces it).
//!
//! A 30M-gas block holds about 600 such transfers; the bench's chain is
//! regtest with a 1G gas limit so that one block carries all 10,000.
//!
//! `cargo bench -p metachain --bench engine` (about a minute on 2 cores).

use ain_rs::types::*;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use alloy_sol_types::{sol, SolCall, SolValue};
use metachain::chain::ChainParams;
use metachain::executor;
use metachain::keys::{self, MetaKey};
use metachain::txpool;
use metachain::{Engine, EngineOptions};
use revm::context::{BlockEnv, CfgEnv, ContextTr, TxEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::database::InMemoryDB;
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use std::time::{Duration, Instant};

sol! {
    function transfer(address to, uint256 value) external returns (bool);
}

const TXS: usize = 10_000;
/// The pool holds at most 64 txs per sender.
const SENDERS: usize = 500;
const PER_SENDER: usize = TXS / SENDERS;
const GWEI: u128 = 1_000_000_000;
const TRANSFER_GAS: u64 = 100_000;
/// Timed rounds of each measurement; the best is reported.
const ROUNDS: usize = 3;

fn chain() -> ChainParams {
    ChainParams {
        name: "regtest-bench",
        gas_limit: 1_000_000_000,
        ..metachain::chain::regtest()
    }
}

fn options() -> EngineOptions {
    EngineOptions {
        mempool_limit: 2 * TXS,
        chain: chain(),
    }
}

fn ctx(height: u64) -> NativeContext {
    NativeContext {
        height,
        time: 1_700_000_000 + 30 * height as i64,
    }
}

fn txid(tag: u64) -> Vec<u8> {
    keccak256(tag.to_be_bytes()).to_vec()
}

struct Block {
    payload: Vec<u8>,
    height: u64,
    native_txs_hash: Vec<u8>,
}

fn connect_input(b: &Block) -> MetaConnectBlockInput {
    MetaConnectBlockInput {
        payload: b.payload.clone(),
        context: Some(ctx(b.height)),
        native_txs_hash: b.native_txs_hash.clone(),
    }
}

/// Mints the next block on `engine` with `native` and connects it.
fn grow(engine: &Engine, native: Vec<NativeTx>) -> Block {
    let height = engine.tip().number + 1;
    let m = engine
        .mint(MetaMintBlockInput {
            txs: native.clone(),
            context: Some(ctx(height)),
            beneficiary: keys::checksummed(&Address::repeat_byte(0xcb)),
        })
        .expect("mint");
    assert!(m.refused.is_empty(), "{:?}", m.refused);
    let b = Block {
        payload: m.payload,
        height,
        native_txs_hash: ain_rs::native_txs_hash(&native).to_vec(),
    };
    engine.connect(connect_input(&b)).expect("connect");
    b
}

fn eip1559(key: &MetaKey, nonce: u64, to: TxKind, input: Vec<u8>, gas: u64) -> Vec<u8> {
    key.sign_tx(alloy_consensus::TxEip1559 {
        chain_id: chain().chain_id,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::from(input),
    })
}

fn transfer_call(key: &MetaKey, nonce: u64, token: Address, to: Address, value: u64) -> Vec<u8> {
    let input = transferCall {
        to,
        value: U256::from(value),
    }
    .abi_encode();
    eip1559(key, nonce, TxKind::Call(token), input, TRANSFER_GAS)
}

/// The `"bytecode"` string of a solc artifact, without its 0x.
fn json_bytecode(json: &str) -> Option<&str> {
    let rest = &json[json.find("\"bytecode\"")? + "\"bytecode\"".len()..];
    let rest = &rest[rest.find('"')? + 1..];
    let code = &rest[..rest.find('"')?];
    Some(code.strip_prefix("0x").unwrap_or(code))
}

/// The token's creation code with its constructor arguments, and what it is.
fn token_initcode(supply: U256) -> (Vec<u8>, String) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test/contracts/build/Token.json"
    );
    if std::env::var("BENCH_TOKEN").as_deref() != Ok("builtin") {
        if let Ok(json) = std::fs::read_to_string(path) {
            if let Some(code) = json_bytecode(&json).and_then(|c| hex::decode(c).ok()) {
                let mut init = code;
                init.extend(("Bench".to_string(), "BNC".to_string(), supply).abi_encode_params());
                return (
                    init,
                    "Token.sol compiled by solc (test/contracts/build/Token.json)".into(),
                );
            }
        }
    }
    (
        builtin_initcode(supply),
        "a minimal hand-written ERC-20 (no test/contracts/build/Token.json: run \
         `node test/contracts/compile.js`)"
            .into(),
    )
}

/// A minimal ERC-20: `balanceOf` at slot 0 as Solidity lays it out, and a
/// `transfer(to, value)` (any selector) that checks the balance, moves it,
/// logs `Transfer` and returns true. The constructor mints `supply` to the
/// deployer.
fn builtin_initcode(supply: U256) -> Vec<u8> {
    let topic = keccak256("Transfer(address,address,uint256)");
    let mut runtime = vec![
        0x33, 0x60, 0x00, 0x52, // mem[0] = caller
        0x60, 0x00, 0x60, 0x20, 0x52, // mem[32] = 0
        0x60, 0x40, 0x60, 0x00, 0x20, // fs = keccak(mem[0..64])
        0x80, 0x54, // fb = sload(fs)
        0x60, 0x24, 0x35, // v = calldata[36..68]
        0x80, 0x82, 0x10, // fb < v
        0x60, 0x00, 0x57, // jumpi revert (patched below)
        0x80, 0x82, 0x03, 0x83, 0x55, // sstore(fs, fb - v)
        0x60, 0x04, 0x35, 0x60, 0x00, 0x52, // mem[0] = to
        0x60, 0x40, 0x60, 0x00, 0x20, // ts
        0x80, 0x54, 0x82, 0x01, 0x90, 0x55, // sstore(ts, sload(ts) + v)
        0x60, 0x00, 0x52, // mem[0] = v
        0x60, 0x04, 0x35, 0x33, // topics: to, caller
        0x7f, // PUSH32 the Transfer topic
    ];
    runtime.extend_from_slice(topic.as_slice());
    runtime.extend_from_slice(&[
        0x60, 0x20, 0x60, 0x00, 0xa3, // log3(0, 32, Transfer, caller, to)
        0x60, 0x01, 0x60, 0x00, 0x52, // mem[0] = 1
        0x60, 0x20, 0x60, 0x00, 0xf3, // return true
    ]);
    let revert = runtime.len() as u8;
    runtime.extend_from_slice(&[0x5b, 0x60, 0x00, 0x60, 0x00, 0xfd]);
    runtime[23] = revert;

    let mut init = vec![
        0x33, 0x60, 0x00, 0x52, // mem[0] = caller
        0x60, 0x00, 0x60, 0x20, 0x52, // mem[32] = 0
        0x7f, // PUSH32 supply
    ];
    init.extend_from_slice(&supply.to_be_bytes::<32>());
    init.extend_from_slice(&[0x60, 0x40, 0x60, 0x00, 0x20, 0x55]); // sstore(keccak, supply)
    let offset = init.len() as u8 + 11;
    let len = runtime.len() as u8;
    init.extend_from_slice(&[
        0x60, len, 0x80, 0x60, offset, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ]);
    init.extend_from_slice(&runtime);
    init
}

/// The storage slot of `balanceOf[a]`.
fn balance_slot(a: Address) -> String {
    let mut pre = [0u8; 64];
    pre[12..32].copy_from_slice(a.as_slice());
    format!("0x{}", hex::encode(keccak256(pre)))
}

fn token_balance(engine: &Engine, token: Address, a: Address) -> U256 {
    let v = engine
        .storage_at(&keys::checksummed(&token), &balance_slot(a))
        .unwrap()
        .value;
    U256::from_str_radix(v.trim_start_matches("0x"), 16).unwrap()
}

fn block_env(h: &MetaBlockHeader) -> BlockEnv {
    BlockEnv {
        number: U256::from(h.number),
        beneficiary: Address::from_slice(&h.beneficiary),
        timestamp: U256::from(h.native_time as u64),
        gas_limit: h.gas_limit,
        basefee: h.base_fee,
        difficulty: U256::ZERO,
        prevrandao: Some(B256::from_slice(&h.parent_hash)),
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new_with_spec(0, SpecId::CANCUN)),
        ..Default::default()
    }
}

fn header(payload: &[u8]) -> (MetaBlock, MetaBlockHeader) {
    let b: MetaBlock = prost::Message::decode(payload).unwrap();
    let h = b.header.clone().unwrap();
    (b, h)
}

/// Runs `txs` on `db` with bare revm; returns the gas used.
fn revm_run(db: InMemoryDB, h: &MetaBlockHeader, txs: Vec<TxEnv>) -> (u64, InMemoryDB) {
    let mut cfg = CfgEnv::new_with_spec(SpecId::CANCUN);
    cfg.chain_id = chain().chain_id;
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_block(block_env(h))
        .with_cfg(cfg)
        .build_mainnet();
    let mut gas = 0;
    for tx in txs {
        let r = evm.transact_commit(tx).expect("revm");
        assert!(r.is_success(), "{r:?}");
        gas += r.tx_gas_used();
    }
    (gas, std::mem::take(evm.ctx.db_mut()))
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then
    // only check that it runs, on a small block.
    let full = std::env::args().any(|a| a == "--bench");
    let (senders, per_sender) = if full { (SENDERS, PER_SENDER) } else { (10, 2) };
    let txs = senders * per_sender;

    let supply = U256::from(10u64).pow(U256::from(27));
    let (initcode, token_kind) = token_initcode(supply);
    println!("metachain engine bench: one block of {txs} ERC-20 transfers");
    println!("  token: {token_kind}");
    println!("  {senders} senders x {per_sender} txs, each to a fresh recipient");

    let deployer = MetaKey::from_secret(&[0xde; 32]).unwrap();
    let keys: Vec<MetaKey> = (0..senders)
        .map(|i| {
            let mut s = [0x11u8; 32];
            s[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            MetaKey::from_secret(&s).unwrap()
        })
        .collect();
    let token = deployer.address().create(0);

    // The minting node: gas money, the token, tokens for every sender.
    let dir_a = tempfile::tempdir().unwrap();
    let a = Engine::open_with(dir_a.path(), options()).unwrap();
    let mut setup = Vec::new();
    let deposit = |to: Address, tag: u64| NativeTx {
        kind: ain_rs::types::TxKind::Deposit as i32,
        from: "bcrt1qbench".into(),
        to: keys::checksummed(&to),
        amount: 1_000_000_000, // 10 coins
        native_txid: txid(tag),
        ..Default::default()
    };
    let mut native = vec![deposit(deployer.address(), 0)];
    native.extend(
        keys.iter()
            .enumerate()
            .map(|(i, k)| deposit(k.address(), i as u64 + 1)),
    );
    setup.push(grow(&a, native));
    let deploy = eip1559(&deployer, 0, TxKind::Create, initcode, 5_000_000);
    a.submit(&deploy).unwrap();
    setup.push(grow(&a, vec![]));
    let deployed = a.receipt(&keys::tx_hash(&deploy).to_string()).unwrap();
    assert!(
        deployed.success,
        "token deployment failed: {}",
        deployed.error
    );
    let mut nonce = 1;
    for chunk in keys.chunks(64) {
        for k in chunk {
            a.submit(&transfer_call(
                &deployer,
                nonce,
                token,
                k.address(),
                1_000_000,
            ))
            .unwrap();
            nonce += 1;
        }
        setup.push(grow(&a, vec![]));
    }
    assert_eq!(
        token_balance(&a, token, keys[0].address()),
        U256::from(1_000_000)
    );

    // The block: every sender's txs to fresh recipients.
    let recipient = |i: usize| Address::from_slice(&keccak256((i as u64).to_be_bytes())[12..]);
    let t = Instant::now();
    let raws: Vec<Vec<u8>> = (0..txs)
        .map(|i| {
            let (s, n) = (i % senders, i / senders);
            transfer_call(&keys[s], n as u64, token, recipient(i), 1 + (i % 7) as u64)
        })
        .collect();
    let sign = t.elapsed();
    let t = Instant::now();
    for raw in &raws {
        a.submit(raw).unwrap();
    }
    let submit = t.elapsed();
    let height = a.tip().number + 1;
    let t = Instant::now();
    let m = a
        .mint(MetaMintBlockInput {
            txs: vec![],
            context: Some(ctx(height)),
            beneficiary: keys::checksummed(&Address::repeat_byte(0xcb)),
        })
        .unwrap();
    let mint = t.elapsed();
    let big = Block {
        payload: m.payload,
        height,
        native_txs_hash: ain_rs::native_txs_hash(&[]).to_vec(),
    };
    let (block, h) = header(&big.payload);
    assert_eq!(block.transactions.len(), txs, "mint left txs out");
    let gas = h.gas_used;
    println!(
        "  block {}: {} txs, {:.1} Mgas ({} gas/tx), payload {:.2} MB, base fee {} wei",
        h.number,
        txs,
        gas as f64 / 1e6,
        gas / txs as u64,
        big.payload.len() as f64 / 1e6,
        h.base_fee
    );
    println!(
        "  (not timed below) sign: {:.3} s; submit to the pool, each durable: {:.3} s ({:.0} tx/s); mint: {:.3} s",
        secs(sign),
        secs(submit),
        txs as f64 / secs(submit),
        secs(mint)
    );

    // Another node: the setup blocks, then the big block, timed.
    // A fresh node per round: a disconnect would put the block's txs in
    // its pool, and connect would then reuse their senders.
    let fresh_node = || {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open_with(dir.path(), options()).unwrap();
        for s in &setup {
            e.connect(connect_input(s)).unwrap();
        }
        (dir, e)
    };
    let raws_in_block: Vec<&[u8]> = block
        .transactions
        .iter()
        .map(|t| t.raw.as_slice())
        .collect();
    let mut recover = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let decoded = txpool::recover_all(&raws_in_block, &chain()).unwrap();
        recover.push(t.elapsed());
        assert_eq!(decoded.len(), txs);
    }
    let mut connect = Vec::new();
    let mut nodes = Vec::new();
    for _ in 0..ROUNDS {
        let (dir, b) = fresh_node();
        let t = Instant::now();
        let c = b.connect(connect_input(&big)).expect("connect");
        connect.push(t.elapsed());
        assert_eq!(c.block_hash, m.block_hash);
        nodes.push((dir, b));
    }
    let (_dir_b, b) = nodes.pop().unwrap();
    // The miner's own node: its pool holds every tx, as a node's does after
    // tx relay, so connect reuses the senders the pool recovered.
    let mut connect_pooled = Vec::new();
    for round in 0..ROUNDS {
        let t = Instant::now();
        let c = a.connect(connect_input(&big)).expect("connect");
        connect_pooled.push(t.elapsed());
        if round + 1 < ROUNDS {
            a.disconnect(MetaDisconnectBlockInput {
                block_hash: c.block_hash,
            })
            .unwrap();
        }
    }
    assert_eq!(b.tip_result(), a.tip_result());
    assert_eq!(token_balance(&b, token, recipient(0)), U256::from(1));
    b.check_integrity().unwrap();

    // Bare revm: the same pre-state, senders known, the same txs.
    let mut db = InMemoryDB::default();
    for s in &setup {
        let (blk, hdr) = header(&s.payload);
        for n in &blk.system_txs {
            let to = keys::parse_address(&n.to).unwrap();
            let wei = U256::from(n.amount as u64) * U256::from(metachain::chain::WEI_PER_UNIT);
            db.insert_account_info(
                to,
                AccountInfo {
                    balance: wei,
                    ..Default::default()
                },
            );
        }
        let envs = blk
            .transactions
            .iter()
            .map(|t| executor::tx_env(&txpool::decode(&t.raw, &chain()).unwrap()))
            .collect();
        db = revm_run(db, &hdr, envs).1;
    }
    let envs: Vec<TxEnv> = txpool::recover_all(&raws_in_block, &chain())
        .unwrap()
        .iter()
        .map(executor::tx_env)
        .collect();
    let mut bare = Vec::new();
    let mut bare_gas = 0;
    for _ in 0..ROUNDS {
        let (pre, txs) = (db.clone(), envs.clone());
        let t = Instant::now();
        let (g, _) = revm_run(pre, &h, txs);
        bare.push(t.elapsed());
        bare_gas = g;
    }

    let best = |v: &[Duration]| *v.iter().min().unwrap();
    let (c, r, rv) = (best(&connect), best(&recover), best(&bare));
    let cp = best(&connect_pooled);
    let tps = txs as f64 / secs(c);
    let bare_tps = txs as f64 / secs(rv);
    println!(
        "  connect on another node (decode + parallel sender recovery + execution + roots + commit), best of {ROUNDS}:"
    );
    println!(
        "    {:.3} s (median {:.3} s): {:.0} tx/s, {:.0} Mgas/s   [target >= 10,000 tx/s: {}]",
        secs(c),
        secs(median(connect.clone())),
        tps,
        gas as f64 / 1e6 / secs(c),
        if tps >= 10_000.0 { "met" } else { "NOT met" }
    );
    println!(
        "    of which sender recovery alone ({} threads): {:.3} s",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        secs(r)
    );
    println!(
        "  bare revm (InMemoryDB, senders known, transact_commit each), best of {ROUNDS}: {:.3} s: {:.0} tx/s, {:.0} Mgas/s (gas {})",
        secs(rv),
        bare_tps,
        bare_gas as f64 / 1e6 / secs(rv),
        if bare_gas == gas { "the same" } else { "DIFFERS" }
    );
    println!(
        "  connect with the txs already in the pool (senders reused, as after relay), best of {ROUNDS}: {:.3} s: {:.0} tx/s",
        secs(cp),
        txs as f64 / secs(cp)
    );
    let ratio = secs(c) / secs(rv);
    println!(
        "  engine connect / bare revm: {ratio:.2}x cold, {:.2}x with pooled txs   [target <= 2x: {}]",
        secs(cp) / secs(rv),
        if ratio <= 2.0 { "met" } else { "NOT met" }
    );
}
