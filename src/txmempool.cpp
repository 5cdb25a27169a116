#include <txmempool.h>

#include <primitives/block.h>
#include <validation.h>

#include <algorithm>

std::pair<KeyHash, uint64_t> SenderKey(const CTransaction& tx)
{
    if (tx.type != TxType::WithdrawFromMetachain) return {HashPubKey(tx.from), tx.nonce};
    const std::string id = "withdraw:" + tx.meta_from;
    const uint256 h = Sha256(reinterpret_cast<const uint8_t*>(id.data()), id.size());
    KeyHash key;
    std::copy(h.begin(), h.begin() + 20, key.begin());
    return {key, tx.meta_nonce};
}

std::string Mempool::Check(const CTransaction& tx, const AccountLookup& accounts) const
{
    if (tx.type == TxType::Coinbase) return "coinbase";
    if (!m_metachain && (tx.type == TxType::WithdrawFromMetachain || tx.type == TxType::DepositToMetachain)) {
        return std::string(TxTypeName(tx.type)) + " needs a metachain (-meta or -meta_rpc)";
    }
    if (tx.Size() > MAX_TX_SIZE) return "tx-size";
    if (tx.fee < m_params.min_fee)
        return "min relay fee not met: " + FormatMoney(tx.fee) + " < " + FormatMoney(m_params.min_fee);
    if (Contains(tx.GetHash())) return "txn-already-in-mempool";
    if (m_txs.size() >= MAX_TXS) return "mempool full";
    // Apply the sender's pending txs first, then this one. The sender is the
    // same key Insert and Forget use: a withdrawal's meta account.
    const auto [sender, nonce] = SenderKey(tx);
    AccountView view(accounts);
    CAmount fees = 0;
    if (auto it = m_by_sender.find(sender); it != m_by_sender.end()) {
        if (it->second.count(nonce)) return "txn-mempool-conflict: nonce " + std::to_string(nonce) + " is taken";
        for (const auto& [pending_nonce, txid] : it->second) {
            if (!ApplyTx(view, m_txs.at(txid), m_params, fees).empty()) return "pending txs no longer apply";
        }
        if (tx.type != TxType::WithdrawFromMetachain && tx.nonce < view.Get(sender).nonce)
            return "txn-mempool-conflict: nonce " + std::to_string(tx.nonce) + " is taken";
    }
    const auto err = ApplyTx(view, tx, m_params, fees);
    return err;
}

std::string Mempool::Admit(const CTransaction& tx, const AccountLookup& accounts)
{
    const auto err = Check(tx, accounts);
    if (err.empty()) Insert(tx);
    return err;
}

std::string Mempool::Accept(const CTransaction& tx, const AccountLookup& accounts)
{
    const auto err = Admit(tx, accounts);
    if (err.empty() && m_db) {
        ChainDB::Batch batch;
        batch.PutMempoolTx(tx);
        try {
            m_db->Write(batch);
        } catch (...) {
            Forget(tx.GetHash());
            throw;
        }
    }
    return err;
}

size_t Mempool::Load(const AccountLookup& accounts)
{
    if (!m_db) return 0;
    auto stored = m_db->ReadMempool();
    const size_t n = stored.size();
    for (auto& tx : stored)
        m_restored.push_back(std::move(tx));
    Revalidate(accounts);
    return n;
}

void Mempool::Insert(const CTransaction& tx)
{
    const uint256 txid = tx.GetHash();
    m_txs.emplace(txid, tx);
    const auto [sender, nonce] = SenderKey(tx);
    m_by_sender[sender][nonce] = txid;
}

const CTransaction* Mempool::Get(const uint256& txid) const
{
    const auto it = m_txs.find(txid);
    return it == m_txs.end() ? nullptr : &it->second;
}

std::vector<uint256> Mempool::Txids() const
{
    std::vector<uint256> out;
    for (const auto& [txid, tx] : m_txs)
        out.push_back(txid);
    return out;
}

std::vector<CTransaction> Mempool::Ordered() const
{
    std::vector<CTransaction> out;
    for (const auto& [sender, by_nonce] : m_by_sender) {
        for (const auto& [nonce, txid] : by_nonce)
            out.push_back(m_txs.at(txid));
    }
    return out;
}

void Mempool::RemoveForBlock(const CBlock& block)
{
    for (const auto& tx : block.vtx)
        Forget(tx.GetHash());
}

void Mempool::Remove(const uint256& txid)
{
    if (!Contains(txid)) return;
    Forget(txid);
    if (m_db) {
        ChainDB::Batch batch;
        batch.EraseMempoolTx(txid);
        m_db->Write(batch);
    }
}

void Mempool::Forget(const uint256& txid)
{
    const auto found = m_txs.find(txid);
    if (found == m_txs.end()) return;
    const auto [sender, nonce] = SenderKey(found->second);
    m_txs.erase(found);
    auto it = m_by_sender.find(sender);
    if (it != m_by_sender.end()) {
        it->second.erase(nonce);
        if (it->second.empty()) m_by_sender.erase(it);
    }
}

void Mempool::Restore(const CTransaction& tx) { m_restored.push_back(tx); }

void Mempool::Revalidate(const AccountLookup& accounts)
{
    // Restored txs first (older), then the pool, each re-admitted in order.
    std::vector<CTransaction> candidates = std::move(m_restored);
    m_restored.clear();
    for (const auto& tx : Ordered())
        candidates.push_back(tx);
    m_txs.clear();
    m_by_sender.clear();
    std::sort(candidates.begin(), candidates.end(),
              [](const CTransaction& a, const CTransaction& b) { return SenderKey(a) < SenderKey(b); });
    ChainDB::Batch dropped;
    bool any = false;
    for (const auto& tx : candidates) {
        if (Contains(tx.GetHash())) continue; // restored and pooled both
        if (!Admit(tx, accounts).empty()) {
            dropped.EraseMempoolTx(tx.GetHash());
            any = true;
        }
    }
    if (m_db && any) m_db->Write(dropped);
}
