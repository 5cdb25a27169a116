//! Withdrawals, transfers and the mempool.

mod common;

use ain_rs::types::*;
use common::*;
use metachain::tx::Key;
use metachain::{address, Engine, EngineError, EngineOptions};

fn funded(amount: i64) -> (tempfile::TempDir, Engine, Key) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let key = Key::random();
    advance(&engine, vec![deposit(&key.address(), amount, "d0")]);
    (dir, engine, key)
}

#[test]
fn a_signed_withdrawal_burns_and_bumps_the_nonce() {
    let (_d, engine, key) = funded(100);
    let w = key.sign(TxKind::Withdraw, "bcrt1nativeto", 30, 0);
    let m = advance(&engine, vec![withdraw(&w, "w1")]);
    assert!(m.refused.is_empty(), "{:?}", m.refused);
    assert_eq!(balance(&engine, &key.address()), (70, 1));
    assert_eq!(engine.tip().supply, 70);
    engine.check_integrity().unwrap();
}

#[test]
fn bad_withdrawals_get_failed_receipts_and_change_nothing() {
    let (_d, engine, key) = funded(100);
    let thief = Key::random();
    let mut wrong_key = thief.sign(TxKind::Withdraw, "bcrt1x", 10, 0);
    wrong_key.from = key.address();
    let mut tampered = key.sign(TxKind::Withdraw, "bcrt1x", 10, 0);
    tampered.amount = 90;
    let cases = [
        (key.sign(TxKind::Withdraw, "bcrt1x", 101, 0), "insufficient"),
        (key.sign(TxKind::Withdraw, "bcrt1x", 10, 5), "bad nonce"),
        (wrong_key, "does not own"),
        (tampered, "does not verify"),
        (key.sign(TxKind::Withdraw, "bcrt1x", 0, 0), "positive"),
    ];
    let before = engine.tip();
    for (tx, reason) in cases {
        let m = mint(&engine, 2, vec![withdraw(&tx, "w")]);
        assert_eq!(m.refused.len(), 1);
        assert_eq!(m.refused[0].native_txid, b"w");
        assert!(
            m.refused[0].reason.contains(reason),
            "{} vs {reason}",
            m.refused[0].reason
        );
    }
    assert_eq!(engine.tip(), before);
    assert_eq!(balance(&engine, &key.address()), (100, 0));
}

#[test]
fn transfers_go_through_the_mempool_into_a_block() {
    let (_d, engine, alice) = funded(100);
    let bob = address::encode(&[9; 20]);
    engine
        .submit(alice.sign(TxKind::Transfer, &bob, 10, 0))
        .unwrap();
    engine
        .submit(alice.sign(TxKind::Transfer, &bob, 15, 1))
        .unwrap();
    assert_eq!(engine.mempool_len(), 2);
    let m = advance(&engine, vec![]);
    assert!(m.refused.is_empty(), "{:?}", m.refused);
    assert_eq!(balance(&engine, &alice.address()), (75, 2));
    assert_eq!(balance(&engine, &bob), (25, 0));
    assert_eq!(engine.tip().supply, 100);
    assert_eq!(engine.mempool_len(), 0);
    engine.check_integrity().unwrap();
}

#[test]
fn the_mempool_refuses_bad_transfers_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open_with(dir.path(), EngineOptions { mempool_limit: 2 }).unwrap();
    let alice = Key::random();
    advance(&engine, vec![deposit(&alice.address(), 100, "d0")]);
    let bob = address::encode(&[9; 20]);
    let ok = alice.sign(TxKind::Transfer, &bob, 10, 0);
    engine.submit(ok.clone()).unwrap();

    let mut bad_sig = alice.sign(TxKind::Transfer, &bob, 10, 1);
    bad_sig.signature[5] ^= 1;
    let mut with_txid = alice.sign(TxKind::Transfer, &bob, 10, 1);
    with_txid.native_txid = "ab".into();
    let cases: Vec<(MetaTx, &str)> = vec![
        (ok.clone(), "already in the mempool"),
        (bad_sig, "does not verify"),
        (
            alice.sign(TxKind::Transfer, &bob, 11, 0),
            "already used by a pending tx",
        ),
        (alice.sign(TxKind::Transfer, &bob, 10, 7), "nonce gap"),
        (
            alice.sign(TxKind::Transfer, &bob, 91, 1),
            "insufficient balance",
        ),
        (alice.sign(TxKind::Withdraw, &bob, 1, 1), "only transfers"),
        (
            alice.sign(TxKind::Transfer, "dmc1bad", 1, 1),
            "invalid meta address",
        ),
        (alice.sign(TxKind::Transfer, &bob, -1, 1), "positive"),
        (with_txid, "no native txid"),
    ];
    for (tx, reason) in cases {
        let e = engine.submit(tx).unwrap_err();
        assert!(e.to_string().contains(reason), "{e} vs {reason}");
    }
    assert_eq!(engine.mempool_len(), 1);

    // Capacity: the limit is 2.
    engine
        .submit(alice.sign(TxKind::Transfer, &bob, 1, 1))
        .unwrap();
    let e = engine
        .submit(alice.sign(TxKind::Transfer, &bob, 1, 2))
        .unwrap_err();
    assert!(matches!(e, EngineError::Full(_)), "{e}");

    // After the block the old nonce is too low.
    advance(&engine, vec![]);
    let e = engine.submit(ok).unwrap_err();
    assert!(e.to_string().contains("nonce too low"), "{e}");
}

