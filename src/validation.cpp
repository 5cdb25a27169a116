#include <validation.h>

#include <bech32.h>
#include <consensus/block.h>
#include <consensus/pow.h>
#include <consensus/tx_verify.h>
#include <metachain/backend.h>
#include <metachain/bridge.h>
#include <metachain/marshal.h>
#include <txmempool.h>
#include <util/logging.h>
#include <validationinterface.h>

#include <algorithm>
#include <stdexcept>

ChainState::ChainState(const ChainParams& params, const std::string& datadir, Mempool& mempool,
                       ValidationSignals* signals)
    : m_params(params), m_db(datadir + "/chain"), m_mempool(mempool), m_signals(signals)
{
    LoadOrCreate();
    m_mempool.AttachStore(m_db);
}

CBlockIndex* ChainState::Lookup(const uint256& hash) const
{
    const auto it = m_index.find(hash);
    return it == m_index.end() ? nullptr : it->second.get();
}

const CBlockIndex* ChainState::BestHeader() const
{
    for (const CBlockIndex* idx : m_by_work) {
        if (!idx->Failed()) return idx;
    }
    return Tip();
}

std::vector<const CBlockIndex*> ChainState::ChainTips() const
{
    std::set<const CBlockIndex*> parents;
    for (const auto& [hash, idx] : m_index) {
        if (idx->prev) parents.insert(idx->prev);
    }
    std::vector<const CBlockIndex*> tips;
    for (const auto& [hash, idx] : m_index) {
        if (!parents.count(idx.get())) tips.push_back(idx.get());
    }
    return tips;
}

bool ChainState::IsInitialBlockDownload(int64_t now) const { return Tip()->header.time < now - 24 * 60 * 60; }

CBlockIndex* ChainState::AddIndex(const uint256& hash, const BlockIndexRecord& rec)
{
    auto& slot = m_index[hash];
    if (!slot) slot = std::make_unique<CBlockIndex>();
    m_by_work.erase(slot.get()); // its key may change
    slot->hash = hash;
    slot->header = rec.header;
    slot->chainwork = rec.chainwork;
    slot->status = rec.status;
    if (!slot->prev) {
        slot->prev = Lookup(rec.header.prev);
        if (slot->prev) m_children.emplace(slot->prev, slot.get());
    }
    m_by_work.insert(slot.get());
    UpdateChainData(slot.get());
    return slot.get();
}

void ChainState::UpdateChainData(CBlockIndex* idx)
{
    if (idx->chain_data || !idx->HaveData() || (idx->prev && !idx->prev->chain_data)) return;
    std::vector<CBlockIndex*> todo{idx};
    while (!todo.empty()) {
        CBlockIndex* i = todo.back();
        todo.pop_back();
        i->chain_data = true;
        const auto [begin, end] = m_children.equal_range(i);
        for (auto it = begin; it != end; ++it) {
            if (!it->second->chain_data && it->second->HaveData()) todo.push_back(it->second);
        }
    }
}

const CBlockIndex* ChainState::Ancestor(const CBlockIndex* idx, uint32_t height)
{
    while (idx && idx->height() > height)
        idx = idx->prev;
    return idx;
}

std::vector<uint256> ChainState::GetLocator(const CBlockIndex* from) const
{
    std::vector<uint256> out;
    uint32_t step = 1;
    for (const CBlockIndex* i = from; i;) {
        out.push_back(i->hash);
        if (i->height() == 0 || out.size() == MAX_LOCATOR_SIZE - 1) break;
        if (out.size() >= 10) step *= 2;
        i = Ancestor(i, i->height() > step ? i->height() - step : 0);
    }
    if (out.back() != m_chain[0]->hash) out.push_back(m_chain[0]->hash);
    return out;
}

const CBlockIndex* ChainState::FindFork(const std::vector<uint256>& locator) const
{
    for (const auto& hash : locator) {
        const CBlockIndex* idx = Lookup(hash);
        if (idx && InActiveChain(idx)) return idx;
    }
    return m_chain[0];
}

uint32_t ChainState::NextWorkRequired(const CBlockIndex* prev) const
{
    std::vector<PowSample> window;
    for (const CBlockIndex* i = prev; i && window.size() < static_cast<size_t>(LWMA_WINDOW) + 1; i = i->prev)
        window.push_back({i->header.time, i->header.bits});
    std::reverse(window.begin(), window.end());
    return ::NextWorkRequired(window, m_params);
}

