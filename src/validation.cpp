#include <validation.h>

#include <bech32.h>
#include <metachain/backend.h>
#include <txmempool.h>
#include <util/logging.h>

#include <algorithm>
#include <stdexcept>

Account AccountView::Get(const KeyHash& key)
{
    if (auto it = m_now.find(key); it != m_now.end()) return it->second;
    const Account a = m_base(key);
    m_before.emplace(key, a);
    m_now.emplace(key, a);
    return a;
}

void AccountView::Set(const KeyHash& key, const Account& a)
{
    Get(key);
    m_now[key] = a;
}

const char* const LOCK_ADDRESS_PAID = "pays the lock address, which only a deposittometachain may pay";

std::string ApplyTx(AccountView& view, const CTransaction& tx, const ChainParams& params, CAmount& fees)
{
    if (tx.type == TxType::Coinbase) return "coinbase outside the first position";
    if (!MoneyRange(tx.amount) || tx.amount == 0) return "amount out of range";
    if (!MoneyRange(tx.fee)) return "fee out of range";
    const auto to_native = DecodeAddress(tx.to, params.address_hrp);
    if (tx.type == TxType::WithdrawFromMetachain) {
        // The metachain checks the meta signature; here only the native effect.
        if (!to_native) return "invalid native address " + tx.to;
        if (*to_native == params.lock_address) return LOCK_ADDRESS_PAID;
        if (!DecodeAddress(tx.meta_from, params.meta_hrp)) return "invalid meta address " + tx.meta_from;
        if (tx.fee >= tx.amount) return "withdrawal does not cover its fee";
        Account lock = view.Get(params.lock_address);
        if (lock.balance < tx.amount) return "lock balance too low for the withdrawal";
        lock.balance -= tx.amount;
        view.Set(params.lock_address, lock);
        Account to = view.Get(*to_native);
        const auto credited = CheckedAdd(to.balance, tx.amount - tx.fee);
        if (!credited) return "balance overflow";
        to.balance = *credited;
        view.Set(*to_native, to);
    } else {
        KeyHash recipient;
        if (tx.type == TxType::Transfer) {
            if (!to_native) return "invalid native address " + tx.to;
            if (*to_native == params.lock_address) return LOCK_ADDRESS_PAID;
            recipient = *to_native;
        } else if (tx.type == TxType::DepositToMetachain) {
            if (!DecodeAddress(tx.to, params.meta_hrp)) return "invalid meta address " + tx.to;
            recipient = params.lock_address;
        } else {
            return "unknown tx type";
        }
        if (!VerifySignature(tx.from, tx.SignatureHash(), tx.signature)) return "bad signature";
        const KeyHash sender = HashPubKey(tx.from);
        Account from = view.Get(sender);
        if (tx.nonce != from.nonce) {
            return "bad nonce: expected " + std::to_string(from.nonce) + ", got " + std::to_string(tx.nonce);
        }
        const auto spend = CheckedAdd(tx.amount, tx.fee);
        if (!spend) return "amount plus fee overflows";
        if (from.balance < *spend) return "insufficient funds";
        from.balance -= *spend;
        from.nonce += 1;
        view.Set(sender, from);
        Account to = view.Get(recipient);
        const auto credited = CheckedAdd(to.balance, tx.amount);
        if (!credited) return "balance overflow";
        to.balance = *credited;
        view.Set(recipient, to);
    }
    const auto total = CheckedAdd(fees, tx.fee);
    if (!total) return "fees overflow";
    fees = *total;
    return "";
}

std::vector<NativeTxView> MetachainTxs(const CBlock& block, const ChainParams& params)
{
    std::vector<NativeTxView> out;
    for (const auto& tx : block.vtx) {
        if (tx.type == TxType::DepositToMetachain) {
            out.push_back({static_cast<int32_t>(mc::TxKind::Deposit),
                           EncodeAddress(params.address_hrp, HashPubKey(tx.from)),
                           tx.to,
                           tx.GetHash(),
                           tx.amount,
                           0,
                           {},
                           {}});
        } else if (tx.type == TxType::WithdrawFromMetachain) {
            out.push_back({static_cast<int32_t>(mc::TxKind::Withdraw), tx.meta_from, tx.to, tx.GetHash(), tx.amount,
                           tx.meta_nonce, tx.meta_pubkey, tx.meta_signature});
        }
    }
    return out;
}

