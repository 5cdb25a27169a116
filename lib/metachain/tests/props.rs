//! Property tests over random blocks of deposits, transfers, withdrawals and
//! contract calls: balances and supply against an independent model, and
//! disconnect restoring every earlier state exactly.

mod common;

use ain_rs::types::*;
use alloy_primitives::{Address, U256};
use common::*;
use metachain::keys::{self, MetaKey};
use metachain::{Engine, EngineError};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

const KEYS: usize = 4;

fn cs(a: Address) -> String {
    keys::checksummed(&a)
}

fn keyring() -> Vec<MetaKey> {
    (1..=KEYS as u8).map(key).collect()
}

#[derive(Debug, Clone)]
enum Op {
    /// key, native units
    Deposit(usize, i64),
    /// from, to, wei
    Transfer(usize, usize, u64),
    /// key, native units, signed by the wrong key
    Withdraw(usize, i64, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..KEYS, 1..2_000_000i64).prop_map(|(k, a)| Op::Deposit(k, a)),
        (0..KEYS, 0..KEYS, 0..20_000_000_000_000_000u64)
            .prop_map(|(f, t, v)| Op::Transfer(f, t, v)),
        (0..KEYS, 1..2_000_000i64, prop::bool::weighted(0.2))
            .prop_map(|(k, a, bad)| Op::Withdraw(k, a, bad)),
    ]
}

/// What the chain should hold, computed without the engine.
#[derive(Default, Clone, Debug)]
struct Model {
    accounts: HashMap<Address, (U256, u64)>,
    deposited: U256,
    withdrawn: U256,
    burned: U256,
}

impl Model {
    fn balance(&self, a: &Address) -> U256 {
        self.accounts.get(a).map_or(U256::ZERO, |x| x.0)
    }
    fn nonce(&self, a: &Address) -> u64 {
        self.accounts.get(a).map_or(0, |x| x.1)
    }
    fn entry(&mut self, a: Address) -> &mut (U256, u64) {
        self.accounts.entry(a).or_default()
    }
}

/// At the floor base fee (1 gwei) with a 1 gwei tip: 2 gwei a gas.
const TRANSFER_GAS: u64 = 21_000;

