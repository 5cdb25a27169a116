// Transactions waiting for a block. Per sender, nonces are contiguous from
// the account nonce and every pending tx is covered by the balance, so the
// miner can take them in (sender, nonce) order. Guarded by ChainState::cs.
// With a store attached, an accepted tx is on disk before Accept returns, so
// a crash loses nothing; reloading re-admits the txs against the tip.
#ifndef DEFI_TXMEMPOOL_H
#define DEFI_TXMEMPOOL_H

#include <chainparams.h>
#include <node/txdb.h>
#include <primitives/transaction.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

using AccountLookup = std::function<Account(const KeyHash&)>;

// Who orders a tx: its signer, or for a withdrawal its meta account (by
// meta nonce).
std::pair<KeyHash, uint64_t> SenderKey(const CTransaction& tx);

class Mempool {
public:
    static constexpr size_t MAX_TXS = 5000;
    static constexpr size_t MAX_TX_SIZE = 4096;

    explicit Mempool(const ChainParams& params) : m_params(params) {}

    // Persists the pool in `db` from now on; ChainState's batches keep it in
    // step with blocks.
    void AttachStore(ChainDB& db) { m_db = &db; }
    // Re-admits the stored txs against the current state and drops the
    // rest; returns how many were stored.
    size_t Load(const AccountLookup& accounts);

    // Admits `tx`; returns "" or why it is refused (nothing changes then).
    std::string Accept(const CTransaction& tx, const AccountLookup& accounts);
    // Why Accept would refuse `tx` now, or ""; changes nothing.
    std::string TestAccept(const CTransaction& tx, const AccountLookup& accounts) const { return Check(tx, accounts); }
    bool Contains(const uint256& txid) const { return m_txs.count(txid) > 0; }
    const CTransaction* Get(const uint256& txid) const;
    size_t Size() const { return m_txs.size(); }
    std::vector<uint256> Txids() const;
    // The txs in the order a block applies them.
    std::vector<CTransaction> Ordered() const;

    // A block took these txs (its batch erased them from the store).
    void RemoveForBlock(const class CBlock& block);
    // Drops one tx (the metachain refused it), from the store too.
    void Remove(const uint256& txid);
    // Deposits and withdrawals are accepted only with a metachain.
    void SetMetachain(bool on) { m_metachain = on; }
    // A disconnected block's tx (its batch stored it): kept if it still
    // fits, at the next revalidation.
    void Restore(const CTransaction& tx);
    // Drops every tx the current state no longer allows.
    void Revalidate(const AccountLookup& accounts);

private:
    std::string Check(const CTransaction& tx, const AccountLookup& accounts) const;
    // Check and insert, in memory only.
    std::string Admit(const CTransaction& tx, const AccountLookup& accounts);
    void Insert(const CTransaction& tx);
    void Forget(const uint256& txid);

    ChainDB* m_db{nullptr};
    const ChainParams& m_params;
    bool m_metachain{false};
    std::map<uint256, CTransaction> m_txs;
    std::map<KeyHash, std::map<uint64_t, uint256>> m_by_sender;
    std::vector<CTransaction> m_restored;
};

#endif // DEFI_TXMEMPOOL_H