static rust::Vec<mc::NativeTx> ToMeta(const std::vector<NativeTxView>& txs)
{
    rust::Vec<mc::NativeTx> out;
    for (const auto& t : txs) {
        mc::NativeTx n{};
        n.kind = static_cast<mc::TxKind>(t.kind);
        n.from = t.from;
        n.to = t.to;
        n.amount = t.amount;
        n.native_txid = metachain::ToRustBytes(t.txid);
        n.nonce = t.nonce;
        n.pubkey = metachain::ToRustBytes(t.pubkey);
        n.signature = metachain::ToRustBytes(t.signature);
        out.push_back(std::move(n));
    }
    return out;
}

static mc::MetaConnectBlockInput ConnectInput(const CBlock& block, const ChainParams& params)
{
    mc::MetaConnectBlockInput in{};
    in.payload = metachain::ToRustBytes(block.payload);
    in.context.height = block.header.height;
    in.context.time = block.header.time;
    in.native_txs_hash = mc::ain_native_txs_hash(ToMeta(MetachainTxs(block, params)));
    return in;
}

mc::MetaMintBlockInput MintInput(const std::vector<NativeTxView>& txs, uint32_t height, int64_t time)
{
    mc::MetaMintBlockInput in{};
    in.txs = ToMeta(txs);
    in.context.height = height;
    in.context.time = time;
    return in;
}

std::string CheckBlock(const CBlock& block, const ChainParams& params)
{
    if (block.header.bits != params.pow_bits) return "bad-diffbits";
    if (!CheckProofOfWork(block.GetHash(), block.header.bits)) return "high-hash (proof of work failed)";
    if (block.vtx.empty() || block.vtx[0].type != TxType::Coinbase) return "bad-cb-missing";
    for (size_t i = 1; i < block.vtx.size(); ++i) {
        if (block.vtx[i].type == TxType::Coinbase) return "bad-cb-multiple";
    }
    if (block.vtx[0].nonce != block.header.height) return "bad-cb-height";
    if (block.ComputeMerkleRoot() != block.header.merkle_root) return "bad-txnmrklroot";
    if (PayloadHash(block.payload) != block.header.payload_hash) return "bad-payload-hash";
    return "";
}

ChainState::ChainState(const ChainParams& params, const std::string& datadir, Mempool& mempool)
    : m_params(params), m_db(datadir + "/chain"), m_mempool(mempool)
{
    LoadOrCreate();
    m_mempool.AttachStore(m_db);
}

CBlockIndex* ChainState::Lookup(const uint256& hash) const
{
    const auto it = m_index.find(hash);
    return it == m_index.end() ? nullptr : it->second.get();
}

