// The protocol's logic between peers and the chain: headers-first sync,
// block download from several peers with an in-flight limit and stall
// detection, announcements of new blocks (as headers) and relay of txs.
// Runs on the connection manager's message thread; reaches the socket layer
// only through CConnman. A block or tx that is invalid by consensus makes its
// sender misbehave (typed states decide, never text); one that arrives early,
// late or unasked is never punished. A metachain failure while connecting a
// block ends the process (ChainState's FatalError), blaming no peer.
//
// Metachain txs travel beside native ones: the metachain's relay feed
// (GetPendingTxs, polled) names the txs its pool admitted, from any source;
// they are announced as `metatx` inventory to peers that do not know them,
// fetched once from one announcer, and handed to the metachain. A tx the
// metachain finds invalid in itself makes its sender misbehave; one that is
// only stale (a used nonce, an underpriced replacement) does not.
#ifndef DEFI_NET_PROCESSING_H
#define DEFI_NET_PROCESSING_H

#include <net.h>
#include <validationinterface.h>

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <set>
#include <vector>

class ChainState;
class Mempool;

class PeerManager : public NetEventsInterface, public CValidationInterface {
public:
    // Blocks asked of one peer at a time.
    static constexpr size_t MAX_BLOCKS_IN_FLIGHT = 16;
    // Block items one getdata is answered with; the rest are notfound.
    static constexpr size_t MAX_BLOCKS_PER_GETDATA = 128;
    // `headers` whose first header does not connect, tolerated per peer.
    static constexpr int MAX_UNCONNECTING_HEADERS = 10;
    // Metachain txs kept to answer getdata; the oldest go first.
    static constexpr size_t MAX_RELAY_META_TXS = 20000;
    // How often the metachain's relay feed is read.
    static constexpr std::chrono::milliseconds META_POLL_INTERVAL{100};
    // A metachain tx asked of a peer may be asked of another after this.
    static constexpr std::chrono::seconds META_REQUEST_TIMEOUT{20};
    // The metachain hears the network status at least this often.
    static constexpr std::chrono::seconds META_STATUS_INTERVAL{1};

    PeerManager(ChainState& chain, Mempool& mempool, CConnman& connman,
                std::chrono::seconds stall_timeout = std::chrono::seconds(10));

    // NetEventsInterface
    void InitializeNode(NodeId id, bool inbound, uint32_t start_height) override;
    void FinalizeNode(NodeId id) override;
    void ProcessMessage(NodeId id, const p2p::Message& msg) override;
    void SendMessages(NodeId id) override;
    // Reads the metachain's relay feed and reports the network status.
    void Round() override;

    // CValidationInterface: announce new tips and pooled txs.
    void UpdatedBlockTip(const CBlockIndex* new_tip, const CBlockIndex* fork) override;
    void TransactionAddedToMempool(const CTransaction& tx) override;

private:
    struct Peer {
        bool inbound{false};
        // The most-work header this peer has shown us.
        const CBlockIndex* best_known{nullptr};
        // Blocks asked of it, with when.
        std::map<uint256, std::chrono::steady_clock::time_point> in_flight;
        int unconnecting_headers{0};
        // Txs it has or was told of, so none is announced to it twice.
        std::set<uint256> known_txs;
        std::set<uint256> known_meta_txs;
        // Told of the metachain txs pooled when it connected.
        bool meta_pool_announced{false};
    };
    using Outbox = std::vector<std::pair<NodeId, p2p::Message>>;

    void OnHeaders(NodeId id, const p2p::MsgHeaders& msg, Outbox& out);
    void OnBlock(NodeId id, const CBlock& block, Outbox& out);
    void OnTx(NodeId id, const CTransaction& tx);
    void OnGetHeaders(NodeId id, const p2p::MsgGetHeaders& msg, Outbox& out);
    void OnGetData(NodeId id, const p2p::MsgGetData& msg, Outbox& out);
    void OnInv(NodeId id, const p2p::MsgInv& msg, Outbox& out);
    void OnMetaTx(NodeId id, const p2p::MsgMetaTx& msg);
    // Reads the metachain's relay feed (at most every META_POLL_INTERVAL)
    // and announces what is new; a newly connected peer hears of the pooled
    // txs (the oldest 1,000), which it may have missed while apart. Takes no
    // lock on entry.
    void PollMetaTxs();
    // Tells the metachain whether we are in initial block download, the
    // heights and the peer count (for eth_syncing, net_peerCount): when they
    // change, and every META_STATUS_INTERVAL. Each new tip reports at once, so
    // no answer after a block is stale. May be called with the chain lock.
    void ReportNetworkStatus();
    // Asks `id` for the blocks on its best branch that nobody is fetching.
    // Caller holds the chain lock and m_mutex.
    void RequestBlocks(NodeId id, Peer& peer, Outbox& out);
    p2p::MsgGetHeaders GetHeadersFrom(const CBlockIndex* from) const;
    // getheaders for what a peer has past our best header.
    p2p::MsgGetHeaders AskForHeaders() const;
    // Sends, then applies what the handlers decided; never under m_mutex, so
    // the connection manager may call back into us.
    void Flush(Outbox& out);
    void Punish(NodeId id, const std::string& why);

    ChainState& m_chain;
    Mempool& m_mempool;
    CConnman& m_connman;
    const std::chrono::seconds m_stall_timeout;

    std::mutex m_mutex; // guards the members below; taken after the chain lock
    std::map<NodeId, Peer> m_peers;
    std::map<uint256, NodeId> m_block_requests; // every block in flight, and from whom
    // Metachain txs the feed named, by hash, in arrival order.
    std::map<uint256, std::vector<uint8_t>> m_meta_txs;
    std::deque<uint256> m_meta_order;
    // Metachain txs asked of a peer, with when.
    std::map<uint256, std::chrono::steady_clock::time_point> m_meta_requested;

    std::mutex m_meta_poll; // one feed read at a time; guards the cursor
    uint64_t m_meta_epoch{0};
    uint64_t m_meta_next{0};
    std::chrono::steady_clock::time_point m_meta_polled{};
    // The status last reported, and when; taken after the chain lock.
    std::mutex m_meta_status_mutex;
    std::tuple<bool, uint64_t, uint64_t, uint32_t> m_meta_status{};
    std::chrono::steady_clock::time_point m_meta_status_sent{};
    std::optional<uint64_t> m_sync_start; // the tip's height when IBD was first seen
};

#endif // DEFI_NET_PROCESSING_H