bool ChainState::AcceptBlockHeader(const CBlockHeader& header, BlockValidationState& state, const CBlockIndex** out)
{
    using R = BlockValidationResult;
    std::lock_guard<std::recursive_mutex> lock(cs);
    const uint256 hash = header.GetHash();
    if (CBlockIndex* known = Lookup(hash)) {
        if (out) *out = known;
        if (known->Failed()) return state.Invalid(R::BLOCK_CACHED_INVALID, "duplicate-invalid");
        return true;
    }
    if (!CheckBlockHeader(header, m_params, state)) return false;
    CBlockIndex* prev = Lookup(header.prev);
    if (!prev) return state.Invalid(R::BLOCK_MISSING_PREV, "prev-blk-not-found");
    if (prev->Failed()) return state.Invalid(R::BLOCK_INVALID_PREV, "bad-prevblk");
    if (header.height != prev->height() + 1) return state.Invalid(R::BLOCK_INVALID_HEADER, "bad-height");
    if (header.time < prev->header.time) return state.Invalid(R::BLOCK_INVALID_HEADER, "time-too-old");
    if (header.bits != NextWorkRequired(prev)) return state.Invalid(R::BLOCK_INVALID_HEADER, "bad-diffbits");
    BlockIndexRecord rec{header, prev->chainwork + BlockWork(header.bits), 0};
    ChainDB::Batch batch;
    batch.PutIndex(hash, rec);
    m_db.Write(batch);
    CBlockIndex* idx = AddIndex(hash, rec);
    if (out) *out = idx;
    return true;
}

void ChainState::LoadOrCreate()
{
    const auto records = m_db.LoadIndex();
    if (records.empty()) {
        // A new chain: the genesis block, connected.
        const CBlock& genesis = m_params.Genesis();
        const uint256 hash = genesis.GetHash();
        BlockIndexRecord rec{genesis.header, BlockWork(genesis.header.bits), BLOCK_HAVE_DATA};
        ChainDB::Batch batch;
        batch.PutBlock(hash, genesis);
        batch.PutIndex(hash, rec);
        batch.PutBestBlock(hash);
        m_db.Write(batch);
        m_chain.push_back(AddIndex(hash, rec));
        return;
    }
    // Parents before children: insert by height.
    std::vector<std::pair<uint256, BlockIndexRecord>> sorted(records.begin(), records.end());
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.second.header.height < b.second.header.height; });
    for (const auto& [hash, rec] : sorted)
        AddIndex(hash, rec);
    const auto best = m_db.ReadBestBlock();
    CBlockIndex* tip = best ? Lookup(*best) : nullptr;
    if (!tip) throw std::runtime_error("chain database has no valid best block; it is corrupt");
    m_chain.assign(tip->height() + 1, nullptr);
    for (CBlockIndex* i = tip; i; i = i->prev)
        m_chain[i->height()] = i;
    if (m_chain[0] == nullptr || m_chain[0]->hash != m_params.Genesis().GetHash()) {
        throw std::runtime_error("chain database belongs to another network");
    }
}

CAmount ChainState::TotalBalances() const
{
    CAmount total = 0;
    for (const auto& [key, a] : m_db.ReadAllAccounts())
        total += a.balance;
    return total;
}

void ChainState::SetStatus(CBlockIndex* idx, uint8_t status)
{
    idx->status = status;
    ChainDB::Batch batch;
    batch.PutIndex(idx->hash, BlockIndexRecord{idx->header, idx->chainwork, idx->status});
    m_db.Write(batch);
}

