//! On-disk layout in one redb file. Every block is committed with its state
//! changes, undo data and the new tip in one write transaction.

use crate::error::EngineError;
use crate::hashing::Hash;
use crate::state::Account;
use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use std::path::{Path, PathBuf};

pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Block hash -> payload.
pub const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blocks");
/// Block number -> hash, for the active chain.
pub const NUMBERS: TableDefinition<u64, &[u8]> = TableDefinition::new("numbers");
/// Meta address -> [`Account`].
pub const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
/// Block number -> [`Undo`].
pub const UNDO: TableDefinition<u64, &[u8]> = TableDefinition::new("undo");
/// Tx hash -> encoded transfer, for every tx in the mempool, so a restart
/// (even after a crash) gets them back.
pub const MEMPOOL: TableDefinition<&[u8], &[u8]> = TableDefinition::new("mempool");

const FORMAT_KEY: &str = "format";
const FORMAT: &[u8] = b"dmc-metachain-1";
const TIP_KEY: &str = "tip";

/// The committed tip, stored under `meta/tip` and cached in memory.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Tip {
    #[prost(uint64, tag = "1")]
    pub number: u64,
    #[prost(bytes = "vec", tag = "2")]
    pub hash: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub state_root: Vec<u8>,
    #[prost(int64, tag = "4")]
    pub supply: i64,
}

/// The account values a block overwrote, to roll it back.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Undo {
    #[prost(message, repeated, tag = "1")]
    pub accounts: Vec<UndoAccount>,
    #[prost(message, optional, tag = "2")]
    pub prev_tip: Option<Tip>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UndoAccount {
    #[prost(string, tag = "1")]
    pub address: String,
    #[prost(message, optional, tag = "2")]
    pub before: Option<Account>,
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
    let foreign = || open_err("not a metachain database (unknown format)".into());
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

/// Reads an account; absent means empty.
pub fn get_account<T: ReadableTable<&'static str, &'static [u8]>>(
    table: &T,
    address: &str,
) -> Result<Account, EngineError> {
    match table.get(address)? {
        Some(v) => Account::decode(v.value())
            .map_err(|e| EngineError::Corrupt(format!("account {address}: {e}"))),
        None => Ok(Account::default()),
    }
}

/// Reads the payload of a block by hash.
pub fn get_block<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    hash: &Hash,
) -> Result<Option<Vec<u8>>, EngineError> {
    Ok(table.get(hash.as_slice())?.map(|v| v.value().to_vec()))
}
