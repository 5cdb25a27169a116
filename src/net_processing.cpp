#include <net_processing.h>

#include <chainparams.h>
#include <metachain/backend.h>
#include <metachain/bridge.h>
#include <txmempool.h>
#include <util/logging.h>
#include <util/time.h>
#include <validation.h>

#include <algorithm>

namespace {
// Txs a peer is known to have: forgotten wholesale past this many, at worst
// announcing a tx twice.
constexpr size_t MAX_KNOWN_TXS = 50000;

bool Remember(std::set<uint256>& known, const uint256& txid)
{
    if (known.size() >= MAX_KNOWN_TXS) known.clear();
    return known.insert(txid).second;
}

} // namespace

PeerManager::PeerManager(ChainState& chain, Mempool& mempool, CConnman& connman, std::chrono::seconds stall_timeout)
    : m_chain(chain), m_mempool(mempool), m_connman(connman), m_stall_timeout(stall_timeout)
{
}

p2p::MsgGetHeaders PeerManager::AskForHeaders() const
{
    // From the best header's parent, so the answer holds at least that
    // header: a peer whose headers we all know still shows us its best.
    const CBlockIndex* best = m_chain.BestHeader();
    return GetHeadersFrom(best->prev ? best->prev : best);
}

p2p::MsgGetHeaders PeerManager::GetHeadersFrom(const CBlockIndex* from) const
{
    p2p::MsgGetHeaders msg;
    msg.locator = m_chain.GetLocator(from);
    return msg;
}

void PeerManager::Flush(Outbox& out)
{
    for (auto& [id, msg] : out)
        m_connman.PushMessage(id, msg);
    out.clear();
}

void PeerManager::Punish(NodeId id, const std::string& why) { m_connman.Misbehaving(id, 100, why); }

void PeerManager::InitializeNode(NodeId id, bool inbound, uint32_t /*start_height*/)
{
    Outbox out;
    {
        std::lock_guard<std::recursive_mutex> chain_lock(m_chain.cs);
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_peers[id].inbound = inbound;
        }
        // Ask every new peer for the headers past ours.
        out.emplace_back(id, AskForHeaders());
    }
    Flush(out);
}

void PeerManager::FinalizeNode(NodeId id)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_peers.find(id);
    if (it == m_peers.end()) return;
    // Its downloads go back to the pool for the other peers' next round.
    for (const auto& [hash, when] : it->second.in_flight) {
        if (const auto r = m_block_requests.find(hash); r != m_block_requests.end() && r->second == id) {
            m_block_requests.erase(r);
        }
    }
    m_peers.erase(it);
}

void PeerManager::ProcessMessage(NodeId id, const p2p::Message& msg)
{
    Outbox out;
    std::visit(
        [&](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, p2p::MsgHeaders>) {
                OnHeaders(id, m, out);
            } else if constexpr (std::is_same_v<T, p2p::MsgBlock>) {
                OnBlock(id, m.block, out);
            } else if constexpr (std::is_same_v<T, p2p::MsgTx>) {
                OnTx(id, m.tx);
            } else if constexpr (std::is_same_v<T, p2p::MsgMetaTx>) {
                OnMetaTx(id, m);
            } else if constexpr (std::is_same_v<T, p2p::MsgGetHeaders>) {
                OnGetHeaders(id, m, out);
            } else if constexpr (std::is_same_v<T, p2p::MsgGetData>) {
                OnGetData(id, m, out);
            } else if constexpr (std::is_same_v<T, p2p::MsgInv>) {
                OnInv(id, m, out);
            } else if constexpr (std::is_same_v<T, p2p::MsgNotFound>) {
                // The peer lacks what we asked: someone else will be asked.
                std::lock_guard<std::mutex> lock(m_mutex);
                auto peer = m_peers.find(id);
                for (const auto& item : m.items) {
                    // Another announcer of it may be asked at once.
                    if (item.type == p2p::InvType::MetaTx) m_meta_requested.erase(item.hash);
                    if (item.type != p2p::InvType::Block || peer == m_peers.end()) continue;
                    peer->second.in_flight.erase(item.hash);
                    if (const auto r = m_block_requests.find(item.hash); r != m_block_requests.end() && r->second == id)
                        m_block_requests.erase(r);
                }
            }
            // version, verack, ping, pong, getaddr and addr belong to the connection manager.
        },
        msg);
    Flush(out);
}