bool ChainState::ConnectTip(CBlockIndex* idx, BlockValidationState& state)
{
    using R = BlockValidationResult;
    const auto block = m_db.ReadBlock(idx->hash);
    if (!block) return state.Invalid(R::BLOCK_CONSENSUS, "block data missing");
    if (idx->prev != Tip()) return state.Invalid(R::BLOCK_CONSENSUS, "block does not extend the tip");
    if (!CheckBlock(*block, m_params, state)) return false;
    if (block->header.time < idx->prev->header.time) return state.Invalid(R::BLOCK_CONSENSUS, "time-too-old");
    if (!m_meta && !block->payload.empty()) {
        return state.Invalid(R::BLOCK_CONSENSUS, "bad-payload", "this node runs no metachain");
    }
    if (m_meta && block->payload.empty()) {
        return state.Invalid(R::BLOCK_CONSENSUS, "bad-payload", "the metachain payload is missing");
    }

    AccountView view([this](const KeyHash& k) { return m_db.ReadAccount(k); });
    CAmount fees = 0;
    for (size_t i = 1; i < block->vtx.size(); ++i) {
        const TxType type = block->vtx[i].type;
        if (!m_meta && (type == TxType::WithdrawFromMetachain || type == TxType::DepositToMetachain)) {
            return state.Invalid(R::BLOCK_CONSENSUS, "bad-tx",
                                 std::string(TxTypeName(type)) + " needs a metachain, and this node runs none");
        }
        TxValidationState tx_state;
        if (!ApplyTx(view, block->vtx[i], m_params, fees, tx_state)) {
            return state.Invalid(R::BLOCK_CONSENSUS, "tx " + std::to_string(i) + " invalid: " + tx_state.ToString());
        }
    }
    const CTransaction& coinbase = block->vtx[0];
    const auto reward = CheckedAdd(m_params.block_reward, fees);
    if (!reward || coinbase.amount != *reward) return state.Invalid(R::BLOCK_CONSENSUS, "bad-cb-amount");
    const auto miner = DecodeAddress(coinbase.to, m_params.address_hrp);
    if (!miner) return state.Invalid(R::BLOCK_CONSENSUS, "bad-cb-address");
    if (*miner == m_params.lock_address) {
        return state.Invalid(R::BLOCK_CONSENSUS, std::string("bad-cb-") + LOCK_ADDRESS_PAID);
    }
    Account m = view.Get(*miner);
    const auto credited = CheckedAdd(m.balance, coinbase.amount);
    if (!credited) return state.Invalid(R::BLOCK_CONSENSUS, "bad-cb-overflow");
    m.balance = *credited;
    view.Set(*miner, m);

    // The native part is valid: the metachain validates and commits its part,
    // then the native state is committed.
    if (m_meta) {
        try {
            m_meta->ConnectBlock(metachain::ConnectInput(*block, m_params));
        } catch (const metachain::Error& e) {
            if (e.IsRejection()) return state.Invalid(R::BLOCK_PAYLOAD, "bad-payload", e.what());
            FatalError(std::string("metachain failed connecting block ") + HexStr(idx->hash) + ": " + e.what());
        }
    }

    ChainDB::Batch batch;
    BlockUndo undo;
    for (const auto& [key, a] : view.changes()) {
        batch.PutAccount(key, a);
        undo.accounts.emplace_back(key, view.before().at(key));
    }
    batch.PutUndo(idx->hash, undo);
    for (const auto& tx : block->vtx) {
        const uint256 txid = tx.GetHash();
        batch.PutTx(txid, idx->hash);
        batch.EraseMempoolTx(txid);
    }
    batch.PutBestBlock(idx->hash);
    m_db.Write(batch);
    m_chain.push_back(idx);
    m_mempool.RemoveForBlock(*block);
    if (m_signals) m_signals->BlockConnected(*block, idx);
    return true;
}

void ChainState::DisconnectTip()
{
    CBlockIndex* idx = Tip();
    const auto block = m_db.ReadBlock(idx->hash);
    const auto undo = m_db.ReadUndo(idx->hash);
    if (!block || !undo) throw std::runtime_error("cannot disconnect block " + HexStr(idx->hash) + ": data missing");
    if (m_meta && !block->payload.empty()) {
        try {
            // The metachain names a block by keccak256 of its payload; its tip
            // must be this block. Its own spelling of the hash is passed back.
            const auto tip = m_meta->GetTip();
            const std::string hash = metachain::BlockHash(block->payload);
            if (!metachain::SameHash(hash, std::string(tip.hash))) {
                throw std::runtime_error("its tip is " + std::string(tip.hash) + ", not this block's " + hash);
            }
            mc::MetaDisconnectBlockInput in{};
            in.block_hash = tip.hash;
            m_meta->DisconnectBlock(in);
        } catch (const std::exception& e) {
            FatalError(std::string("metachain failed disconnecting block ") + HexStr(idx->hash) + ": " + e.what());
        }
    }
    ChainDB::Batch batch;
    for (const auto& [key, a] : undo->accounts)
        batch.PutAccount(key, a);
    for (const auto& tx : block->vtx)
        batch.EraseTx(tx.GetHash());
    // Its txs go back to the pool, on disk in the same batch.
    for (size_t i = 1; i < block->vtx.size(); ++i)
        batch.PutMempoolTx(block->vtx[i]);
    batch.EraseUndo(idx->hash);
    batch.PutBestBlock(idx->prev->hash);
    m_db.Write(batch);
    m_chain.pop_back();
    // They are kept if they are valid on the new tip.
    for (size_t i = 1; i < block->vtx.size(); ++i)
        m_mempool.Restore(block->vtx[i]);
    if (m_signals) m_signals->BlockDisconnected(*block, idx);
}