#[test]
fn a_withdrawal_in_the_same_block_evicts_a_transfer_it_starves() {
    let (_d, engine, alice) = funded(100);
    let bob = address::encode(&[9; 20]);
    engine
        .submit(alice.sign(TxKind::Transfer, &bob, 60, 0))
        .unwrap();
    // The native withdrawal takes nonce 0 first; the pooled transfer no longer applies.
    let w = alice.sign(TxKind::Withdraw, "bcrt1x", 50, 0);
    let m = advance(&engine, vec![withdraw(&w, "w1")]);
    assert!(m.refused.is_empty(), "{:?}", m.refused);
    assert_eq!(balance(&engine, &alice.address()), (50, 1));
    assert_eq!(balance(&engine, &bob), (0, 0));
    assert_eq!(engine.mempool_len(), 0, "the stale transfer is evicted");
}

#[test]
fn disconnect_returns_transfers_to_the_mempool() {
    let (_d, engine, alice) = funded(100);
    let bob = address::encode(&[9; 20]);
    engine
        .submit(alice.sign(TxKind::Transfer, &bob, 10, 0))
        .unwrap();
    let m = advance(&engine, vec![]);
    assert_eq!(engine.mempool_len(), 0);
    engine
        .disconnect(MetaDisconnectBlockInput {
            block_hash: m.block_hash,
        })
        .unwrap();
    assert_eq!(engine.mempool_len(), 1);
    assert_eq!(balance(&engine, &alice.address()), (100, 0));
    advance(&engine, vec![]);
    assert_eq!(balance(&engine, &bob), (10, 0));
}

#[test]
fn a_foreign_block_with_a_forged_transfer_is_rejected() {
    let (_d, engine, alice) = funded(100);
    let bob = address::encode(&[9; 20]);
    // Another node's engine with the same history mints a block with the transfer.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Engine::open(other_dir.path()).unwrap();
    let genesis_payload = engine.block("1").unwrap();
    let first = prost::Message::encode_to_vec(genesis_payload.block.as_ref().unwrap());
    connect(&other, 1, &first).unwrap();
    other
        .submit(alice.sign(TxKind::Transfer, &bob, 10, 0))
        .unwrap();
    let m = mint(&other, 2, vec![]);
    connect(&engine, 2, &m.payload).unwrap();
    assert_eq!(balance(&engine, &bob), (10, 0));

    // Forge: same block but the amount raised and the roots recomputed by the
    // forger are still wrong because the signature no longer verifies.
    engine
        .disconnect(MetaDisconnectBlockInput {
            block_hash: m.block_hash,
        })
        .unwrap();
    let mut forged: MetaBlock = prost::Message::decode(m.payload.as_slice()).unwrap();
    forged.txs[0].amount = 90;
    let e = connect(&engine, 2, &prost::Message::encode_to_vec(&forged)).unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");
    assert_eq!(balance(&engine, &bob), (0, 0));
}

#[test]
fn self_transfers_keep_the_balance() {
    let (_d, engine, alice) = funded(100);
    engine
        .submit(alice.sign(TxKind::Transfer, &alice.address(), 40, 0))
        .unwrap();
    advance(&engine, vec![]);
    assert_eq!(balance(&engine, &alice.address()), (100, 1));
    engine.check_integrity().unwrap();
}

#[test]
fn the_mempool_survives_a_restart_and_follows_blocks_on_disk() {
    let (dir, engine, alice) = funded(100);
    let bob = address::encode(&[9; 20]);
    for nonce in 0..3 {
        engine
            .submit(alice.sign(TxKind::Transfer, &bob, 10, nonce))
            .unwrap();
    }
    // Reopened (as after a crash: nothing is flushed on drop), the pool is back.
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.mempool_len(), 3);

    // Included txs leave the persisted pool with their block.
    let m = advance(&engine, vec![]);
    assert_eq!(engine.mempool_len(), 0);
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.mempool_len(), 0);
    assert_eq!(balance(&engine, &bob), (30, 0));

    // A disconnected block's transfers return to the persisted pool.
    engine
        .disconnect(MetaDisconnectBlockInput {
            block_hash: m.block_hash.clone(),
        })
        .unwrap();
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.mempool_len(), 3);

    // A pooled tx that no longer applies is dropped on reload: alice's
    // nonce 0 is taken by a withdrawal, so her whole queue is stale.
    let w = alice.sign(TxKind::Withdraw, "bcrt1nativeto", 95, 0);
    advance(&engine, vec![withdraw(&w, "w9")]);
    assert_eq!(engine.mempool_len(), 0);
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.mempool_len(), 0);
    assert_eq!(balance(&engine, &alice.address()), (5, 1));
}

#[test]
fn the_pending_nonce_counts_pooled_transfers() {
    let (_d, engine, alice) = funded(100);
    let bob = address::encode(&[9; 20]);
    for nonce in 0..2 {
        engine
            .submit(alice.sign(TxKind::Transfer, &bob, 10, nonce))
            .unwrap();
    }
    let b = engine.balance(&alice.address()).unwrap();
    assert_eq!((b.nonce, b.pending_nonce), (0, 2));
    advance(&engine, vec![]);
    let b = engine.balance(&alice.address()).unwrap();
    assert_eq!((b.nonce, b.pending_nonce), (2, 2));
}
