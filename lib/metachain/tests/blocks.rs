//! Blocks end to end: system txs (deposits 0x7e, EIP-712 withdrawals 0x7f),
//! EVM txs and their receipts, fees, the block environment, connect's
//! checks, replay and the chain id of a database.

mod common;

use ain_rs::types::*;
use alloy_primitives::{keccak256, Address, Bloom, BloomInput, B256, U256};
use alloy_rlp::{Encodable, Header};
use common::*;
use metachain::keys;
use metachain::{Engine, EngineError, EngineOptions};

fn cs(a: Address) -> String {
    keys::checksummed(&a)
}

/// Everything a failed connect must leave as it was.
fn snapshot(e: &Engine, addrs: &[Address]) -> impl PartialEq + std::fmt::Debug {
    (
        e.tip(),
        e.tip_result(),
        e.mempool_len(),
        addrs
            .iter()
            .map(|a| (e.balance(&cs(*a)).unwrap(), storage(e, *a, 0), code(e, *a)))
            .collect::<Vec<_>>(),
    )
}

#[test]
fn deposit_mints_units_times_1e10_wei_with_a_0x7e_receipt() {
    let (_d, e) = open();
    let to = addr(1);
    let d = deposit(to, 150);
    let m = mint_connect(&e, vec![d.clone()], 1);
    assert!(m.refused.is_empty());
    // the block hash is keccak256 of the payload
    assert_eq!(m.block_hash, hex::encode(keccak256(&m.payload)));
    assert_eq!(e.tip_result().hash, m.block_hash);
    assert_eq!(balance(&e, to), U256::from(1_500_000_000_000u64));
    assert_eq!(supply(&e), units(150));
    assert_eq!(burned(&e), U256::ZERO);
    assert_eq!(nonce(&e, to), 0);

    // 0x7e || rlp([native_txid, to, value_wei]), built here by hand
    let mut fields = Vec::new();
    B256::from_slice(&d.native_txid).encode(&mut fields);
    to.encode(&mut fields);
    units(150).encode(&mut fields);
    let mut encoding = vec![0x7e];
    Header {
        list: true,
        payload_length: fields.len(),
    }
    .encode(&mut encoding);
    encoding.extend_from_slice(&fields);
    let hash = keccak256(&encoding).to_string();
    assert_eq!(system_hash(&d), hash);

    let r = e.receipt(&hash).unwrap();
    assert_eq!(
        r,
        MetaGetReceiptResult {
            tx_hash: hash.clone(),
            block_hash: format!("0x{}", m.block_hash),
            block_number: 1,
            index: 0,
            tx_type: 0x7e,
            from: cs(Address::ZERO),
            to: cs(to),
            contract_address: String::new(),
            success: true,
            gas_used: 0,
            cumulative_gas_used: 0,
            effective_gas_price: 0,
            logs: vec![],
            native_txid: d.native_txid.clone(),
            error: String::new(),
        }
    );

    let got = e.block("1").unwrap();
    assert_eq!(got.hash, m.block_hash);
    assert_eq!(e.block(&m.block_hash).unwrap(), got);
    let block = got.block.unwrap();
    assert_eq!(block.system_txs, vec![d]);
    assert!(block.transactions.is_empty());
    let h = block.header.unwrap();
    assert_eq!(
        (h.number, h.native_height, h.native_time),
        (1, 1, ctx(1).time)
    );
    assert_eq!(
        (h.gas_used, h.gas_limit, h.base_fee),
        (0, 30_000_000, BASE_FEE)
    );
    assert_eq!(h.beneficiary, vec![0; 20]);
    assert_eq!(h.logs_bloom, vec![0; 256]);
    assert_eq!(
        h.parent_hash,
        hex::decode(e.block("0").unwrap().hash).unwrap()
    );
    let tx_root = alloy_trie::root::ordered_trie_root_with_encoder(&[encoding], |t, out| {
        alloy_rlp::BufMut::put_slice(out, t)
    });
    assert_eq!(h.tx_root, tx_root.to_vec());
    assert_eq!(
        h.state_root,
        hex::decode(e.tip_result().state_root).unwrap()
    );
    e.check_integrity().unwrap();
}

#[test]
fn malformed_native_txs_are_refused_in_mint_and_left_out() {
    let (_d, e) = open();
    let good = deposit(addr(1), 5);
    let mut zero = deposit(addr(1), 0);
    zero.native_txid = fresh_txid();
    let negative = deposit(addr(1), -5);
    let mut bech32 = deposit(addr(1), 5);
    bech32.to = "dmc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq".into();
    let mut bad_checksum = deposit(addr(1), 5);
    bad_checksum.to = "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into();
    let mut short_id = deposit(addr(1), 5);
    short_id.native_txid = vec![1; 31];
    let mut unknown = deposit(addr(1), 5);
    unknown.kind = TxKind_::Unspecified as i32;
    let mut no_to = withdrawal(&key(1), 5, 0);
    no_to.to = String::new();
    let input = vec![
        zero.clone(),
        good.clone(),
        negative.clone(),
        bech32.clone(),
        bad_checksum.clone(),
        short_id.clone(),
        unknown.clone(),
        no_to.clone(),
    ];
    let m = mint_connect(&e, input, 1);
    let refused: Vec<(Vec<u8>, &str)> = m
        .refused
        .iter()
        .map(|r| (r.native_txid.clone(), r.reason.as_str()))
        .collect();
    let expect = [
        (&zero, "amount must be positive, got 0"),
        (&negative, "amount must be positive, got -5"),
        (&bech32, "deposit recipient: invalid meta address"),
        (&bad_checksum, "bad EIP-55 checksum"),
        (&short_id, "native txid must be 32 bytes, got 31"),
        (&unknown, "unknown native tx kind 0"),
        (&no_to, "withdrawal without a native recipient"),
    ];
    assert_eq!(refused.len(), expect.len(), "{refused:?}");
    for ((id, reason), (tx, want)) in refused.iter().zip(expect) {
        assert_eq!(id, &tx.native_txid);
        assert!(reason.contains(want), "{reason} vs {want}");
    }
    assert_eq!(decode_block(&m.payload).system_txs, vec![good]);
    assert_eq!(balance(&e, addr(1)), units(5));
}

