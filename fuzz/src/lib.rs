//! What the fuzz targets run, in a library so that `cargo test` replays the
//! corpus through the same code and checks the seeds are current.
//!
//! Each target is a function here that panics when an invariant breaks; the
//! harness is deterministic (fixed keys, fixed native context), so the seed
//! payloads minted here connect on the chain every target starts from.

use ain_rs::jsonrpc::parse_params;
use ain_rs::types::*;
use ain_rs::MetachainService;
use jsonrpsee::types::Params;
use metachain::keys::{self, MetaKey};
use metachain::Engine;
use prost::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// Height of the block a fuzzed payload tries to be.
pub const NEXT_HEIGHT: u64 = 3;

/// The regtest chain id the harness's engines run.
pub const CHAIN_ID: u64 = 1132;

/// Native recipient of the harness's withdrawals.
pub const NATIVE_TO: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

/// The native context a block at `height` is minted for.
pub fn native_context(height: u64) -> NativeContext {
    NativeContext {
        height,
        time: 1_700_000_000 + height as i64,
    }
}

/// The account that sends EVM txs: a fixed key, so payloads are reproducible.
pub fn alice() -> MetaKey {
    MetaKey::from_secret(&[7; 32]).expect("a valid fixed secret")
}

/// The account that withdraws.
pub fn carol() -> MetaKey {
    MetaKey::from_secret(&[8; 32]).expect("a valid fixed secret")
}

pub fn bob() -> String {
    format!("0x{}", "09".repeat(20))
}

fn address(key: &MetaKey) -> String {
    keys::checksummed(&key.address())
}

/// A 32-byte native txid named by `tag`.
fn txid(tag: &str) -> Vec<u8> {
    keys::tx_hash(tag.as_bytes()).to_vec()
}

fn deposit(to: &str, amount: i64, tag: &str) -> NativeTx {
    NativeTx {
        kind: TxKind::Deposit as i32,
        from: "bcrt1qnative".into(),
        to: to.into(),
        amount,
        native_txid: txid(tag),
        ..Default::default()
    }
}

fn withdrawal(key: &MetaKey, amount: i64, nonce: u64, tag: &str) -> NativeTx {
    NativeTx {
        kind: TxKind::Withdraw as i32,
        from: address(key),
        to: NATIVE_TO.into(),
        amount,
        native_txid: txid(tag),
        nonce,
        signature: key
            .sign_withdrawal(CHAIN_ID, NATIVE_TO, amount, nonce)
            .expect("a positive amount")
            .to_vec(),
    }
}

/// A signed EIP-1559 transfer of `wei` from `key` to `to`.
fn transfer(key: &MetaKey, to: &str, wei: &str, nonce: u64) -> Vec<u8> {
    keys::sign_transfer(
        key,
        CHAIN_ID,
        nonce,
        keys::parse_address(to).expect("a valid address"),
        keys::parse_wei(wei).expect("a valid amount"),
        3_000_000_000,
        1_000_000_000,
        21_000,
    )
}

/// A signed EIP-1559 contract creation: a runtime that SSTOREs calldata word
/// 0 into slot 0 and LOG1s it.
fn create(key: &MetaKey, nonce: u64) -> Vec<u8> {
    let runtime = [
        0x60, 0x00, 0x35, 0x80, 0x60, 0x00, 0x55, 0x60, 0x00, 0x52, 0x60, 0x00, 0x35, 0x60, 0x20,
        0x60, 0x00, 0xa1, 0x00,
    ];
    let mut initcode = vec![
        0x60,
        runtime.len() as u8,
        0x80,
        0x60,
        11,
        0x60,
        0,
        0x39,
        0x60,
        0,
        0xf3,
    ];
    initcode.extend_from_slice(&runtime);
    key.sign_tx(alloy_consensus::TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: alloy_primitives::TxKind::Create,
        value: Default::default(),
        access_list: Default::default(),
        input: initcode.into(),
    })
}