fn max_cost(value: U256) -> U256 {
    U256::from(TRANSFER_GAS) * U256::from(MAX_FEE) + value
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn supply_and_balances_follow_an_independent_model(
        blocks in prop::collection::vec(prop::collection::vec(op(), 0..10), 1..6)
    ) {
        let keys = keyring();
        let coinbase = addr(0xcb);
        let (_dir, engine) = open();
        let mut model = Model::default();
        let mut payloads = Vec::new();
        // every key starts with 0.1 coin, so most transfers can run
        let funding: Vec<NativeTx> = keys.iter().map(|k| deposit(k.address(), 10_000_000)).collect();
        for k in &keys {
            model.entry(k.address()).0 += units(10_000_000);
            model.deposited += units(10_000_000);
        }
        payloads.push(mint_connect(&engine, funding, 1).payload);

        for (b, ops) in blocks.iter().enumerate() {
            let height = b as u64 + 2;
            let committed = model.clone();
            // a key that sends EVM txs in this block does not also withdraw
            // (the withdrawal would take the nonce first)
            let senders: HashSet<usize> = ops
                .iter()
                .filter_map(|o| match o {
                    Op::Transfer(f, ..) => Some(*f),
                    _ => None,
                })
                .collect();
            let mut native = Vec::new();
            let mut expect_refused = Vec::new();
            let mut withdrawing = HashSet::new();
            for o in ops {
                match *o {
                    Op::Deposit(k, units_) => {
                        let a = keys[k].address();
                        native.push(deposit(a, units_));
                        let wei = units(units_ as u64);
                        model.entry(a).0 += wei;
                        model.deposited += wei;
                    }
                    Op::Withdraw(k, units_, bad) => {
                        if senders.contains(&k) || !withdrawing.insert(k) {
                            continue;
                        }
                        let a = keys[k].address();
                        let n = model.nonce(&a);
                        let signer = if bad { &keys[(k + 1) % KEYS] } else { &keys[k] };
                        let sig = signer.sign_withdrawal(CHAIN_ID, NATIVE_TO, units_, n).unwrap();
                        let tx = withdrawal_signed(a, units_, n, sig.to_vec());
                        let wei = units(units_ as u64);
                        if bad || model.balance(&a) < wei {
                            expect_refused.push(tx.native_txid.clone());
                        } else {
                            let e = model.entry(a);
                            e.0 -= wei;
                            e.1 += 1;
                            model.withdrawn += wei;
                        }
                        native.push(tx);
                    }
                    Op::Transfer(..) => {}
                }
            }
            // EVM txs after every system tx; the pool checks the committed
            // state, execution the state the block has reached. Submitted
            // only when it runs whatever the order (incoming value ignored).
            let mut spent: HashMap<usize, U256> = HashMap::new();
            let mut sent: HashMap<usize, u64> = HashMap::new();
            let mut included = Vec::new();
            for o in ops {
                let Op::Transfer(f, t, v) = *o else { continue };
                let from = keys[f].address();
                let value = U256::from(v);
                let n = committed.nonce(&from) + sent.get(&f).copied().unwrap_or(0);
                let raw = transfer(&keys[f], n, keys[t].address(), value);
                let cost = max_cost(value);
                let spent_f = spent.get(&f).copied().unwrap_or_default();
                let before = engine.tip();
                if committed.balance(&from) < cost {
                    let err = engine.submit(&raw).unwrap_err();
                    prop_assert!(err.to_string().contains("insufficient funds"), "{}", err);
                    prop_assert_eq!(engine.tip(), before);
                } else if model.balance(&from) >= spent_f + cost {
                    engine.submit(&raw).unwrap();
                    *sent.entry(f).or_default() += 1;
                    let charged = U256::from(TRANSFER_GAS) * U256::from(2 * BASE_FEE) + value;
                    *spent.entry(f).or_default() += charged;
                    included.push((f, t, value, raw));
                }
            }
            let m = mint_by(&engine, native.clone(), height, coinbase);
            let refused: Vec<Vec<u8>> = m.refused.iter().map(|r| r.native_txid.clone()).collect();
            prop_assert_eq!(&refused, &expect_refused, "{:?}", m.refused);
            let block = decode_block(&m.payload);
            prop_assert_eq!(block.system_txs.len(), native.len() - expect_refused.len());
            prop_assert_eq!(block.transactions.len(), included.len());
            for (f, t, value, _) in &included {
                let fee = U256::from(TRANSFER_GAS) * U256::from(BASE_FEE);
                let e = model.entry(keys[*f].address());
                e.0 -= fee + fee + *value;
                e.1 += 1;
                model.entry(keys[*t].address()).0 += *value;
                model.entry(coinbase).0 += fee;
                model.burned += fee;
            }
            connect(&engine, &m.payload, height).unwrap();
            payloads.push(m.payload);

            for k in &keys {
                let a = k.address();
                prop_assert_eq!(balance(&engine, a), model.balance(&a), "{}", cs(a));
                prop_assert_eq!(nonce(&engine, a), model.nonce(&a), "{}", cs(a));
            }
            for (_, _, _, raw) in &included {
                let r = engine.receipt(&tx_hash(raw)).unwrap();
                prop_assert!(r.success && r.gas_used == TRANSFER_GAS);
            }
            prop_assert_eq!(balance(&engine, coinbase), model.balance(&coinbase));
            let total: U256 = model.accounts.values().map(|x| x.0).sum();
            prop_assert_eq!(supply(&engine), total);
            prop_assert_eq!(burned(&engine), model.burned);
            prop_assert_eq!(supply(&engine) + burned(&engine), model.deposited - model.withdrawn);
            prop_assert_eq!(engine.mempool_len(), 0);
            prop_assert_eq!(engine.tip_result().base_fee, BASE_FEE);
            engine.check_integrity().unwrap();
        }

        // replaying the payloads on a fresh engine gives identical tips
        let (_dir2, replay) = open();
        for (i, p) in payloads.iter().enumerate() {
            connect(&replay, p, i as u64 + 1).unwrap();
        }
        prop_assert_eq!(replay.tip(), engine.tip());
        replay.check_integrity().unwrap();
    }
}

#[derive(Debug, Clone)]
enum Act {
    Deposit(usize, i64),
    Transfer(usize, usize, u64),
    Withdraw(usize, i64),
    /// Deploy the store contract.
    Deploy(usize),
    /// Store a word through the nth deployed contract (a zero clears).
    Store(usize, usize, u8),
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        2 => (0..KEYS, 1..1_000_000i64).prop_map(|(k, a)| Act::Deposit(k, a)),
        2 => (0..KEYS, 0..KEYS, 0..1_000_000_000_000u64).prop_map(|(f, t, v)| Act::Transfer(f, t, v)),
        1 => (0..KEYS, 1..100_000i64).prop_map(|(k, a)| Act::Withdraw(k, a)),
        1 => (0..KEYS).prop_map(Act::Deploy),
        3 => (0..KEYS, 0..8usize, 0..3u8).prop_map(|(k, c, w)| Act::Store(k, c, w)),
    ]
}