#[test]
fn withdrawal_burns_and_consumes_the_nonce() {
    let (_d, e) = open();
    let k = key(7);
    let from = k.address();
    mint_connect(&e, vec![deposit(from, 1000)], 1);
    let w = withdrawal(&k, 300, 0);
    let m = mint_connect(&e, vec![w.clone()], 2);
    assert!(m.refused.is_empty(), "{:?}", m.refused);
    assert_eq!(balance(&e, from), units(700));
    assert_eq!(nonce(&e, from), 1);
    assert_eq!(supply(&e), units(700));
    assert_eq!(burned(&e), U256::ZERO);
    let r = e.receipt(&system_hash(&w)).unwrap();
    assert_eq!((r.tx_type, r.success, r.gas_used), (0x7f, true, 0));
    assert_eq!((r.from.as_str(), r.to.as_str()), (&*cs(from), ""));
    assert_eq!(r.native_txid, w.native_txid);
    assert_eq!(r.block_number, 2);

    // a v of 0/1 is accepted as well as 27/28
    let mut w01 = withdrawal(&k, 100, 1);
    w01.signature[64] -= 27;
    // the same signed withdrawal again, under another native txid: nonce used
    let mut replay = w.clone();
    replay.native_txid = fresh_txid();
    // key 8 signs the right message: from's withdrawal
    let by_other = {
        let hash = keys::withdrawal_signing_hash(CHAIN_ID, from, NATIVE_TO, 10, 2).unwrap();
        let sig = key(8).sign_hash(&hash);
        let mut raw = sig.r().to_be_bytes::<32>().to_vec();
        raw.extend_from_slice(&sig.s().to_be_bytes::<32>());
        raw.push(27 + u8::from(sig.v()));
        withdrawal_signed(from, 10, 2, raw)
    };
    // key 8 signs its own withdrawal, put forward as from's
    let own = {
        let sig = key(8).sign_withdrawal(CHAIN_ID, NATIVE_TO, 10, 2).unwrap();
        withdrawal_signed(from, 10, 2, sig.to_vec())
    };
    let other_chain = {
        let sig = k.sign_withdrawal(1131, NATIVE_TO, 10, 2).unwrap();
        withdrawal_signed(from, 10, 2, sig.to_vec())
    };
    let garbage = withdrawal_signed(from, 10, 2, vec![0; 65]);
    let short = withdrawal_signed(from, 10, 2, vec![1; 64]);
    let wrong_nonce = withdrawal(&k, 10, 5);
    let too_much = withdrawal(&k, 601, 2);
    let nobody = withdrawal(&key(9), 1, 0);
    let exact = withdrawal(&k, 600, 2);
    let after_all = withdrawal(&k, 1, 3);
    let input = vec![
        w01.clone(),
        replay.clone(),
        by_other.clone(),
        own.clone(),
        other_chain.clone(),
        garbage.clone(),
        short.clone(),
        wrong_nonce.clone(),
        too_much.clone(),
        nobody.clone(),
        exact.clone(),
        after_all.clone(),
    ];
    let m = mint_connect(&e, input, 3);
    let expect = [
        (&replay, "bad nonce: got 0, account nonce is 2".to_string()),
        (
            &by_other,
            format!(
                "withdrawal signature is by {}, not {}",
                cs(key(8).address()),
                cs(from)
            ),
        ),
        (&own, "withdrawal signature is by".into()),
        (&other_chain, "withdrawal signature is by".into()),
        (
            &garbage,
            "bad withdrawal signature: bad signature: r out of range".into(),
        ),
        (
            &short,
            "bad withdrawal signature: bad signature: 64 bytes, expected 65".into(),
        ),
        (&wrong_nonce, "bad nonce: got 5, account nonce is 2".into()),
        (
            &too_much,
            format!(
                "insufficient meta balance: {} wei < {} wei",
                units(600),
                units(601)
            ),
        ),
        (
            &nobody,
            format!(
                "insufficient meta balance: {} has nothing",
                cs(key(9).address())
            ),
        ),
        (&after_all, "insufficient meta balance: 0 wei".into()),
    ];
    assert_eq!(m.refused.len(), expect.len(), "{:?}", m.refused);
    for (r, (tx, want)) in m.refused.iter().zip(expect) {
        assert_eq!(r.native_txid, tx.native_txid);
        assert!(r.reason.contains(&want), "{} vs {want}", r.reason);
    }
    assert_eq!(decode_block(&m.payload).system_txs, vec![w01, exact]);
    // the account is empty again (EIP-161): balance 0 but nonce 3 keeps it
    assert_eq!(balance(&e, from), U256::ZERO);
    assert_eq!(nonce(&e, from), 3);
    assert_eq!(supply(&e), U256::ZERO);
    e.check_integrity().unwrap();
}