void PeerManager::OnHeaders(NodeId id, const p2p::MsgHeaders& msg, Outbox& out)
{
    if (msg.headers.empty()) return;
    for (size_t i = 1; i < msg.headers.size(); ++i) {
        if (msg.headers[i].prev != msg.headers[i - 1].GetHash()) return Punish(id, "non-continuous headers");
    }
    std::lock_guard<std::recursive_mutex> chain_lock(m_chain.cs);
    if (!m_chain.Lookup(msg.headers[0].prev)) {
        // The peer may be on a branch we have not seen: ask from our best.
        bool too_many = false;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            auto it = m_peers.find(id);
            if (it == m_peers.end()) return;
            too_many = ++it->second.unconnecting_headers > MAX_UNCONNECTING_HEADERS;
        }
        if (too_many) return Punish(id, "headers that never connect");
        out.emplace_back(id, AskForHeaders());
        return;
    }
    const CBlockIndex* last = nullptr;
    for (const auto& header : msg.headers) {
        BlockValidationState state;
        if (!m_chain.AcceptBlockHeader(header, state, &last)) {
            if (SenderToBlame(state.GetResult())) return Punish(id, "invalid header: " + state.ToString());
            return;
        }
    }
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_peers.find(id);
    if (it == m_peers.end()) return;
    Peer& peer = it->second;
    peer.unconnecting_headers = 0;
    if (last && (!peer.best_known || last->chainwork > peer.best_known->chainwork)) peer.best_known = last;
    // A full message means there may be more.
    if (msg.headers.size() == p2p::MAX_HEADERS && last) out.emplace_back(id, GetHeadersFrom(last));
    RequestBlocks(id, peer, out);
}

void PeerManager::RequestBlocks(NodeId id, Peer& peer, Outbox& out)
{
    const CBlockIndex* best = peer.best_known;
    if (!best || best->chainwork <= m_chain.Tip()->chainwork || best->Failed()) return;
    if (peer.in_flight.size() >= MAX_BLOCKS_IN_FLIGHT) return;
    std::vector<const CBlockIndex*> path;
    for (const CBlockIndex* i = best; i && !m_chain.InActiveChain(i); i = i->prev)
        path.push_back(i);
    p2p::MsgGetData ask;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = path.rbegin(); it != path.rend() && peer.in_flight.size() < MAX_BLOCKS_IN_FLIGHT; ++it) {
        const CBlockIndex* idx = *it;
        if (idx->Failed()) break;
        if (idx->HaveData() || m_block_requests.count(idx->hash)) continue;
        ask.items.push_back({p2p::InvType::Block, idx->hash});
        peer.in_flight.emplace(idx->hash, now);
        m_block_requests.emplace(idx->hash, id);
    }
    if (!ask.items.empty()) out.emplace_back(id, std::move(ask));
}

void PeerManager::OnBlock(NodeId id, const CBlock& block, Outbox& out)
{
    const uint256 hash = block.GetHash();
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (auto it = m_peers.find(id); it != m_peers.end()) it->second.in_flight.erase(hash);
        if (const auto r = m_block_requests.find(hash); r != m_block_requests.end() && r->second == id) {
            m_block_requests.erase(r);
        }
    }
    std::lock_guard<std::recursive_mutex> chain_lock(m_chain.cs);
    const CBlockIndex* known = m_chain.Lookup(hash);
    const bool had_it = known && known->HaveData();
    BlockValidationState state;
    if (!m_chain.ProcessNewBlock(block, state)) {
        LogPrint("peer " + std::to_string(id) + " sent block " + HexStr(hash) + ": " + state.ToString());
        if (SenderToBlame(state.GetResult())) return Punish(id, "invalid block: " + state.ToString());
        // Early (its parent unknown): learn the branch first.
        if (state.GetResult() == BlockValidationResult::BLOCK_MISSING_PREV) {
            out.emplace_back(id, AskForHeaders());
        }
        return;
    }
    if (!had_it) m_connman.NoteNewBlockFrom(id);
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_peers.find(id);
    if (it == m_peers.end()) return;
    if (const CBlockIndex* idx = m_chain.Lookup(hash)) {
        if (!it->second.best_known || idx->chainwork > it->second.best_known->chainwork) it->second.best_known = idx;
    }
    RequestBlocks(id, it->second, out);
}

