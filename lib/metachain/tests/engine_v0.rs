//! Engine v0: deposits through mint and connect, persistence, rejections.

mod common;

use ain_rs::types::*;
use common::*;
use metachain::{address, Engine};

fn addr(n: u8) -> String {
    address::encode(&[n; 20])
}

#[test]
fn mint_never_commits_and_connect_commits() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let genesis = engine.tip();
    assert_eq!(genesis.number, 0);

    let minted = mint(
        &engine,
        1,
        vec![deposit(&addr(1), 500, "aa"), deposit(&addr(2), 7, "bb")],
    );
    assert!(minted.refused.is_empty(), "{:?}", minted.refused);
    assert_eq!(engine.tip(), genesis, "mint must not commit");
    assert_eq!(engine.balance(&addr(1)).unwrap().balance, 0);

    let connected = connect(&engine, 1, &minted.payload).unwrap();
    assert_eq!(connected.block_hash, minted.block_hash);
    assert_eq!(connected.number, 1);
    assert_eq!(engine.balance(&addr(1)).unwrap().balance, 500);
    assert_eq!(engine.balance(&addr(2)).unwrap().balance, 7);
    assert_eq!(engine.tip().supply, 507);

    // idempotent for the tip
    assert_eq!(
        connect(&engine, 1, &minted.payload).unwrap().block_hash,
        minted.block_hash
    );
    assert_eq!(engine.tip().supply, 507);
}

#[test]
fn state_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let tip = {
        let engine = Engine::open(dir.path()).unwrap();
        for h in 1..=3 {
            let m = mint(
                &engine,
                h,
                vec![deposit(&addr(1), 100, &format!("{h:02x}"))],
            );
            connect(&engine, h, &m.payload).unwrap();
        }
        engine.tip()
    };
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.tip(), tip);
    assert_eq!(engine.balance(&addr(1)).unwrap().balance, 300);
    let block = engine.block("2").unwrap();
    assert_eq!(block.block.unwrap().header.unwrap().number, 2);
    assert_eq!(engine.block(&block.hash).unwrap().hash, block.hash);
}

#[test]
fn failed_deposits_are_refused_with_a_reason_and_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let m = mint(
        &engine,
        1,
        vec![
            deposit(&addr(1), 10, "01"),
            deposit("dmc1notanaddress", 10, "02"),
            deposit(&addr(1), -5, "03"),
            deposit(&addr(1), i64::MAX, "04"),
        ],
    );
    let refused: Vec<&[u8]> = m.refused.iter().map(|r| r.native_txid.as_slice()).collect();
    assert_eq!(refused, [b"02", b"03", b"04"]);
    assert!(m.refused[0].reason.contains("invalid meta address"));
    assert!(m.refused[1].reason.contains("positive"));
    assert!(m.refused[2].reason.contains("overflow"));
    let block = MetaBlock::decode_payload(&m.payload);
    assert_eq!(block.txs.len(), 1);
    connect(&engine, 1, &m.payload).unwrap();
    assert_eq!(engine.tip().supply, 10);
}

trait DecodePayload {
    fn decode_payload(p: &[u8]) -> MetaBlock;
}
impl DecodePayload for MetaBlock {
    fn decode_payload(p: &[u8]) -> MetaBlock {
        prost::Message::decode(p).unwrap()
    }
}

#[test]
fn bad_payloads_are_rejected_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let m = mint(&engine, 1, vec![deposit(&addr(1), 10, "01")]);
    let before = engine.tip();

    let err = connect(&engine, 1, b"\xff\xff\xff garbage").unwrap_err();
    assert!(err.to_string().contains("corrupt payload"), "{err}");

    let mut tampered: MetaBlock = MetaBlock::decode_payload(&m.payload);
    tampered.txs[0].amount = 11;
    let err = connect(&engine, 1, &prost::Message::encode_to_vec(&tampered)).unwrap_err();
    assert!(err.to_string().contains("mismatch"), "{err}");

    let err = connect(&engine, 2, &m.payload).unwrap_err();
    assert!(err.to_string().contains("native height"), "{err}");

    let mut orphan: MetaBlock = MetaBlock::decode_payload(&m.payload);
    orphan.header.as_mut().unwrap().parent_hash = vec![9; 32];
    let err = connect(&engine, 1, &prost::Message::encode_to_vec(&orphan)).unwrap_err();
    assert!(err.to_string().contains("not the tip"), "{err}");

    assert_eq!(engine.tip(), before);
    assert_eq!(engine.balance(&addr(1)).unwrap().balance, 0);
}