#[test]
fn an_invalid_withdrawal_makes_a_payload_invalid() {
    let (_d, e) = open();
    let k = key(7);
    mint_connect(&e, vec![deposit(k.address(), 1000)], 1);
    let m = mint(&e, vec![withdrawal(&k, 100, 0)], 2);
    assert!(m.refused.is_empty());
    let before = snapshot(&e, &[k.address()]);
    type Edit = Box<dyn Fn(&mut NativeTx)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|w| w.signature[10] ^= 1),
            "system tx 0 is invalid: ",
        ),
        (
            Box::new(|w| w.signature = vec![0; 65]),
            "system tx 0 is invalid: bad withdrawal signature: bad signature: r out of range",
        ),
        (
            Box::new(|w| w.amount += 1),
            "system tx 0 is invalid: withdrawal signature is by",
        ),
        (
            Box::new(|w| {
                w.nonce = 1;
                w.signature = key(7)
                    .sign_withdrawal(CHAIN_ID, NATIVE_TO, 100, 1)
                    .unwrap()
                    .to_vec();
            }),
            "system tx 0 is invalid: bad nonce: got 1, account nonce is 0",
        ),
        (
            Box::new(|w| {
                w.amount = 1001;
                w.signature = key(7)
                    .sign_withdrawal(CHAIN_ID, NATIVE_TO, 1001, 0)
                    .unwrap()
                    .to_vec();
            }),
            "system tx 0 is invalid: insufficient meta balance",
        ),
        (
            Box::new(|w| w.amount = 0),
            "system tx 0: amount must be positive",
        ),
    ];
    for (edit, want) in cases {
        let mut block = decode_block(&m.payload);
        edit(&mut block.system_txs[0]);
        let err = connect(&e, &encode_block(&block), 2).unwrap_err();
        assert!(matches!(err, EngineError::Invalid(_)), "{err:?}");
        assert!(err.to_string().contains(want), "{err} vs {want}");
        assert_eq!(snapshot(&e, &[k.address()]), before);
    }
    e.check_integrity().unwrap();
    connect(&e, &m.payload, 2).unwrap();
    assert_eq!(balance(&e, k.address()), units(900));
}

#[test]
fn evm_transfer_burns_the_base_fee_and_pays_the_tip_to_the_beneficiary() {
    let (_d, e) = open();
    let k = key(1);
    let coin = U256::from(10u64).pow(U256::from(18));
    mint_connect(&e, vec![deposit(k.address(), 100_000_000)], 1);
    assert_eq!(balance(&e, k.address()), coin);
    let raw = transfer(&k, 0, addr(2), U256::from(12_345));
    let hash = e.submit(&raw).unwrap();
    assert_eq!(hash.to_string(), tx_hash(&raw));
    assert!(matches!(
        e.receipt(&tx_hash(&raw)),
        Err(EngineError::NotFound(_))
    ));
    assert_eq!(e.mempool_len(), 1);
    assert_eq!(e.balance(&cs(k.address())).unwrap().pending_nonce, 1);

    let coinbase = addr(0xcb);
    let m = mint_connect_by(&e, vec![], 2, coinbase);
    assert_eq!(decode_block(&m.payload).transactions[0].raw, raw);
    let r = e.receipt(&tx_hash(&raw)).unwrap();
    assert_eq!(
        r,
        MetaGetReceiptResult {
            tx_hash: tx_hash(&raw),
            block_hash: format!("0x{}", m.block_hash),
            block_number: 2,
            index: 0,
            tx_type: 2,
            from: cs(k.address()),
            to: cs(addr(2)),
            contract_address: String::new(),
            success: true,
            gas_used: 21_000,
            cumulative_gas_used: 21_000,
            effective_gas_price: 2_000_000_000,
            logs: vec![],
            native_txid: vec![],
            error: String::new(),
        }
    );
    let gas = U256::from(21_000u64);
    let base = U256::from(BASE_FEE);
    assert_eq!(balance(&e, addr(2)), U256::from(12_345));
    assert_eq!(
        balance(&e, k.address()),
        coin - U256::from(12_345) - gas * U256::from(2 * BASE_FEE)
    );
    assert_eq!(balance(&e, coinbase), gas * U256::from(TIP));
    assert_eq!(burned(&e), gas * base);
    assert_eq!(supply(&e) + burned(&e), coin);
    assert_eq!(nonce(&e, k.address()), 1);
    let tip = e.tip_result();
    assert_eq!(
        (tip.gas_used, tip.base_fee, tip.next_base_fee),
        (21_000, BASE_FEE, BASE_FEE)
    );
    let h = decode_block(&m.payload).header.unwrap();
    assert_eq!(h.beneficiary, coinbase.to_vec());
    assert_eq!(h.gas_used, 21_000);
    assert_eq!(e.mempool_len(), 0);
    e.check_integrity().unwrap();
}

