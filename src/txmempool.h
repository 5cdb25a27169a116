// Transactions waiting for a block. Per sender, nonces are contiguous from
// the account nonce and every pending tx is covered by the balance, so the
// miner can take them in (sender, nonce) order. Guarded by ChainState::cs.
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

    // Admits `tx`; returns "" or why it is refused (nothing changes then).
    std::string Accept(const CTransaction& tx, const AccountLookup& accounts);
    bool Contains(const uint256& txid) const { return m_txs.count(txid) > 0; }
    const CTransaction* Get(const uint256& txid) const;
    size_t Size() const { return m_txs.size(); }
    std::vector<uint256> Txids() const;
    // The txs in the order a block applies them.
    std::vector<CTransaction> Ordered() const;

    // A block took these txs.
    void RemoveForBlock(const class CBlock& block);
    // Drops one tx (the metachain refused it).
    void Remove(const uint256& txid);
    // Deposits and withdrawals are accepted only with a metachain.
    void SetMetachain(bool on) { m_metachain = on; }
    // A disconnected block's tx: kept if it still fits, at the next revalidation.
    void Restore(const CTransaction& tx);
    // Drops every tx the current state no longer allows.
    void Revalidate(const AccountLookup& accounts);

private:
    std::string Check(const CTransaction& tx, const AccountLookup& accounts) const;
    void Insert(const CTransaction& tx);

    const ChainParams& m_params;
    bool m_metachain{false};
    std::map<uint256, CTransaction> m_txs;
    std::map<KeyHash, std::map<uint64_t, uint256>> m_by_sender;
    std::vector<CTransaction> m_restored;
};

#endif // DEFI_TXMEMPOOL_H