#[test]
fn disconnect_restores_the_parent_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let m1 = mint(&engine, 1, vec![deposit(&addr(1), 10, "01")]);
    connect(&engine, 1, &m1.payload).unwrap();
    let after1 = engine.tip();
    let m2 = mint(
        &engine,
        2,
        vec![deposit(&addr(1), 5, "02"), deposit(&addr(3), 1, "03")],
    );
    connect(&engine, 2, &m2.payload).unwrap();

    let err = engine
        .disconnect(MetaDisconnectBlockInput {
            block_hash: m1.block_hash.clone(),
        })
        .unwrap_err();
    assert!(err.to_string().contains("not the tip"));

    let d = engine
        .disconnect(MetaDisconnectBlockInput {
            block_hash: m2.block_hash.clone(),
        })
        .unwrap();
    assert_eq!(d.number, 1);
    assert_eq!(engine.tip(), after1);
    assert_eq!(engine.balance(&addr(1)).unwrap().balance, 10);
    assert_eq!(engine.balance(&addr(3)).unwrap().balance, 0);
    assert!(engine.block("2").is_err());

    // the same block connects again
    connect(&engine, 2, &m2.payload).unwrap();
    assert_eq!(engine.balance(&addr(1)).unwrap().balance, 15);

    let genesis_dir = tempfile::tempdir().unwrap();
    let fresh = Engine::open(genesis_dir.path()).unwrap();
    let g = hex::encode(fresh.tip().hash);
    let err = fresh
        .disconnect(MetaDisconnectBlockInput { block_hash: g })
        .unwrap_err();
    assert!(err.to_string().contains("genesis"));
}

#[test]
fn foreign_or_corrupt_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("metachain.redb"),
        b"this is not a database at all",
    )
    .unwrap();
    let err = Engine::open(dir.path()).err().expect("must fail");
    assert!(
        err.to_string().contains("cannot open metachain database"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    {
        let db = redb::Database::create(dir.path().join("metachain.redb")).unwrap();
        let t: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("other");
        let w = db.begin_write().unwrap();
        w.open_table(t).unwrap().insert("x", &1).unwrap();
        w.commit().unwrap();
    }
    let err = Engine::open(dir.path()).err().expect("must fail");
    assert!(
        err.to_string().contains("not a metachain database"),
        "{err}"
    );
}

#[test]
fn a_payload_must_match_the_native_blocks_deposits_and_withdrawals() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let m = mint(
        &engine,
        1,
        vec![deposit(&addr(1), 10, "01"), deposit(&addr(2), 5, "02")],
    );
    let genuine = vec![deposit(&addr(1), 10, "01"), deposit(&addr(2), 5, "02")];
    let attempt = |txs: Vec<NativeTx>| {
        engine.connect(MetaConnectBlockInput {
            payload: m.payload.clone(),
            context: ctx(1),
            native_txs_hash: ain_rs::native_txs_hash(&txs).to_vec(),
        })
    };
    for wrong in [
        vec![],
        genuine[..1].to_vec(),
        vec![genuine[1].clone(), genuine[0].clone()],
        vec![deposit(&addr(1), 11, "01"), genuine[1].clone()],
    ] {
        let e = attempt(wrong).unwrap_err();
        assert!(
            e.to_string().contains("does not match the native block"),
            "{e}"
        );
        assert_eq!(engine.tip().number, 0);
    }
    assert!(attempt(genuine).is_ok());
}

#[test]
fn get_block_takes_only_a_hash_or_a_canonical_height() {
    use ain_rs::{ErrorCode, MetachainService};
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let m = advance(&engine, vec![deposit(&addr(1), 5, "t1")]);
    let tip = engine.tip();
    let get = |id: &str| {
        engine.meta_get_block(MetaGetBlockInput {
            block_id: id.to_string(),
        })
    };
    assert_eq!(get("1").unwrap().hash, m.block_hash);
    assert_eq!(get(&m.block_hash).unwrap().hash, m.block_hash);
    assert_eq!(
        get(&m.block_hash.to_uppercase()).unwrap().hash,
        m.block_hash
    );
    // Once read as block 1 or block 0; now refused, naming what is accepted.
    for id in [
        "+1",
        "01",
        "00",
        &"0".repeat(63),
        &"0".repeat(65),
        " 1",
        "1e0",
    ] {
        let e = get(id).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument, "{id:?}: {e:?}");
        assert!(
            e.message.contains("64 hex digits") && e.message.contains("decimal"),
            "{e:?}"
        );
    }
    // Well-formed but absent is NotFound, not InvalidArgument.
    assert_eq!(get("2").unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(get(&"0".repeat(64)).unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(engine.tip(), tip);
    engine.check_integrity().unwrap();
}
