//! On-disk layout in one redb file. Every block is committed with its state
//! changes, receipts, undo data and the new tip in one write transaction.

use crate::error::EngineError;
use alloy_primitives::{Address, B256, U256};
use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use revm::primitives::KECCAK_EMPTY;
use std::path::{Path, PathBuf};

pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Block hash -> payload.
pub const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blocks");
/// Block number -> hash, for the active chain.
pub const NUMBERS: TableDefinition<u64, &[u8]> = TableDefinition::new("numbers");
/// Address (20 bytes) -> [`Acct::encode`].
pub const ACCOUNTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("accounts");
/// Address (20) || slot (32) -> value (32), non-zero values only.
pub const STORAGE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("storage");
/// Code hash -> bytecode.
pub const CODE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("code");
/// Tx hash -> encoded `MetaGetReceiptResult`, for every tx on the active chain.
pub const RECEIPTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("receipts");
/// Block number -> [`Undo`].
pub const UNDO: TableDefinition<u64, &[u8]> = TableDefinition::new("undo");
/// Block number -> [`BlockLogs`], for blocks of the active chain that logged.
pub const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
/// Tx hash -> raw tx, for every tx in the pool, so a restart gets them back.
pub const MEMPOOL: TableDefinition<&[u8], &[u8]> = TableDefinition::new("mempool");

const FORMAT_KEY: &str = "format";
const FORMAT: &[u8] = b"dmc-metachain-evm-1";
const TIP_KEY: &str = "tip";

/// Balance, nonce and code of an account. `None` in the state means empty
/// (EIP-161: nonce 0, balance 0, no code), which is never stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acct {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
}

impl Acct {
    pub const ENCODED_LEN: usize = 8 + 32 + 32;

    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && self.code_hash == KECCAK_EMPTY
    }

    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..8].copy_from_slice(&self.nonce.to_be_bytes());
        out[8..40].copy_from_slice(&self.balance.to_be_bytes::<32>());
        out[40..].copy_from_slice(self.code_hash.as_slice());
        out
    }

    pub fn decode(b: &[u8]) -> Option<Acct> {
        if b.len() != Self::ENCODED_LEN {
            return None;
        }
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&b[..8]);
        Some(Acct {
            nonce: u64::from_be_bytes(nonce),
            balance: U256::from_be_slice(&b[8..40]),
            code_hash: B256::from_slice(&b[40..]),
        })
    }
}

/// The committed tip, stored under `meta/tip` and cached in memory.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Tip {
    #[prost(uint64, tag = "1")]
    pub number: u64,
    #[prost(bytes = "vec", tag = "2")]
    pub hash: Vec<u8>,
    /// blake3 of `lthash`.
    #[prost(bytes = "vec", tag = "3")]
    pub state_root: Vec<u8>,
    /// The LtHash accumulator (2048 bytes).
    #[prost(bytes = "vec", tag = "4")]
    pub lthash: Vec<u8>,
    /// U256 big-endian.
    #[prost(bytes = "vec", tag = "5")]
    pub supply_wei: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    pub burned_wei: Vec<u8>,
    #[prost(uint64, tag = "7")]
    pub base_fee: u64,
    #[prost(uint64, tag = "8")]
    pub gas_used: u64,
    #[prost(uint64, tag = "9")]
    pub gas_limit: u64,
    #[prost(uint64, tag = "10")]
    pub chain_id: u64,
}

impl Tip {
    pub fn hash(&self) -> B256 {
        b256(&self.hash)
    }
    pub fn supply(&self) -> U256 {
        U256::from_be_slice(&self.supply_wei)
    }
    pub fn burned(&self) -> U256 {
        U256::from_be_slice(&self.burned_wei)
    }
}

/// 32 bytes as a B256; anything else (only from a corrupt file) as zero.
pub fn b256(b: &[u8]) -> B256 {
    if b.len() == 32 {
        B256::from_slice(b)
    } else {
        B256::ZERO
    }
}

/// What a block overwrote, to roll it back.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Undo {
    #[prost(message, repeated, tag = "1")]
    pub accounts: Vec<UndoAccount>,
    #[prost(message, repeated, tag = "2")]
    pub slots: Vec<UndoSlot>,
    #[prost(message, optional, tag = "3")]
    pub prev_tip: Option<Tip>,
    /// Hashes of the block's txs (system and EVM), whose receipts go.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub tx_hashes: Vec<Vec<u8>>,
}