#[test]
fn contract_create_call_and_revert_receipts() {
    let (_d, e) = open();
    let k = key(1);
    let coin = U256::from(10u64).pow(U256::from(18));
    mint_connect(&e, vec![deposit(k.address(), 100_000_000)], 1);
    let store = created(k.address(), 0);
    let reverter = created(k.address(), 1);
    let raws = vec![
        create(&k, 0, deploy(&store_runtime())),
        create_legacy(&k, 1, deploy(&revert_runtime())),
        create(&k, 2, reverting_initcode()),
        call(&k, 3, store, word(U256::from(0x2a))),
        call(&k, 4, reverter, vec![]),
    ];
    for raw in &raws {
        e.submit(raw).unwrap();
    }
    let coinbase = addr(0xcb);
    let m = mint_connect_by(&e, vec![], 2, coinbase);
    let block = decode_block(&m.payload);
    let included: Vec<&Vec<u8>> = block.transactions.iter().map(|t| &t.raw).collect();
    assert_eq!(included, raws.iter().collect::<Vec<_>>());
    let rs: Vec<MetaGetReceiptResult> = raws
        .iter()
        .map(|raw| e.receipt(&tx_hash(raw)).unwrap())
        .collect();
    for (i, r) in rs.iter().enumerate() {
        assert_eq!((r.index, r.block_number), (i as u64, 2));
        assert_eq!(r.from, cs(k.address()));
        assert_eq!(r.effective_gas_price, 2_000_000_000);
    }
    // create: no `to`, the new address
    assert_eq!((rs[0].tx_type, rs[0].success), (2, true));
    assert_eq!(
        (rs[0].to.as_str(), rs[0].contract_address.as_str()),
        ("", &*cs(store))
    );
    assert!(rs[0].gas_used > 53_000 && rs[0].gas_used < 300_000);
    assert_eq!((rs[1].tx_type, rs[1].success), (0, true));
    assert_eq!(rs[1].contract_address, cs(reverter));
    // a reverting initcode: included, failed, nothing deployed
    assert_eq!(
        (
            rs[2].success,
            rs[2].error.as_str(),
            rs[2].contract_address.as_str()
        ),
        (false, "revert", "")
    );
    assert_eq!(code(&e, created(k.address(), 2)), "0x");
    // the call stores and logs its word
    assert!(rs[3].success);
    assert_eq!(rs[3].to, cs(store));
    assert_eq!(
        rs[3].logs,
        vec![MetaLog {
            address: cs(store),
            topics: vec![hex_word(U256::from(0x2a))],
            data: hex_word(U256::from(0x2a)),
            // the block's first log
            log_index: 0,
        }]
    );
    assert_eq!(storage(&e, store, 0), U256::from(0x2a));
    // a revert with a reason
    assert_eq!(
        (rs[4].success, rs[4].error.as_str()),
        (false, "revert: nope")
    );
    assert!(rs[4].logs.is_empty());
    assert!(rs[4].gas_used > 21_000 && rs[4].gas_used < 200_000);

    let mut cumulative = 0;
    for r in &rs {
        cumulative += r.gas_used;
        assert_eq!(r.cumulative_gas_used, cumulative);
    }
    let h = block.header.unwrap();
    assert_eq!(h.gas_used, cumulative);
    assert_eq!(e.tip_result().gas_used, cumulative);
    let bloom = Bloom::from_slice(&h.logs_bloom);
    assert!(bloom.contains_input(BloomInput::Raw(store.as_slice())));
    assert!(bloom.contains_input(BloomInput::Raw(&word(U256::from(0x2a)))));
    assert!(!bloom.contains_input(BloomInput::Raw(reverter.as_slice())));
    let tx_root = alloy_trie::root::ordered_trie_root_with_encoder(&raws, |t, out| {
        alloy_rlp::BufMut::put_slice(out, t)
    });
    assert_eq!(h.tx_root, tx_root.to_vec());

    assert_eq!(
        code(&e, store),
        format!("0x{}", hex::encode(store_runtime()))
    );
    assert_eq!(
        code(&e, reverter),
        format!("0x{}", hex::encode(revert_runtime()))
    );
    let b = e.balance(&cs(store)).unwrap();
    assert_eq!(b.code_hash, keccak256(store_runtime()).to_string());
    assert_eq!(b.nonce, 1); // EIP-161: a new contract starts at nonce 1
    assert_eq!(
        e.balance(&cs(k.address())).unwrap().code_hash,
        keccak256([]).to_string()
    );
    // fees: the sender paid 2 gwei a gas, 1 went to the beneficiary, 1 burned
    let gas = U256::from(cumulative);
    assert_eq!(nonce(&e, k.address()), 5);
    assert_eq!(
        balance(&e, k.address()),
        coin - gas * U256::from(2 * BASE_FEE)
    );
    assert_eq!(balance(&e, coinbase), gas * U256::from(BASE_FEE));
    assert_eq!(burned(&e), gas * U256::from(BASE_FEE));
    assert_eq!(supply(&e) + burned(&e), coin);
    e.check_integrity().unwrap();

    // storing 0 clears the slot; it is gone from the state
    e.submit(&call(&k, 5, store, word(U256::ZERO))).unwrap();
    mint_connect(&e, vec![], 3);
    assert_eq!(storage(&e, store, 0), U256::ZERO);
    e.check_integrity().unwrap();
}

#[test]
fn number_timestamp_coinbase_and_blockhash_are_the_metachain_s() {
    let (_d, e) = open();
    let k = key(1);
    mint_connect(&e, vec![deposit(k.address(), 100_000_000)], 1);
    let env = created(k.address(), 0);
    e.submit(&create(&k, 0, deploy(&env_runtime()))).unwrap();
    let m2 = mint_connect(&e, vec![], 2);
    let env_call = call_gas(&k, 1, env, vec![], 500_000);
    e.submit(&env_call).unwrap();
    let coinbase = addr(0xcb);
    mint_connect_by(&e, vec![], 3, coinbase);
    let as_u256 = |b: &[u8]| U256::from_be_slice(b);
    let block2 = hex::decode(&m2.block_hash).unwrap();
    assert_eq!(storage(&e, env, 0), U256::from(3));
    assert_eq!(storage(&e, env, 1), U256::from(ctx(3).time));
    assert_eq!(storage(&e, env, 2), as_u256(coinbase.as_slice()));
    assert_eq!(storage(&e, env, 3), as_u256(&block2));
    assert_eq!(storage(&e, env, 4), U256::from(BASE_FEE));
    assert_eq!(storage(&e, env, 5), U256::from(CHAIN_ID));
    // PREVRANDAO is the parent hash
    assert_eq!(storage(&e, env, 6), as_u256(&block2));
    assert_eq!(storage(&e, env, 7), U256::from(30_000_000));
    assert_eq!(storage(&e, env, 8), U256::ZERO);
    assert!(e.receipt(&tx_hash(&env_call)).unwrap().success);
}

