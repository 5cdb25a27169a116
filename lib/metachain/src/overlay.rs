//! The state a block executes on: the committed state (read through redb)
//! under an in-memory overlay of what the block changed so far. revm reads and
//! commits through it, system txs edit it directly, and it remembers each
//! entry's value before the block, which is what the state root update and
//! the undo data need.

use crate::error::EngineError;
use crate::store::{Acct, ReadState};
use alloy_primitives::{Address, Bytes, B256, U256};
use revm::database_interface::{DBErrorMarker, Database, DatabaseCommit};
use revm::primitives::{AddressMap, KECCAK_EMPTY};
use revm::state::{Account, AccountInfo, Bytecode};
use std::collections::HashMap;

/// A storage failure seen by revm. It aborts the block.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DbError(pub String);

impl DBErrorMarker for DbError {}

#[derive(Clone, Copy, Debug)]
struct Change<T> {
    before: T,
    now: T,
}

/// The net effect of a block on the state, each entry changed.
#[derive(Default, Debug)]
pub struct StateDiff {
    /// (address, before, after)
    pub accounts: Vec<(Address, Option<Acct>, Option<Acct>)>,
    /// (address, slot, before, after)
    pub slots: Vec<(Address, U256, U256, U256)>,
    /// Code first deployed by the block.
    pub code: Vec<(B256, Bytes)>,
}

pub struct Overlay<'s> {
    src: &'s ReadState,
    accounts: HashMap<Address, Change<Option<Acct>>>,
    slots: HashMap<(Address, U256), Change<U256>>,
    code: HashMap<B256, Bytes>,
    /// Code revm loaded in this block, analysed: each contract is read and
    /// analysed once per block, not once per tx.
    loaded: HashMap<B256, Bytecode>,
    /// revm's commit cannot fail: a storage error met while committing is
    /// kept here and surfaced by [`Overlay::take_error`].
    failed: Option<String>,
}

impl<'s> Overlay<'s> {
    pub fn new(src: &'s ReadState) -> Self {
        Self {
            src,
            accounts: HashMap::new(),
            slots: HashMap::new(),
            code: HashMap::new(),
            loaded: HashMap::new(),
            failed: None,
        }
    }

    /// A storage error met during a commit, if any.
    pub fn take_error(&mut self) -> Result<(), EngineError> {
        match self.failed.take() {
            Some(e) => Err(EngineError::Corrupt(e)),
            None => Ok(()),
        }
    }

    /// The account as the block has left it so far.
    pub fn account(&mut self, a: &Address) -> Result<Option<Acct>, EngineError> {
        if let Some(c) = self.accounts.get(a) {
            return Ok(c.now);
        }
        let v = self.src.account(a)?;
        self.accounts.insert(*a, Change { before: v, now: v });
        Ok(v)
    }

    /// Sets an account; an empty one is removed.
    pub fn set_account(&mut self, a: &Address, acct: Acct) -> Result<(), EngineError> {
        self.account(a)?;
        let now = (!acct.is_empty()).then_some(acct);
        if let Some(c) = self.accounts.get_mut(a) {
            c.now = now;
        }
        Ok(())
    }

    fn slot(&mut self, a: &Address, key: U256) -> Result<U256, EngineError> {
        if let Some(c) = self.slots.get(&(*a, key)) {
            return Ok(c.now);
        }
        let v = self.src.storage(a, &key)?;
        self.slots.insert((*a, key), Change { before: v, now: v });
        Ok(v)
    }

    fn set_slot(&mut self, a: &Address, key: U256, value: U256) -> Result<(), EngineError> {
        self.slot(a, key)?;
        if let Some(c) = self.slots.get_mut(&(*a, key)) {
            c.now = value;
        }
        Ok(())
    }

    fn commit_account(&mut self, a: Address, acct: Account) -> Result<(), EngineError> {
        if !acct.is_touched() {
            return Ok(());
        }
        if acct.is_selfdestructed() || acct.is_created() {
            // Under EIP-6780 only an account created in the same tx is
            // destroyed, and creation needs an address with no storage
            // (EIP-7610), so every slot it had is in this overlay.
            for ((owner, _), c) in self.slots.iter_mut() {
                if *owner == a {
                    c.now = U256::ZERO;
                }
            }
        }
        if acct.is_selfdestructed() {
            self.account(&a)?;
            if let Some(c) = self.accounts.get_mut(&a) {
                c.now = None;
            }
            return Ok(());
        }
        let info = &acct.info;
        if info.code_hash != KECCAK_EMPTY && !self.code.contains_key(&info.code_hash) {
            if let Some(code) = &info.code {
                if self.src.code(&info.code_hash)?.is_none() {
                    self.code
                        .insert(info.code_hash, code.original_bytes().clone());
                }
            }
        }
        self.set_account(
            &a,
            Acct {
                nonce: info.nonce,
                balance: info.balance,
                code_hash: info.code_hash,
            },
        )?;
        for (key, slot) in acct.storage {
            if slot.is_changed() {
                self.set_slot(&a, key, slot.present_value)?;
            }
        }
        Ok(())
    }

    /// The block's net changes, sorted so the same block always yields the
    /// same diff.
    pub fn diff(&self) -> StateDiff {
        let mut accounts: Vec<_> = self
            .accounts
            .iter()
            .filter(|(_, c)| c.before != c.now)
            .map(|(a, c)| (*a, c.before, c.now))
            .collect();
        accounts.sort_by_key(|x| x.0);
        let mut slots: Vec<_> = self
            .slots
            .iter()
            .filter(|(_, c)| c.before != c.now)
            .map(|((a, k), c)| (*a, *k, c.before, c.now))
            .collect();
        slots.sort_by_key(|x| (x.0, x.1));
        let mut code: Vec<_> = self.code.iter().map(|(h, c)| (*h, c.clone())).collect();
        code.sort_by_key(|x| x.0);
        StateDiff {
            accounts,
            slots,
            code,
        }
    }
}

fn db_err(e: EngineError) -> DbError {
    DbError(e.to_string())
}

impl Database for Overlay<'_> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        Ok(self.account(&address).map_err(db_err)?.map(|a| {
            let mut info = AccountInfo {
                balance: a.balance,
                nonce: a.nonce,
                code_hash: a.code_hash,
                ..Default::default()
            };
            if a.code_hash != KECCAK_EMPTY {
                // Loaded on demand through code_by_hash.
                info.code = None;
            }
            info
        }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, DbError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        if let Some(b) = self.loaded.get(&code_hash) {
            return Ok(b.clone());
        }
        let raw = match self.code.get(&code_hash) {
            Some(c) => c.clone(),
            None => self
                .src
                .code(&code_hash)
                .map_err(db_err)?
                .ok_or_else(|| DbError(format!("no code for hash {code_hash}")))?,
        };
        let b = Bytecode::new_raw(raw);
        self.loaded.insert(code_hash, b.clone());
        Ok(b)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, DbError> {
        self.slot(&address, index).map_err(db_err)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbError> {
        self.src.block_hash(number).map_err(db_err)
    }
}

impl DatabaseCommit for Overlay<'_> {
    fn commit(&mut self, changes: AddressMap<Account>) {
        for (a, acct) in changes {
            if let Err(e) = self.commit_account(a, acct) {
                self.failed.get_or_insert(e.to_string());
            }
        }
    }
}