/// What a node passes to ConnectBlock for `payload`: the native context and
/// deposit/withdraw hash the payload itself claims, so a fuzzed payload gets
/// past those checks to execution. Bytes that do not decode get block 3's.
pub fn connect_input(payload: &[u8]) -> MetaConnectBlockInput {
    let (context, txs) = match MetaBlock::decode(payload) {
        Ok(block) => {
            let ctx = block.header.as_ref().map_or_else(
                || native_context(NEXT_HEIGHT),
                |h| NativeContext {
                    height: h.native_height,
                    time: h.native_time,
                },
            );
            (ctx, block.system_txs)
        }
        Err(_) => (native_context(NEXT_HEIGHT), Vec::new()),
    };
    MetaConnectBlockInput {
        payload: payload.to_vec(),
        context: Some(context),
        native_txs_hash: ain_rs::native_txs_hash(&txs).to_vec(),
    }
}

/// A metachain of two blocks in a temp dir: deposits to alice, bob and
/// carol, then a transfer alice -> bob and a deposit to a fourth address.
/// Its mempool is empty.
pub struct Chain {
    pub engine: Engine,
    _dir: tempfile::TempDir,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    /// Builds the chain; a failure here is the harness's, not an input's.
    pub fn new() -> Chain {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::open(dir.path()).expect("open engine");
        let chain = Chain { engine, _dir: dir };
        let alice = alice();
        chain.advance(vec![
            deposit(&address(&alice), 100_000_000, "n1"),
            deposit(&bob(), 50, "n2"),
            deposit(&address(&carol()), 1_000, "n3"),
        ]);
        chain
            .engine
            .submit(&transfer(&alice, &bob(), "10", 0))
            .expect("submit a transfer");
        chain.advance(vec![deposit(&format!("0x{}", "03".repeat(20)), 5, "n4")]);
        assert_eq!(chain.engine.tip().number, NEXT_HEIGHT - 1);
        assert_eq!(chain.engine.mempool_len(), 0);
        chain
    }

    fn advance(&self, txs: Vec<NativeTx>) {
        let m = self.mint(txs);
        assert!(m.refused.is_empty(), "{:?}", m.refused);
        self.engine
            .connect(connect_input(&m.payload))
            .expect("connect the harness's block");
    }

    fn mint(&self, txs: Vec<NativeTx>) -> MetaMintBlockResult {
        let height = self.engine.tip().number + 1;
        self.engine
            .mint(MetaMintBlockInput {
                txs,
                context: Some(native_context(height)),
                beneficiary: bob(),
            })
            .expect("mint")
    }

    /// The stored payload of block `id`.
    fn payload(&self, id: &str) -> Vec<u8> {
        self.engine
            .block(id)
            .expect("a block of the harness")
            .block
            .expect("a stored block")
            .encode_to_vec()
    }
}

/// Real payloads for [`Chain`]: valid next blocks of several shapes, the tip
/// itself (idempotent connect) and a stale block. Named for the corpus.
pub fn seed_payloads() -> Vec<(&'static str, Vec<u8>)> {
    let alice = alice();
    let mut seeds = Vec::new();
    let chain = Chain::new();
    seeds.push(("tip", chain.payload(&(NEXT_HEIGHT - 1).to_string())));
    seeds.push(("stale", chain.payload("1")));
    seeds.push(("empty", chain.mint(vec![]).payload));
    seeds.push((
        "deposits",
        chain
            .mint(vec![
                deposit(&address(&alice), 7, "d1"),
                deposit(&format!("0x{}", "04".repeat(20)), 1, "d2"),
            ])
            .payload,
    ));
    seeds.push((
        "withdrawal",
        chain.mint(vec![withdrawal(&carol(), 25, 0, "w1")]).payload,
    ));
    // EVM txs are minted from the mempool; this chain is then spent.
    chain
        .engine
        .submit(&transfer(&alice, &bob(), "3", 1))
        .expect("submit a transfer");
    seeds.push((
        "mixed",
        chain
            .mint(vec![
                deposit(&bob(), 2, "d3"),
                withdrawal(&carol(), 4, 0, "w2"),
            ])
            .payload,
    ));
    chain
        .engine
        .submit(&create(&alice, 2))
        .expect("submit a contract creation");
    seeds.push(("contract", chain.mint(vec![]).payload));
    seeds
}