void PeerManager::OnTx(NodeId id, const CTransaction& tx)
{
    const uint256 txid = tx.GetHash();
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (auto it = m_peers.find(id); it != m_peers.end()) Remember(it->second.known_txs, txid);
    }
    std::lock_guard<std::recursive_mutex> chain_lock(m_chain.cs);
    if (m_mempool.Contains(txid)) return;
    const auto state = m_mempool.Accept(tx, [this](const KeyHash& k) { return m_chain.GetAccount(k); });
    if (state.IsInvalid() && SenderToBlame(state.GetResult())) Punish(id, "invalid tx: " + state.ToString());
}

void PeerManager::OnMetaTx(NodeId id, const p2p::MsgMetaTx& msg)
{
    metachain::Backend* meta = m_chain.Metachain();
    if (!meta) return;
    std::string hex = metachain::TxHash(msg.raw);
    if (hex.rfind("0x", 0) == 0) hex.erase(0, 2);
    const auto hash = ParseHash(hex);
    if (!hash) return;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (auto it = m_peers.find(id); it != m_peers.end()) Remember(it->second.known_meta_txs, *hash);
        m_meta_requested.erase(*hash);
        if (m_meta_txs.count(*hash)) return;
    }
    mc::MetaSendTransactionInput in{};
    in.raw = metachain::ToRustBytes(msg.raw);
    try {
        meta->SendTransaction(in);
    } catch (const metachain::Error& e) {
        // Invalid in itself: the sender relayed garbage. Anything else (known,
        // stale, pool full, the metachain unreachable) blames nobody.
        if (e.IsRejection() && e.Code() == "invalid-argument") {
            return Punish(id, std::string("invalid metachain tx: ") + e.what());
        }
        LogPrint("peer " + std::to_string(id) + " sent metachain tx " + HexStr(*hash) + ": " + e.what());
        return;
    }
    // Accepted: the feed names it now; read it at the end of this round, so
    // each hop costs a round, not a poll interval.
    std::lock_guard<std::mutex> poll(m_meta_poll);
    m_meta_polled = {};
}

void PeerManager::PollMetaTxs()
{
    metachain::Backend* meta = m_chain.Metachain();
    if (!meta) return;
    std::unique_lock<std::mutex> poll(m_meta_poll, std::try_to_lock);
    if (!poll.owns_lock()) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - m_meta_polled < META_POLL_INTERVAL) return;
    m_meta_polled = now;
    mc::MetaGetPendingTxsResult feed;
    try {
        mc::MetaGetPendingTxsInput in{};
        in.epoch = m_meta_epoch;
        in.since = m_meta_next;
        feed = meta->GetPendingTxs(in);
    } catch (const std::exception& e) {
        // The metachain is down or restarting: its block calls will tell.
        LogPrint(std::string("metachain relay feed: ") + e.what());
        return;
    }
    m_meta_epoch = feed.epoch;
    m_meta_next = feed.next;
    // Peers new since the last read hear of the whole pool: txs admitted
    // while they were apart (a partition, a restart) were announced to others.
    std::vector<NodeId> newcomers;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (auto& [id, peer] : m_peers) {
            if (!peer.meta_pool_announced) {
                peer.meta_pool_announced = true;
                newcomers.push_back(id);
            }
        }
    }
    if (!newcomers.empty()) {
        try {
            mc::MetaGetPendingTxsInput all{};
            auto pooled = meta->GetPendingTxs(all);
            for (auto& tx : pooled.txs)
                feed.txs.push_back(std::move(tx));
        } catch (const std::exception& e) {
            LogPrint(std::string("metachain relay feed: ") + e.what());
        }
    }
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (auto it = m_meta_requested.begin(); it != m_meta_requested.end();) {
            it = now - it->second >= META_REQUEST_TIMEOUT ? m_meta_requested.erase(it) : std::next(it);
        }
    }
    if (feed.txs.empty()) return;
    std::vector<NodeId> ids;
    m_connman.ForEachNode([&ids](NodeId id) { ids.push_back(id); });
    std::map<NodeId, p2p::MsgInv> announce;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (const auto& tx : feed.txs) {
            if (tx.hash.size() != 32) continue;
            uint256 hash;
            std::copy(tx.hash.begin(), tx.hash.end(), hash.begin());
            if (m_meta_txs.emplace(hash, std::vector<uint8_t>(tx.raw.begin(), tx.raw.end())).second) {
                m_meta_order.push_back(hash);
            }
            while (m_meta_order.size() > MAX_RELAY_META_TXS) {
                m_meta_txs.erase(m_meta_order.front());
                m_meta_order.pop_front();
            }
            for (NodeId id : ids) {
                auto it = m_peers.find(id);
                if (it == m_peers.end() || !Remember(it->second.known_meta_txs, hash)) continue;
                auto& inv = announce[id];
                if (inv.items.size() < p2p::MAX_INV) inv.items.push_back({p2p::InvType::MetaTx, hash});
            }
        }
    }
    for (auto& [id, inv] : announce)
        m_connman.PushMessage(id, inv);
}