void ChainState::ActivateBestChain()
{
    CBlockIndex* const old_tip = Tip();
    for (;;) {
        // The most-work block whose whole branch is stored and not failed.
        CBlockIndex* best = Tip();
        for (CBlockIndex* idx : m_by_work) {
            if (idx->chainwork <= Tip()->chainwork) break;
            if (!idx->chain_data) continue; // a header, or a block whose ancestors are still missing
            bool usable = true;
            for (CBlockIndex* i = idx; i && !InActiveChain(i); i = i->prev) {
                if (i->Failed()) usable = false;
            }
            if (usable) {
                best = idx;
                break;
            }
        }
        if (best == Tip()) break;
        CBlockIndex* fork = best;
        while (!InActiveChain(fork))
            fork = fork->prev;
        while (Tip() != fork)
            DisconnectTip();
        std::vector<CBlockIndex*> path;
        for (CBlockIndex* i = best; i != fork; i = i->prev)
            path.push_back(i);
        bool failed = false;
        for (auto it = path.rbegin(); it != path.rend(); ++it) {
            BlockValidationState state;
            if (!ConnectTip(*it, state)) {
                LogPrint("block " + HexStr((*it)->hash) + " at height " + std::to_string((*it)->height()) +
                         " is invalid: " + state.ToString());
                SetStatus(*it, (*it)->status | BLOCK_FAILED);
                m_invalid_state[(*it)->hash] = state;
                failed = true;
                break;
            }
        }
        if (!failed) break;
    }
    AfterTipChange();
    if (m_signals && Tip() != old_tip) {
        const CBlockIndex* fork = old_tip;
        while (!InActiveChain(fork))
            fork = fork->prev;
        m_signals->UpdatedBlockTip(Tip(), fork);
    }
}

void ChainState::AfterTipChange()
{
    m_mempool.Revalidate([this](const KeyHash& k) { return m_db.ReadAccount(k); });
    DropUsedWithdrawals();
}

void ChainState::DropUsedWithdrawals()
{
    if (!m_meta) return;
    std::map<std::string, uint64_t> committed; // meta account -> its nonce on the metachain
    std::vector<uint256> used;
    for (const auto& tx : m_mempool.Ordered()) {
        if (tx.type != TxType::WithdrawFromMetachain) continue;
        const std::string key = metachain::AddressKey(tx.meta_from);
        auto it = committed.find(key);
        if (it == committed.end()) {
            mc::MetaGetBalanceInput in{};
            in.address = tx.meta_from;
            try {
                it = committed.emplace(key, m_meta->GetBalance(in).nonce).first;
            } catch (const std::exception& e) {
                // The metachain is down: its next block call stops the node.
                LogPrint(std::string("mempool: cannot check the withdrawals' meta nonces: ") + e.what());
                return;
            }
        }
        if (tx.meta_nonce < it->second) used.push_back(tx.GetHash());
    }
    for (const auto& txid : used) {
        LogPrint("mempool: dropping withdrawal " + HexStr(txid) + ": its meta nonce is used on the metachain");
        m_mempool.RemoveRefused(txid);
    }
}

bool ChainState::ProcessNewBlock(const CBlock& block, BlockValidationState& state, bool* new_block)
{
    using R = BlockValidationResult;
    std::lock_guard<std::recursive_mutex> lock(cs);
    if (new_block) *new_block = false;
    const uint256 hash = block.GetHash();
    if (CBlockIndex* known = Lookup(hash)) {
        if (known->Failed()) return state.Invalid(R::BLOCK_CACHED_INVALID, "duplicate-invalid");
        if (known->HaveData()) return true;
    }
    if (!CheckBlock(block, m_params, state)) return false;
    CBlockIndex* prev = Lookup(block.header.prev);
    if (!prev) return state.Invalid(R::BLOCK_MISSING_PREV, "prev-blk-not-found");
    if (prev->Failed()) return state.Invalid(R::BLOCK_INVALID_PREV, "bad-prevblk");
    if (block.header.height != prev->height() + 1) return state.Invalid(R::BLOCK_INVALID_HEADER, "bad-height");
    if (block.header.bits != NextWorkRequired(prev)) return state.Invalid(R::BLOCK_INVALID_HEADER, "bad-diffbits");
    BlockIndexRecord rec{block.header, prev->chainwork + BlockWork(block.header.bits), BLOCK_HAVE_DATA};
    ChainDB::Batch batch;
    batch.PutBlock(hash, block);
    batch.PutIndex(hash, rec);
    m_db.Write(batch);
    CBlockIndex* idx = AddIndex(hash, rec);
    if (new_block) *new_block = true;
    ActivateBestChain();
    if (const auto it = m_invalid_state.find(hash); it != m_invalid_state.end() && idx->Failed()) {
        state = it->second;
        return false;
    }
    if (idx->Failed()) return state.Invalid(R::BLOCK_CONSENSUS, "invalid");
    return true;
}