/// Every log of a block, in block order (a log's index is its position).
#[derive(Clone, PartialEq, prost::Message)]
pub struct BlockLogs {
    #[prost(bytes = "vec", tag = "1")]
    pub block_hash: Vec<u8>,
    #[prost(message, repeated, tag = "2")]
    pub logs: Vec<StoredLog>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredLog {
    #[prost(bytes = "vec", tag = "1")]
    pub tx_hash: Vec<u8>,
    #[prost(uint64, tag = "2")]
    pub tx_index: u64,
    #[prost(bytes = "vec", tag = "3")]
    pub address: Vec<u8>,
    /// 32 bytes each.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub topics: Vec<Vec<u8>>,
    #[prost(bytes = "vec", tag = "5")]
    pub data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UndoAccount {
    #[prost(bytes = "vec", tag = "1")]
    pub address: Vec<u8>,
    /// [`Acct::encode`], empty when the account did not exist.
    #[prost(bytes = "vec", tag = "2")]
    pub before: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UndoSlot {
    #[prost(bytes = "vec", tag = "1")]
    pub address: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub key: Vec<u8>,
    /// 32 bytes; zero when the slot was empty.
    #[prost(bytes = "vec", tag = "3")]
    pub before: Vec<u8>,
}

/// Opens or creates the database file in `dir`. Returns it with the stored tip,
/// or `None` when the file is new.
pub fn open(dir: &Path) -> Result<(Database, Option<Tip>), EngineError> {
    let path: PathBuf = dir.join("metachain.redb");
    let open_err = |cause: String| EngineError::Open {
        path: path.display().to_string(),
        cause,
    };
    std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
    let db = Database::create(&path).map_err(|e| open_err(e.to_string()))?;
    let read = db.begin_read().map_err(|e| open_err(e.to_string()))?;
    let names: Vec<String> = read
        .list_tables()
        .map_err(|e| open_err(e.to_string()))?
        .map(|t| t.name().to_string())
        .collect();
    if names.is_empty() {
        return Ok((db, None));
    }
    let foreign = || open_err("not a metachain database of this version (unknown format)".into());
    if !names.iter().any(|n| n == META.name()) {
        return Err(foreign());
    }
    let meta = read.open_table(META).map_err(|e| open_err(e.to_string()))?;
    let format = meta.get(FORMAT_KEY).map_err(|e| open_err(e.to_string()))?;
    if format.as_ref().map(|f| f.value()) != Some(FORMAT) {
        return Err(foreign());
    }
    let tip = meta
        .get(TIP_KEY)
        .map_err(|e| open_err(e.to_string()))?
        .ok_or_else(|| open_err("database has no tip".into()))?;
    let tip = Tip::decode(tip.value()).map_err(|e| open_err(format!("corrupt tip: {e}")))?;
    drop(meta);
    drop(read);
    Ok((db, Some(tip)))
}

/// Writes the format marker and the tip.
pub fn put_tip(txn: &redb::WriteTransaction, tip: &Tip) -> Result<(), redb::Error> {
    let mut meta = txn.open_table(META)?;
    meta.insert(FORMAT_KEY, FORMAT)?;
    meta.insert(TIP_KEY, tip.encode_to_vec().as_slice())?;
    Ok(())
}

pub fn slot_key(address: &Address, key: &U256) -> [u8; 52] {
    let mut k = [0u8; 52];
    k[..20].copy_from_slice(address.as_slice());
    k[20..].copy_from_slice(&key.to_be_bytes::<32>());
    k
}

/// Read access to the committed state, through any redb transaction.
pub struct StateReader<A, S, C, N> {
    pub accounts: A,
    pub storage: S,
    pub code: C,
    pub numbers: N,
    /// Values as they were at an earlier block, read before the tables.
    pub past: PastState,
}

/// The accounts and slots that blocks after an earlier block changed, with
/// their values at that block: the committed state rolled back in memory
/// from the undo data.
#[derive(Default)]
pub struct PastState {
    accounts: std::collections::HashMap<Address, Option<Acct>>,
    slots: std::collections::HashMap<(Address, U256), U256>,
}

impl PastState {
    /// Rolls back one more block (the lowest so far): its before-values win.
    fn undo(&mut self, undo: &Undo) -> Result<(), EngineError> {
        for u in &undo.accounts {
            let a =
                address20(&u.address).ok_or_else(|| EngineError::Corrupt("undo account".into()))?;
            let before = if u.before.is_empty() {
                None
            } else {
                Some(
                    Acct::decode(&u.before)
                        .ok_or_else(|| EngineError::Corrupt(format!("undo of {a}")))?,
                )
            };
            self.accounts.insert(a, before);
        }
        for s in &undo.slots {
            let a =
                address20(&s.address).ok_or_else(|| EngineError::Corrupt("undo slot".into()))?;
            if s.key.len() != 32 || s.before.len() != 32 {
                return Err(EngineError::Corrupt(format!("undo slot of {a}")));
            }
            self.slots.insert(
                (a, U256::from_be_slice(&s.key)),
                U256::from_be_slice(&s.before),
            );
        }
        Ok(())
    }
}

fn address20(b: &[u8]) -> Option<Address> {
    <[u8; 20]>::try_from(b).ok().map(Address::from)
}

type Bytes = alloy_primitives::Bytes;

impl<A, S, C, N> StateReader<A, S, C, N>
where
    A: ReadableTable<&'static [u8], &'static [u8]>,
    S: ReadableTable<&'static [u8], &'static [u8]>,
    C: ReadableTable<&'static [u8], &'static [u8]>,
    N: ReadableTable<u64, &'static [u8]>,
{
    pub fn account(&self, a: &Address) -> Result<Option<Acct>, EngineError> {
        if let Some(past) = self.past.accounts.get(a) {
            return Ok(*past);
        }
        match self.accounts.get(a.as_slice())? {
            Some(v) => Acct::decode(v.value())
                .map(Some)
                .ok_or_else(|| EngineError::Corrupt(format!("account {a}"))),
            None => Ok(None),
        }
    }

    pub fn storage(&self, a: &Address, key: &U256) -> Result<U256, EngineError> {
        if let Some(past) = self.past.slots.get(&(*a, *key)) {
            return Ok(*past);
        }
        match self.storage.get(slot_key(a, key).as_slice())? {
            Some(v) if v.value().len() == 32 => Ok(U256::from_be_slice(v.value())),
            Some(_) => Err(EngineError::Corrupt(format!("storage of {a}"))),
            None => Ok(U256::ZERO),
        }
    }

    pub fn code(&self, hash: &B256) -> Result<Option<Bytes>, EngineError> {
        Ok(self
            .code
            .get(hash.as_slice())?
            .map(|v| Bytes::copy_from_slice(v.value())))
    }

    pub fn block_hash(&self, number: u64) -> Result<B256, EngineError> {
        Ok(self
            .numbers
            .get(number)?
            .map(|v| b256(v.value()))
            .unwrap_or_default())
    }
}

/// A reader over a read transaction.
pub type ReadState = StateReader<
    redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    redb::ReadOnlyTable<u64, &'static [u8]>,
>;

pub fn read_state(txn: &redb::ReadTransaction) -> Result<ReadState, EngineError> {
    Ok(StateReader {
        accounts: txn.open_table(ACCOUNTS)?,
        storage: txn.open_table(STORAGE)?,
        code: txn.open_table(CODE)?,
        numbers: txn.open_table(NUMBERS)?,
        past: PastState::default(),
    })
}

/// The state as it was after block `number` of the active chain, read
/// through `txn`: the state of the tip `txn` sees, rolled back by the undo
/// data of every block above `number` (the caller bounds how many).
pub fn read_state_at(txn: &redb::ReadTransaction, number: u64) -> Result<ReadState, EngineError> {
    let tip = read_tip(txn)?;
    let mut state = read_state(txn)?;
    if number >= tip.number {
        return Ok(state);
    }
    let undo = txn.open_table(UNDO)?;
    for n in ((number + 1)..=tip.number).rev() {
        let raw = undo
            .get(n)?
            .ok_or_else(|| EngineError::Corrupt(format!("no undo data for block {n}")))?;
        let u = Undo::decode(raw.value())
            .map_err(|e| EngineError::Corrupt(format!("undo of block {n}: {e}")))?;
        state.past.undo(&u)?;
    }
    Ok(state)
}

/// The tip as `txn` sees it.
pub fn read_tip(txn: &redb::ReadTransaction) -> Result<Tip, EngineError> {
    let meta = txn.open_table(META)?;
    let raw = meta
        .get(TIP_KEY)?
        .ok_or_else(|| EngineError::Corrupt("database has no tip".into()))?;
    Tip::decode(raw.value()).map_err(|e| EngineError::Corrupt(format!("tip: {e}")))
}

/// Reads the payload of a block by hash.
pub fn get_block<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    hash: &B256,
) -> Result<Option<Vec<u8>>, EngineError> {
    Ok(table.get(hash.as_slice())?.map(|v| v.value().to_vec()))
}