void PeerManager::Round()
{
    PollMetaTxs();
    ReportNetworkStatus();
}

void PeerManager::ReportNetworkStatus()
{
    metachain::Backend* meta = m_chain.Metachain();
    if (!meta) return;
    bool syncing = false;
    uint64_t tip = 0, highest = 0;
    {
        std::lock_guard<std::recursive_mutex> chain_lock(m_chain.cs);
        syncing = m_chain.IsInitialBlockDownload(GetTime());
        tip = m_chain.Tip()->height();
        highest = m_chain.BestHeader()->height();
    }
    const auto peers = static_cast<uint32_t>(m_connman.GetNodeCount(CConnman::Direction::All));
    std::lock_guard<std::mutex> guard(m_meta_status_mutex);
    if (!syncing) m_sync_start.reset();
    if (syncing && !m_sync_start) m_sync_start = tip;
    const auto status = std::make_tuple(syncing, m_sync_start.value_or(tip), highest, peers);
    const auto now = std::chrono::steady_clock::now();
    if (status == m_meta_status && now - m_meta_status_sent < META_STATUS_INTERVAL) return;
    mc::MetaNetworkStatus in{};
    in.syncing = syncing;
    in.starting_block = std::get<1>(status);
    in.highest_block = highest;
    in.peers = peers;
    try {
        meta->SetNetworkStatus(in);
    } catch (const std::exception& e) {
        LogPrint(std::string("metachain network status: ") + e.what());
        return;
    }
    m_meta_status = status;
    m_meta_status_sent = now;
}

void PeerManager::OnGetHeaders(NodeId id, const p2p::MsgGetHeaders& msg, Outbox& out)
{
    std::lock_guard<std::recursive_mutex> chain_lock(m_chain.cs);
    p2p::MsgHeaders reply;
    if (msg.locator.empty()) {
        if (const CBlockIndex* idx = m_chain.Lookup(msg.stop)) reply.headers.push_back(idx->header);
    } else {
        const CBlockIndex* fork = m_chain.FindFork(msg.locator);
        for (const CBlockIndex* i = m_chain.AtHeight(fork->height() + 1); i && reply.headers.size() < p2p::MAX_HEADERS;
             i = m_chain.AtHeight(i->height() + 1)) {
            reply.headers.push_back(i->header);
            if (i->hash == msg.stop) break;
        }
    }
    out.emplace_back(id, std::move(reply));
}

void PeerManager::OnGetData(NodeId id, const p2p::MsgGetData& msg, Outbox& out)
{
    std::lock_guard<std::recursive_mutex> chain_lock(m_chain.cs);
    p2p::MsgNotFound missing;
    size_t blocks = 0;
    for (const auto& item : msg.items) {
        if (item.type == p2p::InvType::Block) {
            const CBlockIndex* idx = m_chain.Lookup(item.hash);
            auto block =
                idx && idx->HaveData() && blocks < MAX_BLOCKS_PER_GETDATA ? m_chain.ReadBlock(item.hash) : std::nullopt;
            if (!block) {
                missing.items.push_back(item);
                continue;
            }
            ++blocks;
            out.emplace_back(id, p2p::MsgBlock{std::move(*block)});
        } else if (item.type == p2p::InvType::MetaTx) {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (const auto it = m_meta_txs.find(item.hash); it != m_meta_txs.end()) {
                out.emplace_back(id, p2p::MsgMetaTx{it->second});
            } else {
                missing.items.push_back(item);
            }
        } else if (auto tx = m_mempool.Get(item.hash)) {
            out.emplace_back(id, p2p::MsgTx{std::move(*tx)});
        } else {
            missing.items.push_back(item);
        }
    }
    if (!missing.items.empty()) out.emplace_back(id, std::move(missing));
}