#[test]
fn a_heavy_block_raises_the_base_fee_and_a_halt_uses_all_its_gas() {
    let (_d, e) = open();
    let (a, b) = (key(1), key(2));
    mint_connect(
        &e,
        vec![
            deposit(a.address(), 100_000_000),
            deposit(b.address(), 100_000_000),
        ],
        1,
    );
    let burner = created(a.address(), 0);
    e.submit(&create(&a, 0, deploy(&burner_runtime()))).unwrap();
    mint_connect(&e, vec![], 2);
    let burned_at_2 = burned(&e);
    let heavy = |k: &keys::MetaKey, nonce| {
        k.sign_tx(eip1559(
            nonce,
            alloy_primitives::TxKind::Call(burner),
            vec![],
            20_000_000,
        ))
    };
    let (h1, h2) = (heavy(&a, 1), heavy(&b, 0));
    e.submit(&h1).unwrap();
    e.submit(&h2).unwrap();
    // only one fits in the 30M gas limit; the other waits
    let m3 = mint_connect(&e, vec![], 3);
    assert_eq!(decode_block(&m3.payload).transactions.len(), 1);
    assert_eq!(e.mempool_len(), 1);
    let r = e.receipt(&tx_hash(&h1)).unwrap();
    assert!(!r.success);
    assert!(r.error.starts_with("halt: OutOfGas"), "{}", r.error);
    assert_eq!(r.gas_used, 20_000_000);
    // 20M used of a 15M target: +1/8 * 5/15
    let next = BASE_FEE + BASE_FEE * 5 / 15 / 8;
    assert_eq!(next, 1_041_666_666);
    let tip = e.tip_result();
    assert_eq!((tip.gas_used, tip.next_base_fee), (20_000_000, next));
    assert_eq!(
        burned(&e) - burned_at_2,
        U256::from(20_000_000u64) * U256::from(BASE_FEE)
    );

    let burned_before = burned(&e);
    let m4 = mint_connect(&e, vec![], 4);
    let h = decode_block(&m4.payload).header.unwrap();
    assert_eq!(h.base_fee, next);
    let r = e.receipt(&tx_hash(&h2)).unwrap();
    assert_eq!(r.block_number, 4);
    // min(max fee, base fee + tip)
    assert_eq!(r.effective_gas_price, next + TIP as u64);
    assert_eq!(
        burned(&e) - burned_before,
        U256::from(20_000_000u64) * U256::from(next)
    );
    // 20M again: up once more
    assert!(e.tip_result().next_base_fee > next);
    // an empty block brings it down, never below the floor
    mint_connect(&e, vec![], 5);
    mint_connect(&e, vec![], 6);
    assert!(e.tip_result().next_base_fee < next);
    for h in 7..12 {
        mint_connect(&e, vec![], h);
    }
    assert_eq!(e.tip_result().next_base_fee, BASE_FEE);
    let total = U256::from(200_000_000u64) * units(1);
    assert_eq!(supply(&e) + burned(&e), total);
    e.check_integrity().unwrap();
}

#[test]
fn connecting_the_tip_again_is_a_no_op() {
    let (_d, e) = open();
    let k = key(1);
    let m1 = mint_connect(&e, vec![deposit(k.address(), 100_000_000)], 1);
    let before = snapshot(&e, &[k.address()]);
    for _ in 0..3 {
        let again = connect(&e, &m1.payload, 1).unwrap();
        assert_eq!(
            (again.block_hash.as_str(), again.number),
            (&*m1.block_hash, 1)
        );
        assert_eq!(snapshot(&e, &[k.address()]), before);
    }
    e.submit(&transfer(&k, 0, addr(2), U256::from(1))).unwrap();
    mint_connect(&e, vec![], 2);
    // no longer the tip: its parent is not the tip
    let err = connect(&e, &m1.payload, 1).unwrap_err();
    assert!(matches!(err, EngineError::Precondition(_)), "{err:?}");
    assert_eq!(e.tip().number, 2);
}

/// A block 2 candidate with a deposit, a transfer, a contract and a call
/// with a log, minted with a beneficiary.
fn candidate() -> (tempfile::TempDir, Engine, MetaMintBlockResult, Vec<Address>) {
    let (d, e) = open();
    let k = key(1);
    mint_connect(&e, vec![deposit(k.address(), 100_000_000)], 1);
    let store = created(k.address(), 1);
    e.submit(&transfer(&k, 0, addr(2), U256::from(5))).unwrap();
    e.submit(&create(&k, 1, deploy(&store_runtime()))).unwrap();
    e.submit(&call(&k, 2, store, word(U256::from(7)))).unwrap();
    let m = mint_by(&e, vec![deposit(addr(3), 9)], 2, addr(0xcb));
    assert_eq!(decode_block(&m.payload).transactions.len(), 3);
    (
        d,
        e,
        m,
        vec![k.address(), addr(2), addr(3), addr(0xcb), store],
    )
}

