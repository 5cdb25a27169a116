// Transactions waiting for a block. Per sender, nonces are contiguous from
// the account nonce and every pending tx is covered by the balance, so the
// miner can take them in (sender, nonce) order. The pool has its own lock;
// callers that need it consistent with the chain (admission, block building)
// hold the chain lock too, always taken first.
// With a store attached, an accepted tx is on disk before Accept returns, so
// a crash loses nothing; reloading re-admits the txs against the tip.
#ifndef DEFI_TXMEMPOOL_H
#define DEFI_TXMEMPOOL_H

#include <chainparams.h>
#include <consensus/tx_verify.h>
#include <consensus/validation.h>
#include <node/txdb.h>
#include <primitives/transaction.h>
#include <validationinterface.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

// Who orders a tx: its signer, or for a withdrawal its meta account (by
// meta nonce). Admission, insertion, removal and reloading all key by it.
std::pair<KeyHash, uint64_t> SenderKey(const CTransaction& tx);

class Mempool {
public:
    static constexpr size_t MAX_TXS = 5000;
    static constexpr size_t MAX_TX_SIZE = 4096;

    explicit Mempool(const ChainParams& params, ValidationSignals* signals = nullptr)
        : m_params(params), m_signals(signals)
    {
    }

    // Persists the pool in `db` from now on; ChainState's batches keep it in
    // step with blocks.
    void AttachStore(ChainDB& db) { m_db = &db; }
    // Re-admits the stored txs against the current state and drops the
    // rest; returns how many were stored.
    size_t Load(const AccountLookup& accounts);

    // Admits `tx`; when refused, nothing changes and the state says why.
    [[nodiscard]] TxValidationState Accept(const CTransaction& tx, const AccountLookup& accounts);
    // Why Accept would refuse `tx` now; changes nothing.
    [[nodiscard]] TxValidationState TestAccept(const CTransaction& tx, const AccountLookup& accounts) const;
    bool Contains(const uint256& txid) const;
    std::optional<CTransaction> Get(const uint256& txid) const;
    size_t Size() const;
    std::vector<uint256> Txids() const;
    // The txs in the order a block applies them.
    std::vector<CTransaction> Ordered() const;

    // A block took these txs (its batch erased them from the store).
    void RemoveForBlock(const struct CBlock& block);
    // Drops one tx the metachain refused, from the store too.
    void RemoveRefused(const uint256& txid);
    // Deposits and withdrawals are accepted only with a metachain.
    void SetMetachain(bool on) { m_metachain = on; }
    // A disconnected block's tx (its batch stored it): kept if it still
    // fits, at the next revalidation.
    void Restore(const CTransaction& tx);
    // Drops every tx the current state no longer allows.
    void Revalidate(const AccountLookup& accounts);

private:
    TxValidationState Check(const CTransaction& tx, const AccountLookup& accounts) const;
    void Insert(const CTransaction& tx);
    std::optional<CTransaction> Forget(const uint256& txid);
    void Removed(const std::vector<CTransaction>& txs, MemPoolRemovalReason reason);

    mutable std::mutex m_mutex; // guards everything below
    ChainDB* m_db{nullptr};
    const ChainParams& m_params;
    ValidationSignals* m_signals;
    bool m_metachain{false};
    std::map<uint256, CTransaction> m_txs;
    std::map<KeyHash, std::map<uint64_t, uint256>> m_by_sender;
    std::vector<CTransaction> m_restored;
};

#endif // DEFI_TXMEMPOOL_H