CBlockIndex* ChainState::AddIndex(const uint256& hash, const BlockIndexRecord& rec)
{
    auto& slot = m_index[hash];
    if (!slot) slot = std::make_unique<CBlockIndex>();
    m_by_work.erase(slot.get()); // its key may change
    slot->hash = hash;
    slot->header = rec.header;
    slot->chainwork = rec.chainwork;
    slot->status = rec.status;
    slot->prev = Lookup(rec.header.prev);
    m_by_work.insert(slot.get());
    return slot.get();
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

std::string ChainState::ConnectTip(CBlockIndex* idx)
{
    const auto block = m_db.ReadBlock(idx->hash);
    if (!block) return "block data missing";
    if (idx->prev != Tip()) return "block does not extend the tip";
    if (const auto err = CheckBlock(*block, m_params); !err.empty()) return err;
    if (block->header.time < idx->prev->header.time) return "time-too-old";
    if (!m_meta && !block->payload.empty()) return "bad-payload: this node runs no metachain";
    if (m_meta && block->payload.empty()) return "bad-payload: the metachain payload is missing";

    AccountView view([this](const KeyHash& k) { return m_db.ReadAccount(k); });
    CAmount fees = 0;
    for (size_t i = 1; i < block->vtx.size(); ++i) {
        const TxType type = block->vtx[i].type;
        if (!m_meta && (type == TxType::WithdrawFromMetachain || type == TxType::DepositToMetachain)) {
            return "bad-tx: " + std::string(TxTypeName(type)) + " needs a metachain, and this node runs none";
        }
        const auto err = ApplyTx(view, block->vtx[i], m_params, fees);
        if (!err.empty()) return "tx " + std::to_string(i) + " invalid: " + err;
    }
    const CTransaction& coinbase = block->vtx[0];
    const auto reward = CheckedAdd(m_params.block_reward, fees);
    if (!reward || coinbase.amount != *reward) return "bad-cb-amount";
    const auto miner = DecodeAddress(coinbase.to, m_params.address_hrp);
    if (!miner) return "bad-cb-address";
    if (*miner == m_params.lock_address) return std::string("bad-cb-") + LOCK_ADDRESS_PAID;
    Account m = view.Get(*miner);
    const auto credited = CheckedAdd(m.balance, coinbase.amount);
    if (!credited) return "bad-cb-overflow";
    m.balance = *credited;
    view.Set(*miner, m);

    // The native part is valid: the metachain validates and commits its part,
    // then the native state is committed.
    if (m_meta) {
        try {
            m_meta->ConnectBlock(ConnectInput(*block, m_params));
        } catch (const metachain::Error& e) {
            if (e.IsRejection()) return std::string("bad-payload: ") + e.what();
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
    return "";
}

void ChainState::DisconnectTip()
{
    CBlockIndex* idx = Tip();
    const auto block = m_db.ReadBlock(idx->hash);
    const auto undo = m_db.ReadUndo(idx->hash);
    if (!block || !undo) throw std::runtime_error("cannot disconnect block " + HexStr(idx->hash) + ": data missing");
    if (m_meta && !block->payload.empty()) {
        try {
            mc::MetaDisconnectBlockInput in{};
            in.block_hash = HexStr(block->header.payload_hash);
            m_meta->DisconnectBlock(in);
        } catch (const metachain::Error& e) {
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
}

void ChainState::ActivateBestChain()
{
    for (;;) {
        // The most-work block whose whole branch is stored and not failed.
        CBlockIndex* best = Tip();
        for (CBlockIndex* idx : m_by_work) {
            if (idx->chainwork <= Tip()->chainwork) break;
            bool usable = true;
            for (CBlockIndex* i = idx; i && !InActiveChain(i); i = i->prev) {
                if (!i->HaveData() || i->Failed()) usable = false;
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
            const auto err = ConnectTip(*it);
            if (!err.empty()) {
                LogPrint("block " + HexStr((*it)->hash) + " at height " + std::to_string((*it)->height()) +
                         " is invalid: " + err);
                SetStatus(*it, (*it)->status | BLOCK_FAILED);
                m_invalid_reason[(*it)->hash] = err;
                failed = true;
                break;
            }
        }
        if (!failed) break;
    }
    AfterTipChange();
}

void ChainState::AfterTipChange()
{
    m_mempool.Revalidate([this](const KeyHash& k) { return m_db.ReadAccount(k); });
}

std::string ChainState::ProcessNewBlock(const CBlock& block)
{
    std::lock_guard<std::recursive_mutex> lock(cs);
    const uint256 hash = block.GetHash();
    if (CBlockIndex* known = Lookup(hash)) {
        if (known->Failed()) return "duplicate-invalid";
        return known->HaveData() ? "duplicate" : "";
    }
    if (const auto err = CheckBlock(block, m_params); !err.empty()) return err;
    CBlockIndex* prev = Lookup(block.header.prev);
    if (!prev) return "prev-blk-not-found";
    if (prev->Failed()) return "bad-prevblk";
    if (block.header.height != prev->height() + 1) return "bad-height";
    BlockIndexRecord rec{block.header, prev->chainwork + BlockWork(block.header.bits), BLOCK_HAVE_DATA};
    ChainDB::Batch batch;
    batch.PutBlock(hash, block);
    batch.PutIndex(hash, rec);
    m_db.Write(batch);
    CBlockIndex* idx = AddIndex(hash, rec);
    ActivateBestChain();
    if (idx->Failed()) return m_invalid_reason.count(hash) ? m_invalid_reason[hash] : "invalid";
    return "";
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
        return HexStr(block->header.payload_hash);
    };
    auto tip = m_meta->GetTip();
    size_t undone = 0;
    while (tip.number > 0 && (tip.number > height || expected(tip.number) != std::string(tip.hash))) {
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
        m_meta->ConnectBlock(ConnectInput(*block, m_params));
    }
    if (from <= height)
        LogPrint("metachain was behind the chain: replayed blocks " + std::to_string(from) + " to " +
                 std::to_string(height));
}
