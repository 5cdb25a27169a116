// The connection layer: sockets, the handshake, pings, time-outs, bans and
// the address book (docs/p2p.md, docs/node.md "Peers"). Three threads:
//
//  - the socket thread runs libevent: it accepts and reads connections,
//    splits the bytes into messages (p2p::MessageStream: framing, magic,
//    checksum, size) and queues each per peer. It decodes nothing else and
//    runs no validation. Two exceptions, both to keep a peer's latency
//    measurable while the message thread is busy: a `pong` (after the
//    handshake) is taken at once, and a `ping` is answered at once when
//    every earlier message from that peer has been processed (otherwise it
//    waits its turn, so a pong still means "all before it is done").
//  - the message thread takes one message per peer per round, decodes it,
//    handles version/verack/ping/pong/getaddr/addr itself and hands every
//    other message to NetEventsInterface::ProcessMessage, then calls
//    SendMessages for each connected peer. Every NetEventsInterface call is
//    made on this thread.
//  - the connection thread opens outbound connections (-connect, -addnode,
//    addnode onetry, and automatic ones from the address book).
#ifndef DEFI_NET_H
#define DEFI_NET_H

#include <addrman.h>
#include <banman.h>
#include <protocol.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

struct ChainParams;
struct event;
struct event_base;
struct evconnlistener;

using NodeId = int64_t;

struct PeerStats {
    NodeId id;
    std::string addr; // "ip:port", or the -connect/-addnode text for a manual connection
    bool inbound;
    uint32_t version;   // the peer's protocol version (0 before its version)
    std::string subver; // its user agent
    uint32_t starting_height;
    int64_t conntime, last_send, last_recv; // Unix seconds (0: never)
    uint64_t bytes_sent, bytes_recv;
    double ping_ms; // -1 if none measured
    // Filled by net_processing through SetSyncStats:
    int64_t synced_headers{-1}, synced_blocks{-1};
    size_t inflight{0};
    // Not part of the lead's interface, shown by getpeerinfo:
    bool manual{false};     // -connect, -addnode or addnode onetry
    bool handshaked{false}; // version and verack exchanged both ways
    double min_ping_ms{-1};
    int misbehavior{0};
};

// What net_processing implements. Every call is made on the message thread.
class NetEventsInterface {
public:
    virtual ~NetEventsInterface() = default;
    // After verack both ways.
    virtual void InitializeNode(NodeId id, bool inbound, uint32_t start_height) = 0;
    // The peer is gone (only for peers that were initialized).
    virtual void FinalizeNode(NodeId id) = 0;
    // Every message but version/verack/ping/pong/getaddr/addr, after the
    // handshake, decoded and within every limit of docs/p2p.md. An exception
    // it throws disconnects the peer (no ban) and is logged.
    virtual void ProcessMessage(NodeId id, const p2p::Message& msg) = 0;
    // After each processing round, for every connected peer (timers, stall
    // checks). Rounds run at least every 100 ms.
    virtual void SendMessages(NodeId id) = 0;
    // Once per processing round, peers or not.
    virtual void Round() {}
};

// Score at which a peer is disconnected and banned for -bantime.
constexpr int DISCOURAGEMENT_THRESHOLD = 100;
// Whether a framing violation bans the peer (all but another network's magic).
bool IsBanworthy(p2p::Violation v);

// "host", "host:port", "[ipv6]:port" or a bare IPv6 literal (default port);
// false for an empty host, a bad port (1 to 65535) or stray brackets.
bool SplitHostPort(const std::string& in, uint16_t default_port, std::string& host, uint16_t& port);

struct AddedNodeInfo {
    std::string added;     // as given to -addnode / addnode add
    bool connected{false}; // an outbound connection made for it is open
    std::string address;   // that connection's peer address
};

struct CNode;

