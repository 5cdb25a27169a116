#include <txmempool.h>

#include <metachain/bridge.h>
#include <primitives/block.h>

#include <algorithm>

std::pair<KeyHash, uint64_t> SenderKey(const CTransaction& tx)
{
    if (tx.type != TxType::WithdrawFromMetachain) return {HashPubKey(tx.from), tx.nonce};
    // Every spelling of a 0x address (lowercase, uppercase, EIP-55) is one sender.
    const std::string id = "withdraw:" + metachain::AddressKey(tx.meta_from);
    const uint256 h = Sha256(reinterpret_cast<const uint8_t*>(id.data()), id.size());
    KeyHash key;
    std::copy(h.begin(), h.begin() + 20, key.begin());
    return {key, tx.meta_nonce};
}

TxValidationState Mempool::Check(const CTransaction& tx, const AccountLookup& accounts) const
{
    using R = TxValidationResult;
    TxValidationState state;
    if (tx.type == TxType::Coinbase) {
        state.Invalid(R::TX_CONSENSUS, "coinbase");
        return state;
    }
    if (!m_metachain && (tx.type == TxType::WithdrawFromMetachain || tx.type == TxType::DepositToMetachain)) {
        state.Invalid(R::TX_NO_METACHAIN, std::string(TxTypeName(tx.type)) + " needs a metachain (-meta or -meta_rpc)");
        return state;
    }
    if (tx.Size() > MAX_TX_SIZE) {
        state.Invalid(R::TX_MEMPOOL_POLICY, "tx-size");
        return state;
    }
    if (tx.fee < m_params.min_fee) {
        state.Invalid(R::TX_MEMPOOL_POLICY,
                      "min relay fee not met: " + FormatMoney(tx.fee) + " < " + FormatMoney(m_params.min_fee));
        return state;
    }
    if (m_txs.count(tx.GetHash())) {
        state.Invalid(R::TX_CONFLICT, "txn-already-in-mempool");
        return state;
    }
    if (m_txs.size() >= MAX_TXS) {
        state.Invalid(R::TX_MEMPOOL_POLICY, "mempool full");
        return state;
    }
    // Apply the sender's pending txs first, then this one.
    const auto key = SenderKey(tx);
    const KeyHash& sender = key.first;
    const uint64_t nonce = key.second;
    AccountView view(accounts);
    CAmount fees = 0;
    if (auto it = m_by_sender.find(sender); it != m_by_sender.end()) {
        const auto taken = [&] {
            return state.Invalid(R::TX_CONFLICT, "txn-mempool-conflict: nonce " + std::to_string(nonce) + " is taken");
        };
        if (it->second.count(nonce)) {
            taken();
            return state;
        }
        for (const auto& [pending_nonce, txid] : it->second) {
            TxValidationState pending;
            if (!ApplyTx(view, m_txs.at(txid), m_params, fees, pending)) {
                state.Invalid(R::TX_CONFLICT, "pending txs no longer apply", pending.GetRejectReason());
                return state;
            }
        }
        if (tx.type != TxType::WithdrawFromMetachain && tx.nonce < view.Get(sender).nonce) {
            taken();
            return state;
        }
    }
    ApplyTx(view, tx, m_params, fees, state);
    return state;
}

TxValidationState Mempool::TestAccept(const CTransaction& tx, const AccountLookup& accounts) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return Check(tx, accounts);
}

TxValidationState Mempool::Accept(const CTransaction& tx, const AccountLookup& accounts)
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto state = Check(tx, accounts);
        if (state.IsInvalid()) return state;
        Insert(tx);
        if (m_db) {
            ChainDB::Batch batch;
            batch.PutMempoolTx(tx);
            try {
                m_db->Write(batch);
            } catch (...) {
                Forget(tx.GetHash());
                throw;
            }
        }
    }
    if (m_signals) m_signals->TransactionAddedToMempool(tx);
    return {};
}

size_t Mempool::Load(const AccountLookup& accounts)
{
    if (!m_db) return 0;
    auto stored = m_db->ReadMempool();
    const size_t n = stored.size();
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (auto& tx : stored)
            m_restored.push_back(std::move(tx));
    }
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