#[test]
fn tampered_payloads_are_refused_and_change_nothing() {
    let (_d, e, m, addrs) = candidate();
    let before = snapshot(&e, &addrs);
    type Edit = Box<dyn Fn(&mut MetaBlock)>;
    fn hdr(b: &mut MetaBlock) -> &mut MetaBlockHeader {
        b.header.as_mut().unwrap()
    }
    let cases: Vec<(&str, Edit)> = vec![
        ("tx root mismatch", Box::new(|b| hdr(b).tx_root[0] ^= 1)),
        (
            "state root mismatch",
            Box::new(|b| hdr(b).state_root[31] ^= 1),
        ),
        (
            "receipts root mismatch",
            Box::new(|b| hdr(b).receipts_root[5] ^= 0x80),
        ),
        (
            "logs bloom mismatch",
            Box::new(|b| hdr(b).logs_bloom[0] ^= 1),
        ),
        ("gas used mismatch", Box::new(|b| hdr(b).gas_used += 1)),
        ("gas used mismatch", Box::new(|b| hdr(b).gas_used -= 1)),
        (
            "the chain requires 30000000 and 1000000000",
            Box::new(|b| hdr(b).base_fee += 1),
        ),
        (
            "the chain requires 30000000",
            Box::new(|b| hdr(b).gas_limit -= 1),
        ),
        (
            "beneficiary has 19 bytes, not 20",
            Box::new(|b| {
                hdr(b).beneficiary.pop();
            }),
        ),
        (
            "beneficiary has 0 bytes, not 20",
            Box::new(|b| hdr(b).beneficiary.clear()),
        ),
        // another beneficiary is paid the tips: another state
        (
            "state root mismatch",
            Box::new(|b| hdr(b).beneficiary = addr(0xcc).to_vec()),
        ),
        ("is not the tip", Box::new(|b| hdr(b).parent_hash[0] ^= 1)),
        ("does not follow tip 1", Box::new(|b| hdr(b).number = 3)),
        (
            "block was minted for native height",
            Box::new(|b| hdr(b).native_time += 1),
        ),
        (
            "block was minted for native height 3",
            Box::new(|b| hdr(b).native_height = 3),
        ),
        ("no header", Box::new(|b| b.header = None)),
        (
            "tx 0 is invalid",
            Box::new(|b| {
                let raw = &mut b.transactions[0].raw;
                let last = raw.len() - 1;
                raw[last] ^= 1;
            }),
        ),
        (
            "tx 2 is invalid: malformed tx",
            Box::new(|b| {
                b.transactions[2].raw.pop();
            }),
        ),
        // the contract call before the contract exists: another outcome
        (
            "tx 1 is invalid: nonce 2 too high",
            Box::new(|b| b.transactions.swap(1, 2)),
        ),
        (
            "tx 0 is invalid: nonce 1 too high, expected 0",
            Box::new(|b| {
                b.transactions.remove(0);
            }),
        ),
        (
            "mismatch",
            Box::new(|b| {
                b.transactions.pop();
            }),
        ),
        (
            "tx 3 is invalid: malformed tx: empty",
            Box::new(|b| b.transactions.push(EvmTx { raw: vec![] })),
        ),
        (
            "mismatch",
            Box::new(|b| b.system_txs.push(deposit(addr(4), 1))),
        ),
        (
            "mismatch",
            Box::new(|b| {
                b.system_txs.clear();
            }),
        ),
        ("mismatch", Box::new(|b| b.system_txs[0].amount += 1)),
        ("mismatch", Box::new(|b| b.system_txs[0].to = cs(addr(4)))),
    ];
    for (want, edit) in cases {
        let mut block = decode_block(&m.payload);
        edit(&mut block);
        let err = connect(&e, &encode_block(&block), 2).unwrap_err();
        assert!(err.to_string().contains(want), "{err} vs {want}");
        assert_eq!(snapshot(&e, &addrs), before, "{want}");
    }

    // the input around the payload
    let system = decode_block(&m.payload).system_txs;
    let err = e
        .connect(MetaConnectBlockInput {
            payload: m.payload.clone(),
            context: Some(ctx(2)),
            native_txs_hash: vec![0; 32],
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("payload does not match the native block"),
        "{err}"
    );
    let err = e
        .connect(MetaConnectBlockInput {
            payload: m.payload.clone(),
            context: None,
            native_txs_hash: ain_rs::native_txs_hash(&system).to_vec(),
        })
        .unwrap_err();
    assert!(err.to_string().contains("missing native context"), "{err}");
    let err = connect(&e, &m.payload, 3).unwrap_err();
    assert!(err.to_string().contains("connected at height 3"), "{err}");
    let err = connect(&e, b"\xff\xff garbage", 2).unwrap_err();
    assert!(err.to_string().contains("corrupt payload"), "{err}");
    // an unknown field (6, varint 0) decodes to the same block: non-canonical
    let mut extra = m.payload.clone();
    extra.extend_from_slice(&[0x30, 0x00]);
    let err = connect(&e, &extra, 2).unwrap_err();
    assert!(err.to_string().contains("non-canonical"), "{err}");
    assert_eq!(snapshot(&e, &addrs), before);
    e.check_integrity().unwrap();

    let c = connect(&e, &m.payload, 2).unwrap();
    assert_eq!(c.block_hash, m.block_hash);
    assert_eq!(storage(&e, addrs[4], 0), U256::from(7));
    e.check_integrity().unwrap();
}

#[test]
fn two_engines_replaying_the_same_payloads_agree() {
    let (_d, a) = open();
    let (_d2, b) = open();
    let k = key(1);
    let store = created(k.address(), 0);
    let mut payloads = Vec::new();
    payloads.push(mint_connect(&a, vec![deposit(k.address(), 100_000_000)], 1));
    a.submit(&create(&k, 0, deploy(&store_runtime()))).unwrap();
    a.submit(&transfer(&k, 1, addr(2), U256::from(99))).unwrap();
    payloads.push(mint_connect_by(
        &a,
        vec![deposit(addr(3), 4)],
        2,
        addr(0xcb),
    ));
    a.submit(&call(&k, 2, store, word(U256::from(1)))).unwrap();
    payloads.push(mint_connect(&a, vec![], 3));
    let mut raws = Vec::new();
    for (i, m) in payloads.iter().enumerate() {
        let c = connect(&b, &m.payload, i as u64 + 1).unwrap();
        assert_eq!(c.block_hash, m.block_hash);
        let block = decode_block(&m.payload);
        raws.extend(block.transactions.into_iter().map(|t| t.raw));
    }
    assert_eq!(a.tip(), b.tip());
    assert_eq!(a.tip_result(), b.tip_result());
    assert_eq!(raws.len(), 3);
    for raw in &raws {
        assert_eq!(
            a.receipt(&tx_hash(raw)).unwrap(),
            b.receipt(&tx_hash(raw)).unwrap()
        );
    }
    for n in 0..=3 {
        assert_eq!(
            a.block(&n.to_string()).unwrap(),
            b.block(&n.to_string()).unwrap()
        );
    }
    for x in [k.address(), store, addr(2), addr(3), addr(0xcb)] {
        assert_eq!(a.balance(&cs(x)).unwrap(), b.balance(&cs(x)).unwrap());
        assert_eq!(code(&a, x), code(&b, x));
        assert_eq!(storage(&a, x, 0), storage(&b, x, 0));
    }
    // minting is deterministic
    assert_eq!(mint(&a, vec![], 4), mint(&a, vec![], 4));
    // blocks minted by b (with its own pool) connect on a, and back. The
    // withdrawal takes nonce 3 and the pooled call at nonce 4 follows it in
    // the same block.
    let raw = call(&k, 4, store, word(U256::from(2)));
    b.submit(&raw).unwrap();
    let m = mint_connect_by(
        &b,
        vec![deposit(addr(5), 1), withdrawal(&k, 50, 3)],
        4,
        addr(0xcc),
    );
    assert!(m.refused.is_empty(), "{:?}", m.refused);
    assert_eq!(decode_block(&m.payload).transactions[0].raw, raw);
    connect(&a, &m.payload, 4).unwrap();
    assert_eq!(a.tip(), b.tip());
    assert_eq!(a.receipt(&tx_hash(&raw)).unwrap().block_number, 4);
    let m = mint_connect_by(&b, vec![], 5, addr(0xcc));
    assert!(decode_block(&m.payload).transactions.is_empty());
    connect(&a, &m.payload, 5).unwrap();
    assert_eq!(a.tip(), b.tip());
    let m = mint_connect(&a, vec![deposit(addr(6), 1)], 6);
    connect(&b, &m.payload, 6).unwrap();
    assert_eq!(a.tip(), b.tip());
    assert_eq!(storage(&a, store, 0), U256::from(2));
    a.check_integrity().unwrap();
    b.check_integrity().unwrap();
}

#[test]
fn disconnect_restores_the_parent_and_returns_txs_to_the_pool() {
    let (_d, e, m, addrs) = candidate();
    let before = snapshot(&e, &addrs);
    let pooled = e.mempool_len();
    assert_eq!(pooled, 3);
    connect(&e, &m.payload, 2).unwrap();
    assert_eq!(e.mempool_len(), 0);
    let block = decode_block(&m.payload);
    let hashes: Vec<String> = block
        .transactions
        .iter()
        .map(|t| tx_hash(&t.raw))
        .chain(block.system_txs.iter().map(system_hash))
        .collect();
    for h in &hashes {
        assert!(e.receipt(h).is_ok());
    }
    let err = e
        .disconnect(MetaDisconnectBlockInput {
            block_hash: "00".repeat(32),
        })
        .unwrap_err();
    assert!(matches!(err, EngineError::Precondition(_)), "{err:?}");
    let d = e
        .disconnect(MetaDisconnectBlockInput {
            block_hash: m.block_hash.clone(),
        })
        .unwrap();
    assert_eq!(d.number, 1);
    assert_eq!(d.tip_hash, e.tip_result().hash);
    assert_eq!(snapshot(&e, &addrs), before);
    for h in &hashes {
        assert!(matches!(e.receipt(h), Err(EngineError::NotFound(_))));
    }
    assert!(matches!(e.block("2"), Err(EngineError::NotFound(_))));
    assert!(matches!(
        e.block(&m.block_hash),
        Err(EngineError::NotFound(_))
    ));
    e.check_integrity().unwrap();
    // the same block can be minted and connected again
    let again = mint_by(&e, block.system_txs.clone(), 2, addr(0xcb));
    assert_eq!(again.payload, m.payload);
    connect(&e, &again.payload, 2).unwrap();
    e.disconnect(MetaDisconnectBlockInput {
        block_hash: m.block_hash.clone(),
    })
    .unwrap();
    let genesis = e.tip_result().hash;
    e.disconnect(MetaDisconnectBlockInput {
        block_hash: genesis.clone(),
    })
    .unwrap();
    assert_eq!(e.tip().number, 0);
    // the pool keeps the txs whose sender has no funds any more? No: they
    // cannot pay, so they are dropped.
    assert_eq!(e.mempool_len(), 0);
    let err = e
        .disconnect(MetaDisconnectBlockInput {
            block_hash: e.tip_result().hash,
        })
        .unwrap_err();
    assert!(err.to_string().contains("genesis"), "{err}");
    e.check_integrity().unwrap();
}

#[test]
fn a_database_of_another_chain_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let main = metachain::chain::params("main").unwrap();
    let with = |chain| EngineOptions {
        chain,
        ..Default::default()
    };
    {
        let e = Engine::open_with(dir.path(), with(main)).unwrap();
        assert_eq!(e.tip_result().chain_id, 1130);
        assert_eq!(e.chain().chain_id, 1130);
        let k = key(1);
        mint_connect(&e, vec![deposit(k.address(), 100_000_000)], 1);
        // regtest's txs and withdrawals are not main's
        let err = e
            .submit(&transfer(&k, 0, addr(2), U256::from(1)))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "wrong chain id: got 1132, this chain is 1130"
        );
        let m = mint(&e, vec![withdrawal(&k, 1, 0)], 2);
        assert_eq!(m.refused.len(), 1);
        assert!(m.refused[0].reason.contains("signature is by"));
        let raw = keys::sign_transfer(&k, 1130, 0, addr(2), U256::from(1), MAX_FEE, TIP, 21_000);
        e.submit(&raw).unwrap();
    }
    for (open, want) in [
        (
            Engine::open(dir.path()),
            "chain id 1130, not 1132 (regtest)",
        ),
        (
            Engine::open_with(dir.path(), with(metachain::chain::params("test").unwrap())),
            "chain id 1130, not 1131 (testnet)",
        ),
    ] {
        let err = open.err().expect("opened a database of another chain");
        assert!(matches!(err, EngineError::Open { .. }), "{err:?}");
        assert!(err.to_string().contains(want), "{err}");
    }
    let e = Engine::open_with(dir.path(), with(main)).unwrap();
    assert_eq!(e.tip().number, 1);
    assert_eq!(e.mempool_len(), 1);
    e.check_integrity().unwrap();
}

