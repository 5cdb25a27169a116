//! Property tests over random sequences of deposits, transfers and withdrawals.

mod common;

use ain_rs::types::*;
use common::*;
use metachain::tx::Key;
use metachain::Engine;
use proptest::prelude::*;

const KEYS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Deposit(usize, i64),
    Transfer(usize, usize, i64),
    Withdraw(usize, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..KEYS, 1..1_000i64).prop_map(|(k, a)| Op::Deposit(k, a)),
        (0..KEYS, 0..KEYS, 1..600i64).prop_map(|(f, t, a)| Op::Transfer(f, t, a)),
        (0..KEYS, 1..800i64).prop_map(|(k, a)| Op::Withdraw(k, a)),
    ]
}

/// What the chain should hold, computed independently of the engine.
#[derive(Default, Clone)]
struct Model {
    balance: [i64; KEYS],
    nonce: [u64; KEYS],
    deposited: i64,
    withdrawn: i64,
}

fn keys() -> Vec<Key> {
    (1..=KEYS as u8)
        .map(|i| Key::from_secret([i; 32]).unwrap())
        .collect()
}

fn snapshot(engine: &Engine, keys: &[Key]) -> (metachain::store::Tip, Vec<(i64, u64)>) {
    (
        engine.tip(),
        keys.iter().map(|k| balance(engine, &k.address())).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn supply_balances_undo_and_replay_agree(blocks in prop::collection::vec(prop::collection::vec(op(), 0..8), 1..6)) {
        let keys = keys();
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).unwrap();
        let mut model = Model::default();
        let mut payloads = Vec::new();

        for (b, ops) in blocks.iter().enumerate() {
            let height = b as u64 + 1;
            let committed = model.clone();
            let mut pending_count = [0u64; KEYS];
            let mut pending_spend = [0i64; KEYS];
            let mut native = Vec::new();
            let mut transfers = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                match *op {
                    Op::Deposit(k, a) => native.push((deposit(&keys[k].address(), a, &format!("{b}-{i}")), None)),
                    Op::Withdraw(k, a) if pending_count[k] == 0 => {
                        let w = keys[k].sign(TxKind::Withdraw, "bcrt1nativeto", a, committed.nonce[k]);
                        native.push((withdraw(&w, &format!("{b}-{i}")), Some((k, a))));
                    }
                    Op::Transfer(f, t, a) => {
                        let nonce = committed.nonce[f] + pending_count[f];
                        let tx = keys[f].sign(TxKind::Transfer, &keys[t].address(), a, nonce);
                        // The mempool checks the committed state only.
                        let admissible = committed.balance[f] - pending_spend[f] >= a;
                        let result = engine.submit(tx);
                        if admissible {
                            prop_assert!(result.is_ok(), "{result:?}");
                            pending_count[f] += 1;
                            pending_spend[f] += a;
                            transfers.push((f, t, a, nonce));
                        } else {
                            prop_assert!(result.is_err());
                        }
                    }
                    Op::Withdraw(..) => {}
                }
            }
            let m = mint(&engine, height, native.iter().map(|(n, _)| n.clone()).collect());
            // Native txs apply first, in order, then pooled transfers.
            let mut withdrawn_keys = Vec::new();
            for (n, w) in &native {
                let refused = m.refused.iter().find(|r| r.native_txid == n.native_txid);
                match w {
                    None => {
                        let k = keys.iter().position(|k| k.address() == n.to).unwrap();
                        model.balance[k] += n.amount;
                        model.deposited += n.amount;
                        prop_assert!(refused.is_none(), "{refused:?}");
                    }
                    Some((k, a)) => {
                        let ok = !withdrawn_keys.contains(k) && model.balance[*k] >= *a;
                        prop_assert_eq!(refused.is_none(), ok, "{:?}", refused);
                        if ok {
                            model.balance[*k] -= a;
                            model.nonce[*k] += 1;
                            model.withdrawn += a;
                            withdrawn_keys.push(*k);
                        }
                    }
                }
            }
            // Pooled transfers follow in (sender, nonce) order; one applies when
            // its nonce is the sender's current one and the balance covers it
            // (a withdrawal above may have taken a nonce). The rest are evicted.
            let mut ordered = transfers.clone();
            ordered.sort_by_key(|(f, _, _, n)| (keys[*f].address(), *n));
            for (f, t, a, n) in ordered {
                if n != model.nonce[f] || model.balance[f] < a {
                    continue;
                }
                model.balance[f] -= a;
                model.nonce[f] += 1;
                model.balance[t] += a;
            }

            // Connect, then disconnect restores the exact previous state, then reconnect.
            let before = snapshot(&engine, &keys);
            connect(&engine, height, &m.payload).unwrap();
            let after = snapshot(&engine, &keys);
            engine.disconnect(MetaDisconnectBlockInput { block_hash: m.block_hash.clone() }).unwrap();
            prop_assert_eq!(snapshot(&engine, &keys), before);
            connect(&engine, height, &m.payload).unwrap();
            prop_assert_eq!(snapshot(&engine, &keys), after);
            payloads.push(m.payload);

            let balances: Vec<i64> = keys.iter().map(|k| balance(&engine, &k.address()).0).collect();
            let nonces: Vec<u64> = keys.iter().map(|k| balance(&engine, &k.address()).1).collect();
            prop_assert_eq!(&balances[..], &model.balance[..]);
            prop_assert_eq!(&nonces[..], &model.nonce[..]);
            let sum: i64 = balances.iter().sum();
            prop_assert_eq!(engine.tip().supply, sum);
            prop_assert_eq!(sum, model.deposited - model.withdrawn);
            engine.check_integrity().unwrap();
            prop_assert_eq!(engine.mempool_len(), 0);
        }

        // Replaying the payloads on a fresh engine gives identical roots.
        let replay_dir = tempfile::tempdir().unwrap();
        let replay = Engine::open(replay_dir.path()).unwrap();
        for (i, p) in payloads.iter().enumerate() {
            connect(&replay, i as u64 + 1, p).unwrap();
        }
        prop_assert_eq!(replay.tip(), engine.tip());
    }
}