bool Mempool::Contains(const uint256& txid) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_txs.count(txid) > 0;
}

std::optional<CTransaction> Mempool::Get(const uint256& txid) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_txs.find(txid);
    if (it == m_txs.end()) return std::nullopt;
    return it->second;
}

size_t Mempool::Size() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_txs.size();
}

std::vector<uint256> Mempool::Txids() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    std::vector<uint256> out;
    for (const auto& [txid, tx] : m_txs)
        out.push_back(txid);
    return out;
}

std::vector<CTransaction> Mempool::Ordered() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    std::vector<CTransaction> out;
    for (const auto& [sender, by_nonce] : m_by_sender) {
        for (const auto& [nonce, txid] : by_nonce)
            out.push_back(m_txs.at(txid));
    }
    return out;
}

void Mempool::Removed(const std::vector<CTransaction>& txs, MemPoolRemovalReason reason)
{
    if (!m_signals) return;
    for (const auto& tx : txs)
        m_signals->TransactionRemovedFromMempool(tx, reason);
}

void Mempool::RemoveForBlock(const CBlock& block)
{
    std::vector<CTransaction> removed;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (const auto& tx : block.vtx) {
            if (auto gone = Forget(tx.GetHash())) removed.push_back(std::move(*gone));
        }
    }
    Removed(removed, MemPoolRemovalReason::BLOCK);
}

void Mempool::RemoveRefused(const uint256& txid)
{
    std::optional<CTransaction> gone;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        gone = Forget(txid);
        if (gone && m_db) {
            ChainDB::Batch batch;
            batch.EraseMempoolTx(txid);
            m_db->Write(batch);
        }
    }
    if (gone) Removed({*gone}, MemPoolRemovalReason::METACHAIN);
}

std::optional<CTransaction> Mempool::Forget(const uint256& txid)
{
    const auto found = m_txs.find(txid);
    if (found == m_txs.end()) return std::nullopt;
    CTransaction tx = std::move(found->second);
    const auto [sender, nonce] = SenderKey(tx);
    m_txs.erase(found);
    auto it = m_by_sender.find(sender);
    if (it != m_by_sender.end()) {
        it->second.erase(nonce);
        if (it->second.empty()) m_by_sender.erase(it);
    }
    return tx;
}

void Mempool::Restore(const CTransaction& tx)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_restored.push_back(tx);
}

void Mempool::Revalidate(const AccountLookup& accounts)
{
    std::vector<CTransaction> dropped_txs, added_txs;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        // Restored txs first (older), then the pool, each re-admitted in order.
        std::vector<CTransaction> candidates = std::move(m_restored);
        m_restored.clear();
        std::map<uint256, bool> was_pooled;
        for (const auto& [sender, by_nonce] : m_by_sender) {
            for (const auto& [nonce, txid] : by_nonce) {
                candidates.push_back(m_txs.at(txid));
                was_pooled[txid] = true;
            }
        }
        m_txs.clear();
        m_by_sender.clear();
        std::stable_sort(candidates.begin(), candidates.end(),
                         [](const CTransaction& a, const CTransaction& b) { return SenderKey(a) < SenderKey(b); });
        ChainDB::Batch dropped;
        bool any = false;
        for (const auto& tx : candidates) {
            if (m_txs.count(tx.GetHash())) continue; // restored and pooled both
            if (Check(tx, accounts).IsValid()) {
                Insert(tx);
                if (!was_pooled.count(tx.GetHash())) added_txs.push_back(tx);
                continue;
            }
            dropped.EraseMempoolTx(tx.GetHash());
            any = true;
            if (was_pooled.count(tx.GetHash())) dropped_txs.push_back(tx);
        }
        if (m_db && any) m_db->Write(dropped);
    }
    Removed(dropped_txs, MemPoolRemovalReason::INVALID);
    if (m_signals) {
        for (const auto& tx : added_txs)
            m_signals->TransactionAddedToMempool(tx);
    }
}
