//! Proptest-fed fuzzing of payload decoding plus ConnectBlock: arbitrary or
//! mutated bytes never panic, never connect, and change nothing. The native
//! txs hash is the real block's, as the native side would pass it.

mod common;

use alloy_primitives::U256;
use common::*;
use metachain::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// An engine at block 1 and a block 2 candidate with deposits, a withdrawal,
/// a transfer, a contract creation and a call.
fn engine_with_candidate() -> (tempfile::TempDir, Engine, Vec<u8>, Vec<u8>) {
    let (dir, engine) = open();
    let k = key(1);
    mint_connect(
        &engine,
        vec![
            deposit(k.address(), 100_000_000),
            deposit(key(2).address(), 5000),
        ],
        1,
    );
    engine
        .submit(&transfer(&k, 0, addr(2), U256::from(3)))
        .unwrap();
    engine
        .submit(&create(&k, 1, deploy(&store_runtime())))
        .unwrap();
    engine
        .submit(&call(&k, 2, created(k.address(), 1), word(U256::from(5))))
        .unwrap();
    let native = vec![
        deposit(addr(2), 7),
        withdrawal(&key(2), 1000, 0),
        deposit(addr(1), 3),
    ];
    let m = mint_by(&engine, native.clone(), 2, addr(0xcb));
    assert!(m.refused.is_empty(), "{:?}", m.refused);
    assert_eq!(decode_block(&m.payload).transactions.len(), 3);
    let native_hash = ain_rs::native_txs_hash(&native).to_vec();
    (dir, engine, m.payload, native_hash)
}

fn connect_with(engine: &Engine, payload: &[u8], native_hash: &[u8]) -> bool {
    engine
        .connect(ain_rs::types::MetaConnectBlockInput {
            payload: payload.to_vec(),
            context: Some(ctx(2)),
            native_txs_hash: native_hash.to_vec(),
        })
        .is_ok()
}

#[test]
fn arbitrary_bytes_never_connect() {
    let (_d, engine, payload, native_hash) = engine_with_candidate();
    let before = engine.tip();
    let mut runner = TestRunner::new(Config {
        cases: 512,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..800), |bytes| {
            prop_assert!(!connect_with(&engine, &bytes, &native_hash));
            // with the hash of whatever system txs the bytes carry, too
            prop_assert!(connect(&engine, &bytes, 2).is_err());
            prop_assert_eq!(engine.tip(), before.clone());
            Ok(())
        })
        .unwrap();
    engine.check_integrity().unwrap();
    assert!(connect_with(&engine, &payload, &native_hash));
}

#[test]
fn mutated_payloads_never_connect() {
    let (_d, engine, payload, native_hash) = engine_with_candidate();
    let before = engine.tip();
    let mut runner = TestRunner::new(Config {
        cases: 1024,
        ..Config::default()
    });
    runner
        .run(
            &(any::<prop::sample::Index>(), 1u8..=255, 0..3u8),
            |(pos, flip, how)| {
                let mut bad = payload.clone();
                let i = pos.index(bad.len());
                match how {
                    0 => bad[i] ^= flip,
                    1 => bad.truncate(i),
                    _ => bad.insert(i, flip),
                }
                prop_assert!(!connect_with(&engine, &bad, &native_hash));
                prop_assert_eq!(engine.tip(), before.clone());
                Ok(())
            },
        )
        .unwrap();
    engine.check_integrity().unwrap();
    // the genuine payload still connects afterwards
    assert!(connect_with(&engine, &payload, &native_hash));
    assert_eq!(engine.tip().number, 2);
    engine.check_integrity().unwrap();
}