std::string ChainState::InvalidateBlock(const uint256& hash)
{
    std::lock_guard<std::recursive_mutex> lock(cs);
    CBlockIndex* idx = Lookup(hash);
    if (!idx) return "Block not found";
    if (idx->height() == 0) return "Cannot invalidate the genesis block";
    SetStatus(idx, idx->status | BLOCK_FAILED);
    while (InActiveChain(idx))
        DisconnectTip();
    ActivateBestChain();
    return "";
}

std::string ChainState::ReconsiderBlock(const uint256& hash)
{
    std::lock_guard<std::recursive_mutex> lock(cs);
    CBlockIndex* idx = Lookup(hash);
    if (!idx) return "Block not found";
    for (const auto& [h, other] : m_index) {
        // Clear marks on the block, its ancestors and its descendants.
        bool related = false;
        for (CBlockIndex* i = other.get(); i; i = i->prev)
            related |= (i == idx);
        for (CBlockIndex* i = idx; i; i = i->prev)
            related |= (i == other.get());
        if (related && other->Failed()) SetStatus(other.get(), other->status & ~BLOCK_FAILED);
    }
    ActivateBestChain();
    return "";
}

size_t ChainState::LoadMempool()
{
    std::lock_guard<std::recursive_mutex> lock(cs);
    const size_t stored = m_mempool.Load([this](const KeyHash& k) { return m_db.ReadAccount(k); });
    if (stored) {
        LogPrint("mempool: reloaded " + std::to_string(m_mempool.Size()) + " of " + std::to_string(stored) +
                 " stored tx(s); the rest no longer apply");
    }
    return m_mempool.Size();
}

void ChainState::ActivateStoredBlocks()
{
    std::lock_guard<std::recursive_mutex> lock(cs);
    const CBlockIndex* const before = Tip();
    ActivateBestChain();
    if (Tip() != before) {
        LogPrint("connected stored blocks: tip height " + std::to_string(Tip()->height()) + " hash " +
                 HexStr(Tip()->hash));
    }
}

void ChainState::SyncMetachain()
{
    std::lock_guard<std::recursive_mutex> lock(cs);
    if (!m_meta) return;
    const uint32_t height = Tip()->height();
    // The metachain block this chain has at height n; genesis matches any.
    auto expected = [this](uint64_t n) -> std::optional<std::string> {
        if (n == 0) return std::nullopt;
        const CBlockIndex* idx = AtHeight(static_cast<uint32_t>(n));
        const auto block = idx ? m_db.ReadBlock(idx->hash) : std::nullopt;
        if (!block || block->payload.empty()) return std::string("(none)");
        return metachain::BlockHash(block->payload);
    };
    auto tip = m_meta->GetTip();
    size_t undone = 0;
    const auto matches = [&](const mc::MetaGetTipResult& t) {
        const auto want = expected(t.number);
        return !want || metachain::SameHash(*want, std::string(t.hash));
    };
    while (tip.number > 0 && (tip.number > height || !matches(tip))) {
        mc::MetaDisconnectBlockInput in{};
        in.block_hash = tip.hash;
        m_meta->DisconnectBlock(in);
        tip = m_meta->GetTip();
        ++undone;
    }
    if (undone) LogPrint("metachain was ahead of the chain: disconnected " + std::to_string(undone) + " block(s)");
    const uint64_t from = tip.number + 1;
    for (uint64_t n = from; n <= height; ++n) {
        const auto block = m_db.ReadBlock(AtHeight(static_cast<uint32_t>(n))->hash);
        if (!block || block->payload.empty()) {
            throw std::runtime_error("block " + std::to_string(n) +
                                     " carries no metachain payload: this chain was built without a metachain");
        }
        m_meta->ConnectBlock(metachain::ConnectInput(*block, m_params));
    }
    if (from <= height)
        LogPrint("metachain was behind the chain: replayed blocks " + std::to_string(from) + " to " +
                 std::to_string(height));
}