/// JSON-RPC params seeds: real inputs of every method, as clients send them.
pub fn seed_params() -> Vec<(&'static str, Vec<u8>)> {
    let chain = Chain::new();
    let alice = alice();
    let tip = chain.engine.tip();
    let next = seed_payloads()
        .into_iter()
        .find(|(name, _)| *name == "mixed")
        .map(|(_, p)| p)
        .unwrap_or_default();
    let first_tx = format!(
        "0x{}",
        hex_of(keys::tx_hash(&transfer(&alice, &bob(), "10", 0)).as_slice())
    );
    let json = |v: &dyn erased::Json| format!("[{}]", v.json());
    vec![
        ("empty_array", b"[]".to_vec()),
        ("empty_object", b"{}".to_vec()),
        (
            "mint",
            json(&MetaMintBlockInput {
                txs: vec![
                    deposit(&address(&alice), 7, "d1"),
                    withdrawal(&carol(), 25, 0, "w1"),
                ],
                context: Some(native_context(NEXT_HEIGHT)),
                beneficiary: bob(),
            })
            .into_bytes(),
        ),
        ("connect", json(&connect_input(&next)).into_bytes()),
        (
            "disconnect",
            json(&MetaDisconnectBlockInput {
                block_hash: hex_of(&tip.hash),
            })
            .into_bytes(),
        ),
        (
            "get_block_hash",
            json(&MetaGetBlockInput {
                block_id: hex_of(&tip.hash),
            })
            .into_bytes(),
        ),
        (
            "get_block_height",
            json(&MetaGetBlockInput {
                block_id: "1".into(),
            })
            .into_bytes(),
        ),
        (
            "get_balance",
            json(&MetaGetBalanceInput {
                address: address(&alice),
            })
            .into_bytes(),
        ),
        (
            "send_transaction",
            json(&MetaSendTransactionInput {
                raw: transfer(&alice, &bob(), "3", 1),
            })
            .into_bytes(),
        ),
        (
            "get_receipt",
            json(&MetaGetReceiptInput { tx_hash: first_tx }).into_bytes(),
        ),
        (
            "get_storage_at",
            json(&MetaGetStorageAtInput {
                address: address(&alice),
                slot: "0x0".into(),
            })
            .into_bytes(),
        ),
        (
            "get_code",
            json(&MetaGetCodeInput { address: bob() }).into_bytes(),
        ),
        (
            "by_name",
            format!(r#"{{"blockId":"{}"}}"#, NEXT_HEIGHT - 1).into_bytes(),
        ),
    ]
}

/// JSON-RPC HTTP body seeds: a call, a notification, a batch, named params.
pub fn seed_envelopes() -> Vec<(&'static str, Vec<u8>)> {
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"meta_getBlock","params":[{"blockId":"1"}]}"#;
    let named = r#"{"jsonrpc":"2.0","id":"a","method":"meta_getBalance","params":{"address":"x"}}"#;
    let notification = r#"{"jsonrpc":"2.0","method":"meta_getTip"}"#;
    vec![
        ("call", call.into()),
        ("named", named.into()),
        ("notification", notification.into()),
        (
            "batch",
            format!("[{call},{notification},{named},1]").into_bytes(),
        ),
    ]
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serializing the seeds' different input types through one list.
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).expect("an input message serializes")
        }
    }
}

