//! Engine throughput (prints figures; asserts nothing):
//! - ConnectBlock of a 10,000-deposit block, commit included (target >= 200,000 tx/s);
//! - ConnectBlock of a 10,000-transfer block from another node, every signature
//!   checked, next to this machine's single-core secp256k1 verify rate
//!   (target >= 70% of it).

use ain_rs::types::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use metachain::tx::Key;
use metachain::{address, tx, Engine};

const N: usize = 10_000;

fn ctx(height: u64) -> Option<NativeContext> {
    Some(NativeContext {
        height,
        time: height as i64,
    })
}

fn deposits(n: usize, tag: &str) -> Vec<NativeTx> {
    (0..n)
        .map(|i| NativeTx {
            kind: TxKind::Deposit as i32,
            from: "bcrt1native".into(),
            to: address::encode(
                &(i as u32 % 5_000)
                    .to_le_bytes()
                    .repeat(5)
                    .try_into()
                    .unwrap(),
            ),
            amount: 1_000 + i as i64,
            native_txid: format!("{tag}{i}").into_bytes(),
            ..Default::default()
        })
        .collect()
}

/// What a caller hands to ConnectBlock; building it is the caller's work and
/// is not timed.
fn connect_input(height: u64, payload: Vec<u8>) -> MetaConnectBlockInput {
    let txs = prost::Message::decode(payload.as_slice())
        .map(|b: MetaBlock| metachain::engine::native_origin_txs(&b))
        .unwrap_or_default();
    MetaConnectBlockInput {
        native_txs_hash: ain_rs::native_txs_hash(&txs).to_vec(),
        payload,
        context: ctx(height),
    }
}

fn connect(engine: &Engine, height: u64, payload: Vec<u8>) {
    engine
        .connect(connect_input(height, payload))
        .expect("connect");
}

fn bench_deposits(c: &mut Criterion) {
    let mut group = c.benchmark_group("connect_10k_deposits");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(20);
    group.bench_function("connect+commit", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let engine = Engine::open(dir.path()).unwrap();
                let m = engine
                    .mint(MetaMintBlockInput {
                        txs: deposits(N, "d"),
                        context: ctx(1),
                    })
                    .unwrap();
                (dir, engine, connect_input(1, m.payload))
            },
            |(dir, engine, input)| {
                engine.connect(input).expect("connect");
                (dir, engine)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// 10,000 senders funded at height 1, and a block at height 2 in which each
/// sends once, minted by another engine so the receiver checks every signature.
fn transfer_block() -> (tempfile::TempDir, Engine, Vec<u8>, Vec<MetaTx>) {
    let keys: Vec<Key> = (0..N).map(|_| Key::random()).collect();
    let funding: Vec<NativeTx> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| NativeTx {
            kind: TxKind::Deposit as i32,
            to: k.address(),
            amount: 1_000_000,
            native_txid: format!("f{i}").into_bytes(),
            ..Default::default()
        })
        .collect();
    let signed: Vec<MetaTx> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| k.sign(TxKind::Transfer, &keys[(i + 1) % N].address(), 10, 0))
        .collect();
    let minter_dir = tempfile::tempdir().unwrap();
    let minter = Engine::open(minter_dir.path()).unwrap();
    let funded = minter
        .mint(MetaMintBlockInput {
            txs: funding,
            context: ctx(1),
        })
        .unwrap();
    connect(&minter, 1, funded.payload.clone());
    for t in &signed {
        minter.submit(t.clone()).unwrap();
    }
    let block = minter
        .mint(MetaMintBlockInput {
            txs: vec![],
            context: ctx(2),
        })
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    connect(&engine, 1, funded.payload);
    (dir, engine, block.payload, signed)
}

fn bench_transfers(c: &mut Criterion) {
    let (_dir, engine, payload, signed) = transfer_block();
    let tip = engine.tip();

    let mut group = c.benchmark_group("signed_transfers_10k");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(10);
    group.bench_function("secp256k1_verify_single_core", |b| {
        b.iter(|| {
            for t in &signed {
                tx::verify(t).unwrap();
            }
        })
    });
    // Only connect is timed; the disconnect that resets the chain is not.
    group.bench_function("connect+commit", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let input = connect_input(2, payload.clone());
                let start = std::time::Instant::now();
                engine.connect(input).expect("connect");
                total += start.elapsed();
                engine
                    .disconnect(MetaDisconnectBlockInput {
                        block_hash: hex::encode(engine.tip().hash),
                    })
                    .unwrap();
            }
            total
        })
    });
    group.finish();
    assert_eq!(engine.tip(), tip);
}

criterion_group!(benches, bench_deposits, bench_transfers);
criterion_main!(benches);