void PeerManager::OnInv(NodeId id, const p2p::MsgInv& msg, Outbox& out)
{
    p2p::MsgGetData ask;
    bool block_announced = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_peers.find(id);
        if (it == m_peers.end()) return;
        for (const auto& item : msg.items) {
            if (item.type == p2p::InvType::Block) {
                block_announced = true;
                continue;
            }
            if (item.type == p2p::InvType::MetaTx) {
                Remember(it->second.known_meta_txs, item.hash);
                if (!m_chain.Metachain() || m_meta_txs.count(item.hash)) continue;
                const auto now = std::chrono::steady_clock::now();
                const auto asked = m_meta_requested.find(item.hash);
                if (asked != m_meta_requested.end() && now - asked->second < META_REQUEST_TIMEOUT) continue;
                // Bounded: invs of made-up hashes cannot grow it (expired
                // entries go at each feed read).
                if (asked == m_meta_requested.end() && m_meta_requested.size() >= MAX_RELAY_META_TXS) continue;
                m_meta_requested[item.hash] = now;
                ask.items.push_back(item);
                continue;
            }
            Remember(it->second.known_txs, item.hash);
            if (!m_mempool.Contains(item.hash)) ask.items.push_back(item);
        }
    }
    if (!ask.items.empty()) out.emplace_back(id, std::move(ask));
    if (block_announced) {
        std::lock_guard<std::recursive_mutex> chain_lock(m_chain.cs);
        out.emplace_back(id, AskForHeaders());
    }
}

void PeerManager::SendMessages(NodeId id)
{
    Outbox out;
    bool stalled = false;
    int64_t headers = -1, blocks = -1;
    size_t inflight = 0;
    {
        std::lock_guard<std::recursive_mutex> chain_lock(m_chain.cs);
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_peers.find(id);
        if (it == m_peers.end()) return;
        Peer& peer = it->second;
        const auto now = std::chrono::steady_clock::now();
        for (const auto& [hash, when] : peer.in_flight) {
            if (now - when > m_stall_timeout) stalled = true;
        }
        if (stalled) {
            // Its downloads go to the other peers; it goes.
            for (const auto& [hash, when] : peer.in_flight) {
                if (const auto r = m_block_requests.find(hash); r != m_block_requests.end() && r->second == id) {
                    m_block_requests.erase(r);
                }
            }
            peer.in_flight.clear();
        } else {
            RequestBlocks(id, peer, out);
        }
        if (peer.best_known) {
            headers = peer.best_known->height();
            const CBlockIndex* common = peer.best_known;
            while (common && !m_chain.InActiveChain(common))
                common = common->prev;
            blocks = common ? static_cast<int64_t>(common->height()) : -1;
        }
        inflight = peer.in_flight.size();
    }
    Flush(out);
    m_connman.SetSyncStats(id, headers, blocks, inflight);
    if (stalled) {
        LogPrint("peer " + std::to_string(id) + " stalled a block download for over " +
                 std::to_string(m_stall_timeout.count()) + " s; disconnecting it");
        m_connman.DisconnectNode(id);
    }
}

void PeerManager::UpdatedBlockTip(const CBlockIndex* new_tip, const CBlockIndex* fork)
{
    // Called with the chain lock held. While catching up, peers hear of
    // nothing: they have these blocks already.
    ReportNetworkStatus();
    if (m_chain.IsInitialBlockDownload(GetTime())) return;
    p2p::MsgHeaders announce;
    for (const CBlockIndex* i = new_tip; i && i != fork && announce.headers.size() < p2p::MAX_HEADERS; i = i->prev)
        announce.headers.push_back(i->header);
    std::reverse(announce.headers.begin(), announce.headers.end());
    if (announce.headers.empty()) return;
    std::vector<NodeId> ids;
    m_connman.ForEachNode([&ids](NodeId id) { ids.push_back(id); });
    for (NodeId id : ids)
        m_connman.PushMessage(id, announce);
}

void PeerManager::TransactionAddedToMempool(const CTransaction& tx)
{
    const uint256 txid = tx.GetHash();
    std::vector<NodeId> ids;
    m_connman.ForEachNode([&ids](NodeId id) { ids.push_back(id); });
    std::vector<NodeId> targets;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (NodeId id : ids) {
            auto it = m_peers.find(id);
            if (it == m_peers.end() || !Remember(it->second.known_txs, txid)) continue;
            targets.push_back(id);
        }
    }
    p2p::MsgInv inv;
    inv.items.push_back({p2p::InvType::Tx, txid});
    for (NodeId id : targets)
        m_connman.PushMessage(id, inv);
}