class CConnman {
public:
    struct Options {
        bool listen{true};
        std::vector<std::string> bind;    // "addr" or "addr:port"; empty: 0.0.0.0 and ::
        uint16_t port{0};                 // 0: an ephemeral port (tests); see GetListenPort
        std::vector<std::string> connect; // connect only to these (host:port), reconnecting when dropped
        bool auto_outbound{true};         // open connections from the address book (off with -connect)
        std::vector<std::string> addnode; // connect to these too, reconnecting when dropped
        int max_connections{125};
        int max_outbound{8};        // automatic outbound slots: min(this, max_connections)
        int max_manual{8};          // manual outbound connections (-connect, -addnode, onetry)
        int64_t peer_timeout{60};   // seconds: handshake, silence, pong
        int64_t ping_interval{60};  // seconds (a peer silent for peer_timeout/2 is pinged sooner)
        int64_t ban_time{86400};    // seconds
        int64_t connect_timeout{5}; // seconds for an outbound TCP connect
        std::string user_agent{"/defid:0.0.0/"};
        int client_version{0};         // 10000 * major + 100 * minor + patch (getnetworkinfo)
        std::filesystem::path datadir; // banlist.json and peers.json; empty: nothing persisted
    };

    CConnman(const ChainParams& params, Options options);
    ~CConnman();
    CConnman(const CConnman&) = delete;
    CConnman& operator=(const CConnman&) = delete;

    // Before Start. nullptr: messages for net_processing are dropped.
    void SetEvents(NetEventsInterface* events);
    // The height put in our `version` messages (called on the message thread).
    void SetBestHeight(std::function<uint32_t()> best_height);

    // Loads the ban list and the address book, binds the listening sockets
    // and starts the threads; false with `error` (nothing left running).
    bool Start(std::string& error);
    // Stops the threads (FinalizeNode for every initialized peer), closes
    // every socket and saves the address book. Safe to call twice.
    void Stop();

    // Thread-safe, from any thread; dropped if the peer is gone.
    void PushMessage(NodeId id, const p2p::Message& msg);
    // Handshaked peers not being disconnected; `f` runs without any
    // connman lock held, so it may call back in.
    void ForEachNode(const std::function<void(NodeId)>& f);
    // Adds `score`; at DISCOURAGEMENT_THRESHOLD the peer is disconnected and
    // its address banned for -bantime. Thread-safe.
    void Misbehaving(NodeId id, int score, const std::string& why);
    // False if there is no such peer.
    bool DisconnectNode(NodeId id);
    // By "ip:port" or the text a manual connection was made with.
    bool DisconnectNode(const std::string& address);
    void SetSyncStats(NodeId id, int64_t headers, int64_t blocks, size_t inflight);
    // The peer gave us a valid block we did not have: eviction protects it.
    void NoteNewBlockFrom(NodeId id);
    std::vector<PeerStats> GetStats() const;
    // More than the send-buffer limit (1 MiB) is waiting to be sent to the
    // peer: stop producing for it (the message thread stops taking its
    // messages until it drains).
    bool SendBufferFull(NodeId id) const;

    // For the RPCs.
    enum class Direction { In, Out, All };
    size_t GetNodeCount(Direction d) const;
    uint64_t GetTotalBytesRecv() const { return m_total_recv; }
    uint64_t GetTotalBytesSent() const { return m_total_sent; }
    uint16_t GetListenPort() const { return m_listen_port; }
    uint64_t GetLocalServices() const { return p2p::NODE_NETWORK; }
    const std::string& GetUserAgent() const { return m_opts.user_agent; }
    int ClientVersion() const { return m_opts.client_version; }
    // addnode add / remove: false if already added / not added.
    bool AddNode(const std::string& node);
    bool RemoveAddedNode(const std::string& node);
    std::vector<AddedNodeInfo> GetAddedNodeInfo() const;
    // addnode onetry: one attempt, soon, on the connection thread.
    void OneTry(const std::string& node);
    // Bans `ip` (canonical, BanMan::NormalizeIP) until `until` and
    // disconnects its peers.
    void Ban(const std::string& ip, int64_t until, const std::string& reason);
    bool Unban(const std::string& ip);
    void ClearBanned();
    bool IsBanned(const std::string& ip) const;
    std::map<std::string, BanEntry> ListBanned();
    int64_t BanTime() const { return m_opts.ban_time; }
    // Off: every peer is disconnected, none accepted or opened until on.
    void SetNetworkActive(bool active);
    bool GetNetworkActive() const { return m_network_active; }
    // Pings every handshaked peer soon (the `ping` RPC).
    void PingAll();
    // The address book, for tests and RPCs.
    AddrMan& Addresses() { return m_addrman; }

private:
    friend struct ConnmanCallbacks;
    enum class ConnKind { Inbound, Outbound, Manual };
    struct PendingConnection {
        int fd;
        p2p::NetAddress addr;
        ConnKind kind;
        std::string dest; // manual: the text it was made from
    };