/// Everything a block can change, for these addresses.
fn snapshot(e: &Engine, addrs: &[Address]) -> impl PartialEq + std::fmt::Debug {
    (
        e.tip(),
        e.tip_result(),
        addrs
            .iter()
            .map(|a| {
                let b = e.balance(&cs(*a)).unwrap();
                (
                    b.balance_wei,
                    b.nonce,
                    b.code_hash,
                    storage(e, *a, 0),
                    code(e, *a),
                )
            })
            .collect::<Vec<_>>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn disconnect_restores_every_earlier_state(
        blocks in prop::collection::vec(prop::collection::vec(act(), 0..8), 1..6)
    ) {
        let keys = keyring();
        let (_dir, engine) = open();
        // a funded start, so the acts do something
        mint_connect(&engine, keys.iter().map(|k| deposit(k.address(), 10_000_000)).collect(), 1);
        let mut contracts: Vec<Address> = Vec::new();
        let mut addrs: Vec<Address> = keys.iter().map(|k| k.address()).chain([addr(0xcb)]).collect();
        // (snapshot before, payload, hash, tx hashes) per block
        let mut history = Vec::new();

        for (b, acts) in blocks.iter().enumerate() {
            let height = b as u64 + 2;
            let mut native = Vec::new();
            for a in acts {
                let next_nonce = |k: usize| {
                    engine.balance(&cs(keys[k].address())).unwrap().pending_nonce
                };
                // refusals are fine here; they must change nothing
                let submitted = match *a {
                    Act::Deposit(k, u) => {
                        native.push(deposit(keys[k].address(), u));
                        Ok(Default::default())
                    }
                    Act::Withdraw(k, u) => {
                        let n = nonce(&engine, keys[k].address());
                        native.push(withdrawal(&keys[k], u, n));
                        Ok(Default::default())
                    }
                    Act::Transfer(f, t, v) => engine.submit(&transfer(
                        &keys[f],
                        next_nonce(f),
                        keys[t].address(),
                        U256::from(v),
                    )),
                    Act::Deploy(k) => {
                        let n = next_nonce(k);
                        let c = created(keys[k].address(), n);
                        contracts.push(c);
                        addrs.push(c);
                        engine.submit(&create(&keys[k], n, deploy(&store_runtime())))
                    }
                    Act::Store(k, c, w) if !contracts.is_empty() => {
                        let to = contracts[c % contracts.len()];
                        engine.submit(&call(&keys[k], next_nonce(k), to, word(U256::from(w))))
                    }
                    Act::Store(..) => Ok(Default::default()),
                };
                if let Err(e) = submitted {
                    prop_assert!(
                        matches!(e, EngineError::Invalid(_) | EngineError::Precondition(_)),
                        "{:?}",
                        e
                    );
                }
            }
            let before = snapshot(&engine, &addrs);
            let m = mint_connect_by(&engine, native, height, addr(0xcb));
            engine.check_integrity().unwrap();
            let block = decode_block(&m.payload);
            let hashes: Vec<String> = block
                .system_txs
                .iter()
                .map(system_hash)
                .chain(block.transactions.iter().map(|t| tx_hash(&t.raw)))
                .collect();
            for h in &hashes {
                prop_assert_eq!(engine.receipt(h).unwrap().block_number, height);
            }
            history.push((before, addrs.len(), m, hashes));
        }
        let end = snapshot(&engine, &addrs);
        let end_tip = engine.tip();

        // back to block 1, one block at a time
        for i in (0..history.len()).rev() {
            let (before, known, m, _) = &history[i];
            engine
                .disconnect(MetaDisconnectBlockInput { block_hash: m.block_hash.clone() })
                .unwrap();
            prop_assert_eq!(&snapshot(&engine, &addrs[..*known]), before);
            // contracts of later blocks are gone (their code stays stored,
            // but no account points at it)
            for a in &addrs[*known..] {
                let b = engine.balance(&cs(*a)).unwrap();
                prop_assert_eq!((b.balance_wei.as_str(), b.nonce), ("0", 0));
                prop_assert_eq!(code(&engine, *a), "0x");
                prop_assert_eq!(storage(&engine, *a, 0), U256::ZERO);
            }
            engine.check_integrity().unwrap();
            prop_assert!(matches!(
                engine.block(&(i as u64 + 2).to_string()),
                Err(EngineError::NotFound(_))
            ));
            for (j, (_, _, _, hashes)) in history.iter().enumerate() {
                for h in hashes {
                    let found = engine.receipt(h);
                    if j >= i {
                        prop_assert!(matches!(found, Err(EngineError::NotFound(_))), "{:?}", found);
                    } else {
                        prop_assert!(found.is_ok());
                    }
                }
            }
        }
        prop_assert_eq!(engine.tip().number, 1);

        // and forward again with the same payloads
        for (i, (_, _, m, _)) in history.iter().enumerate() {
            connect(&engine, &m.payload, i as u64 + 2).unwrap();
        }
        prop_assert_eq!(engine.tip(), end_tip);
        prop_assert_eq!(snapshot(&engine, &addrs), end);
        engine.check_integrity().unwrap();
    }
}