#[test]
fn a_file_that_is_not_a_metachain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = redb::Database::create(dir.path().join("metachain.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        let t: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("other");
        txn.open_table(t).unwrap().insert(1, 2).unwrap();
        txn.commit().unwrap();
    }
    let err = Engine::open(dir.path()).err().unwrap();
    assert!(
        err.to_string().contains("not a metachain database"),
        "{err}"
    );
    std::fs::write(dir.path().join("metachain.redb"), b"not redb at all").unwrap();
    assert!(Engine::open(dir.path()).is_err());
}

#[test]
fn queries_refuse_bad_arguments_clearly() {
    let (_d, e) = open();
    let genesis = e.block("0").unwrap();
    assert_eq!(genesis.hash, e.tip_result().hash);
    let h = genesis.block.unwrap().header.unwrap();
    assert_eq!(
        (h.number, h.base_fee, h.gas_limit),
        (0, BASE_FEE, 30_000_000)
    );
    assert!(matches!(e.block("1"), Err(EngineError::NotFound(_))));
    assert!(matches!(e.block("x"), Err(EngineError::Invalid(_))));
    for bad in [
        "",
        "0x12",
        &"0".repeat(66),
        &format!("0x{}", "zz".repeat(32)),
    ] {
        assert!(
            matches!(e.receipt(bad), Err(EngineError::Invalid(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        e.receipt(&format!("0x{}", "00".repeat(32))),
        Err(EngineError::NotFound(_))
    ));
    let a = cs(addr(1));
    for bad in ["", "0x", "zz", &format!("0x{}", "1".repeat(65))] {
        assert!(
            matches!(e.storage_at(&a, bad), Err(EngineError::Invalid(_))),
            "{bad}"
        );
    }
    assert_eq!(e.storage_at(&a, "0x1").unwrap().value, hex_word(U256::ZERO));
    assert_eq!(
        e.storage_at(&a, &format!("0x{}", "f".repeat(64)))
            .unwrap()
            .value,
        hex_word(U256::ZERO)
    );
    for bad in [
        "dmc1qqqq",
        "0x1234",
        "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    ] {
        assert!(matches!(e.balance(bad), Err(EngineError::Invalid(_))));
        assert!(matches!(e.code(bad), Err(EngineError::Invalid(_))));
        assert!(matches!(
            e.storage_at(bad, "0x0"),
            Err(EngineError::Invalid(_))
        ));
    }
    let b = e.balance(&a.to_lowercase()).unwrap();
    assert_eq!(
        (
            b.address.as_str(),
            b.balance_wei.as_str(),
            b.nonce,
            b.pending_nonce
        ),
        (&*a, "0", 0, 0)
    );
    assert_eq!(b.code_hash, keccak256([]).to_string());
    assert_eq!(e.code(&a).unwrap().code, "0x");
    let err = e
        .mint(MetaMintBlockInput {
            txs: vec![],
            context: Some(ctx(1)),
            beneficiary: "dmc1nope".into(),
        })
        .unwrap_err();
    assert!(err
        .to_string()
        .starts_with("beneficiary: invalid meta address"));
    let err = e
        .mint(MetaMintBlockInput {
            txs: vec![],
            context: Some(NativeContext {
                height: 1,
                time: -1,
            }),
            beneficiary: String::new(),
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("native time -1 is negative"),
        "{err}"
    );
}

#[test]
fn head_events_follow_connects_and_disconnects() {
    let (_d, e) = open();
    let mut rx = e.subscribe_heads();
    assert_eq!(e.head_subscribers(), 1);
    let m1 = mint_connect(&e, vec![deposit(addr(1), 3)], 1);
    e.disconnect(MetaDisconnectBlockInput {
        block_hash: m1.block_hash.clone(),
    })
    .unwrap();
    let c = rx.try_recv().unwrap();
    assert_eq!(
        (c.kind, c.number, c.hash.as_str()),
        (HeadEventKind::Connected as i32, 1, &*m1.block_hash)
    );
    assert_eq!(c.supply_wei, units(3).to_string());
    let d = rx.try_recv().unwrap();
    assert_eq!(
        (d.kind, d.number, d.hash.as_str(), d.supply_wei.as_str()),
        (HeadEventKind::Disconnected as i32, 1, &*m1.block_hash, "0")
    );
    assert_eq!(d.state_root, e.tip_result().state_root);
    drop(rx);
    assert_eq!(e.head_subscribers(), 0);
}