    std::shared_ptr<CNode> FindNode(NodeId id) const;
    // Passes a small, fresh `addr` from `from` on to two other peers that
    // have not seen its addresses. Message thread.
    void RelayAddresses(CNode& from, const p2p::MsgAddr& msg);
    std::vector<std::shared_ptr<CNode>> Snapshot() const;
    void WakeSocketThread();
    void WakeMessageThread();

    // Socket thread.
    void ThreadSocket();
    void OnAccept(int fd, const p2p::NetAddress& addr);
    void AddConnection(PendingConnection c);
    void OnRead(CNode& node);
    void OnClosed(CNode& node, const std::string& why);
    void OnRawMessage(CNode& node, p2p::RawMessage&& msg);
    void OnWake();
    void OnTimer();
    void Flush(CNode& node);
    void CloseSocket(CNode& node);
    bool AttemptToEvictConnection();
    void SendPing(CNode& node);

    // Message thread.
    void ThreadMessageHandler();
    bool ProcessOne(CNode& node);
    void Process(CNode& node, p2p::RawMessage&& raw);
    void HandleVersion(CNode& node, const p2p::MsgVersion& v);
    void SendVersion(CNode& node);
    void HandlePong(CNode& node, uint64_t nonce);
    void FinalizeClosed();

    // Connection thread.
    void ThreadOpenConnections();
    void OpenConnection(const std::string& host, uint16_t port, ConnKind kind, const std::string& dest,
                        const std::optional<p2p::NetAddress>& known);
    bool IsConnectedTo(const std::string& dest, const std::optional<p2p::NetAddress>& addr) const;

    void Disconnect(CNode& node, const std::string& why);
    void Misbehave(CNode& node, int score, const std::string& why);
    void Push(CNode& node, const p2p::Message& msg);
    void PushBytes(CNode& node, std::vector<uint8_t>&& bytes);
    bool IsLocalNonce(uint64_t nonce) const;
    uint64_t RandomNonce();
    int64_t Now() const;

    const ChainParams& m_params;
    const Options m_opts;
    const int m_max_outbound;
    const int m_max_inbound;
    std::atomic<NetEventsInterface*> m_events{nullptr};
    std::function<uint32_t()> m_best_height;
    BanMan m_banman;
    AddrMan m_addrman;

    mutable std::mutex m_nodes_mutex;
    std::map<NodeId, std::shared_ptr<CNode>> m_nodes;
    NodeId m_next_id{0};

    std::mutex m_pending_mutex;
    std::vector<PendingConnection> m_pending; // opened sockets for the socket thread

    mutable std::mutex m_added_mutex;
    std::vector<std::string> m_added;          // -addnode and addnode add
    std::map<std::string, int64_t> m_next_try; // manual destination -> Unix seconds
    std::map<std::string, int64_t> m_backoff;  // manual destination -> seconds
    std::deque<std::string> m_onetry;

    std::mutex m_rng_mutex;
    std::mt19937_64 m_rng;

    std::atomic<bool> m_network_active{true};
    std::atomic<bool> m_interrupt{false};
    std::atomic<bool> m_started{false};
    std::atomic<uint64_t> m_total_recv{0}, m_total_sent{0};
    uint16_t m_listen_port{0};

    event_base* m_base{nullptr};
    event* m_wake_event{nullptr};
    event* m_timer_event{nullptr};
    std::mutex m_wake_mutex; // guards m_wake_event against Stop
    std::vector<evconnlistener*> m_listeners;

    std::mutex m_msg_mutex;
    std::condition_variable m_msg_cv;
    bool m_msg_wake{false};
    std::mutex m_open_mutex;
    std::condition_variable m_open_cv;

    std::thread m_socket_thread, m_message_thread, m_open_thread;
    int64_t m_next_addr_dump{0};
};

#endif // DEFI_NET_H