/// Target `payload_connect`: `data` as a payload on `chain`. A rejected
/// payload leaves the tip, mempool and stored state as they were; a valid
/// next block (a seed is one) connects, disconnects back to exactly the old
/// tip, and the chain is rebuilt so that every run starts from the same state.
pub fn payload_connect(chain: &mut Chain, data: &[u8]) {
    let engine = &chain.engine;
    let before = engine.tip();
    let pool = engine.mempool_len();
    match engine.connect(connect_input(data)) {
        Err(_) => {
            assert_eq!(engine.tip(), before, "a rejected payload moved the tip");
            assert_eq!(
                engine.mempool_len(),
                pool,
                "a rejected payload changed the mempool"
            );
        }
        Ok(r) if engine.tip() == before => {
            assert_eq!(r.number, before.number, "an idempotent connect is the tip");
        }
        Ok(r) => {
            assert_eq!(r.number, before.number + 1);
            engine
                .disconnect(MetaDisconnectBlockInput {
                    block_hash: r.block_hash,
                })
                .expect("disconnect the block just connected");
            assert_eq!(engine.tip(), before, "disconnect restores the parent");
            engine
                .check_integrity()
                .expect("integrity after disconnect");
            // Its transfers went back to the mempool: start clean.
            *chain = Chain::new();
        }
    }
}

/// Parses `text` as params of `T`; when that works, the value must serialize
/// and parse back to itself.
fn parse_round_trip<T>(text: &str) -> Option<T>
where
    T: DeserializeOwned + Serialize + Default + PartialEq + Debug,
{
    let parsed: T = parse_params(Params::new(Some(text))).ok()?;
    let json = serde_json::to_string(&parsed).expect("a parsed input serializes");
    let again: T = parse_params(Params::new(Some(&format!("[{json}]"))))
        .unwrap_or_else(|e| panic!("{json} does not parse back: {e:?}"));
    assert_eq!(again, parsed, "round trip through {json}");
    Some(parsed)
}

/// Target `jsonrpc_params`: `data` as the params of every method. Whatever
/// parses is served by the engine as the JSON-RPC server would; no call may
/// panic, and a failed call changes nothing.
pub fn jsonrpc_params(chain: &mut Chain, data: &[u8]) {
    // jsonrpsee hands methods only UTF-8 (it refuses other bodies).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let engine = &chain.engine;
    let before = engine.tip();
    let pool = engine.mempool_len();
    let mut changed = false;
    let mut settle = |what: &str, ok: bool| {
        if ok {
            // Only a valid signed transfer, or a disconnect of the tip, can
            // change the chain; start again from the same state then.
            changed |= engine.tip() != before || engine.mempool_len() != pool;
        } else {
            assert_eq!(engine.tip(), before, "a failed {what} moved the tip");
            assert_eq!(
                engine.mempool_len(),
                pool,
                "a failed {what} changed the mempool"
            );
        }
    };
    if let Some(input) = parse_round_trip::<MetaMintBlockInput>(text) {
        let ok = engine.meta_mint_block(input).is_ok();
        assert_eq!(engine.tip(), before, "mint never commits");
        settle("mint", ok);
    }
    if let Some(input) = parse_round_trip::<MetaConnectBlockInput>(text) {
        let ok = engine.meta_connect_block(input).is_ok();
        settle("connect", ok);
    }
    if let Some(input) = parse_round_trip::<MetaDisconnectBlockInput>(text) {
        let ok = engine.meta_disconnect_block(input).is_ok();
        settle("disconnect", ok);
    }
    if let Some(input) = parse_round_trip::<MetaGetBlockInput>(text) {
        let ok = engine.meta_get_block(input).is_ok();
        settle("get block", ok);
    }
    if let Some(input) = parse_round_trip::<MetaGetBalanceInput>(text) {
        let ok = engine.meta_get_balance(input).is_ok();
        settle("get balance", ok);
    }
    if let Some(input) = parse_round_trip::<MetaSendTransactionInput>(text) {
        let ok = engine.meta_send_transaction(input).is_ok();
        settle("send transaction", ok);
    }
    if let Some(input) = parse_round_trip::<MetaGetReceiptInput>(text) {
        let ok = engine.meta_get_receipt(input).is_ok();
        settle("get receipt", ok);
    }
    if let Some(input) = parse_round_trip::<MetaGetStorageAtInput>(text) {
        let ok = engine.meta_get_storage_at(input).is_ok();
        settle("get storage", ok);
    }
    if let Some(input) = parse_round_trip::<MetaGetCodeInput>(text) {
        let ok = engine.meta_get_code(input).is_ok();
        settle("get code", ok);
    }
    if let Some(input) = parse_round_trip::<MetaGetTipInput>(text) {
        assert!(engine.meta_get_tip(input).is_ok());
    }
    if let Some(input) = parse_round_trip::<MetaGetStatusInput>(text) {
        assert!(engine.meta_get_status(input).is_ok());
    }
    if let Some(input) = parse_round_trip::<MetaGetVersionInput>(text) {
        assert!(engine.meta_get_version(input).is_ok());
    }
    parse_round_trip::<MetaSubscribeNewHeadsInput>(text);
    if changed {
        *chain = Chain::new();
    }
}

fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// What jsonrpsee makes of one request object that the envelope let through.
fn agrees_with_jsonrpsee(raw: &str, entry: &metachaind::envelope::Entry) {
    use jsonrpsee::types::{Notification, Request};
    use metachaind::envelope::Entry;
    use serde_json::value::RawValue;
    let call = serde_json::from_str::<Request>(raw);
    let notification = serde_json::from_str::<Notification<Option<&RawValue>>>(raw);
    match entry {
        Entry::Call => assert!(call.is_ok(), "jsonrpsee refuses a call: {raw}"),
        Entry::Notification => assert!(
            call.is_err() && notification.is_ok(),
            "jsonrpsee reads a notification otherwise: {raw}"
        ),
        Entry::Invalid { .. } => {}
    }
}

/// Target `jsonrpc_envelope`: `data` as an HTTP body through metachaind's
/// envelope check. It accepts exactly the JSON serde_json accepts, less what
/// nests deeper than its limit, and what it forwards as a call or a
/// notification jsonrpsee reads as one.
pub fn jsonrpc_envelope(data: &[u8]) {
    use metachaind::envelope::{classify, Verdict, MAX_DEPTH};
    let verdict = classify(data);
    let value = serde_json::from_slice::<serde_json::Value>(data);
    match (&verdict, &value) {
        (Verdict::ParseError(_), Err(_)) => return,
        (Verdict::ParseError(e), Ok(v)) => {
            assert!(depth(v) > MAX_DEPTH, "refused valid JSON: {e}");
            return;
        }
        (_, Err(e)) => panic!("accepted what serde_json refuses ({e}): {verdict:?}"),
        (_, Ok(v)) => assert!(depth(v) <= MAX_DEPTH, "accepted nesting of {}", depth(v)),
    }
    let Ok(text) = std::str::from_utf8(data) else {
        panic!("accepted invalid UTF-8");
    };
    match verdict {
        Verdict::Single(entry) => agrees_with_jsonrpsee(text, &entry),
        Verdict::Batch(entries) => {
            let raws: Vec<&serde_json::value::RawValue> =
                serde_json::from_str(text).expect("a batch is an array");
            assert_eq!(raws.len(), entries.len());
            for (raw, entry) in raws.iter().zip(&entries) {
                agrees_with_jsonrpsee(raw.get(), entry);
            }
        }
        Verdict::NotARequest => assert!(
            !matches!(
                value,
                Ok(serde_json::Value::Object(_) | serde_json::Value::Array(_))
            ),
            "an object or array is a request or a batch"
        ),
        Verdict::ParseError(_) => {}
    }
}
