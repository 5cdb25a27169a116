#include <net.h>

#include <chainparams.h>
#include <util/logging.h>
#include <util/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <set>
#include <sys/socket.h>
#include <unistd.h>

namespace {

// A peer's queued, unprocessed messages past which its socket is not read
// until the message thread catches up.
constexpr size_t RECV_QUEUE_LIMIT = 8 << 20;
// Bytes waiting to be sent past which the peer's messages wait (it is not
// reading); SendBufferFull.
constexpr size_t SEND_BUFFER_LIMIT = 1 << 20;
// Past this a peer that does not read is disconnected.
constexpr size_t SEND_BUFFER_HARD_LIMIT = 4 * static_cast<size_t>(p2p::MAX_PAYLOAD_SIZE);
constexpr timeval TIMER_INTERVAL{0, 250000};
constexpr auto MESSAGE_ROUND = std::chrono::milliseconds(100);
constexpr auto OPEN_ROUND = std::chrono::milliseconds(500);
constexpr int64_t ADDR_DUMP_INTERVAL = 15 * 60;
constexpr int64_t MAX_MANUAL_BACKOFF = 60;
constexpr int64_t MAX_PROTECTED_BY_PING = 4;
constexpr int64_t MAX_PROTECTED_BY_BLOCKS = 4;

int64_t SteadyMicros()
{
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

p2p::NetAddress FromSockaddr(const sockaddr* sa)
{
    p2p::NetAddress a;
    if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        std::array<uint8_t, 4> v4;
        std::memcpy(v4.data(), &in->sin_addr, 4);
        a = p2p::NetAddress::FromIPv4(v4, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        std::memcpy(a.ip.data(), &in6->sin6_addr, 16);
        a.port = ntohs(in6->sin6_port);
    }
    return a;
}

std::string ErrnoText(int e) { return std::strerror(e); }

void SetNoDelay(int fd)
{
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool ParsePort(const std::string& text, uint16_t& port)
{
    if (text.empty() || text.size() > 5 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    const int v = std::stoi(text);
    if (v < 1 || v > 65535) return false;
    port = static_cast<uint16_t>(v);
    return true;
}

} // namespace

// The address a manual destination names, if it is numeric ("1.2.3.4:8555").
static std::optional<p2p::NetAddress> NumericDest(const std::string& dest, uint16_t default_port)
{
    std::string host;
    uint16_t port = 0;
    if (!SplitHostPort(dest, default_port, host, port)) return std::nullopt;
    const auto ip = p2p::NetAddress::ParseIP(host);
    if (!ip) return std::nullopt;
    p2p::NetAddress a;
    a.ip = *ip;
    a.port = port;
    return a;
}

bool IsBanworthy(p2p::Violation v) { return v != p2p::Violation::BadMagic; }

bool SplitHostPort(const std::string& in, uint16_t default_port, std::string& host, uint16_t& port)
{
    if (in.empty()) return false;
    std::string h = in;
    std::string port_text;
    bool has_port = false;
    if (in[0] == '[') {
        const auto close = in.find(']');
        if (close == std::string::npos) return false;
        h = in.substr(1, close - 1);
        const std::string rest = in.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':') return false;
            port_text = rest.substr(1);
            has_port = true;
        }
        if (!p2p::NetAddress::ParseIP(h)) return false; // brackets hold an IPv6 literal only
    } else if (const size_t colons = std::count(in.begin(), in.end(), ':'); colons == 1) {
        const auto colon = in.find(':');
        h = in.substr(0, colon);
        port_text = in.substr(colon + 1);
        has_port = true;
    } else if (colons > 1 && !p2p::NetAddress::ParseIP(in)) {
        return false; // several colons: only a bare IPv6 literal
    }
    if (h.empty() || h.size() > 255) return false;
    for (const char c : h) {
        if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']' || c == '/') return false;
    }
    uint16_t p = default_port;
    if (has_port && !ParsePort(port_text, p)) return false;
    host = h;
    port = p;
    return true;
}

// One connection. Which thread touches what:
//  - bev, out_cb, stream, recv_paused_local: the socket thread only;
//  - the handshake flags: the message thread only;
//  - the queues: under their mutexes; stats under cs_stats or atomic.
struct CNode {
    CNode(CConnman* cm, bool in, bool man, const p2p::NetAddress& a, std::string n, std::string d,
          const p2p::Magic& magic, uint64_t nonce)
        : connman(cm), inbound(in), manual(man), addr(a), name(std::move(n)), ip(a.ToStringIP()), dest(std::move(d)),
          local_nonce(nonce), stream(magic)
    {
    }

    CConnman* const connman;
    NodeId id{-1};
    const bool inbound;
    const bool manual; // outbound from -connect, -addnode or onetry
    const p2p::NetAddress addr;
    const std::string name; // shown in getpeerinfo and logs
    const std::string ip;   // the ban key
    const std::string dest; // manual: the text it was opened from
    const int64_t conntime{GetTime()};
    const int64_t connected_us{SteadyMicros()};
    const uint64_t local_nonce;

    // Socket thread.
    bufferevent* bev{nullptr};
    evbuffer_cb_entry* out_cb{nullptr};
    p2p::MessageStream stream;

    std::atomic<bool> disconnect{false}; // asked to go
    std::atomic<bool> closed{false};     // socket freed; the message thread finalizes
    std::atomic<bool> handshaked{false}; // version and verack both ways
    std::atomic<bool> recv_paused{false};

    std::mutex cs_recv;
    std::deque<p2p::RawMessage> recv_queue;
    size_t recv_bytes{0};
    bool processing{false}; // the message thread holds one of its messages

    std::mutex cs_send;
    std::deque<std::vector<uint8_t>> send_queue;
    size_t send_queued{0};
    std::atomic<size_t> out_buffered{0}; // in the bufferevent, not yet written

    // Message thread.
    bool version_sent{false}, got_version{false}, got_verack{false}, initialized{false}, getaddr_answered{false};
    p2p::IPv6Bytes seen_as{};         // our address as the peer saw it (its version's addr_recv)
    std::set<std::string> addr_known; // addresses it sent us or we sent it: never relayed to it again

    mutable std::mutex cs_stats;
    uint32_t version{0};
    uint64_t services{0};
    std::string subver;
    uint32_t start_height{0};
    int64_t synced_headers{-1}, synced_blocks{-1};
    size_t inflight{0};
    int misbehavior{0};
    bool banned{false};
    uint64_t ping_nonce{0}; // outstanding ping, 0 for none
    int64_t ping_start_us{0};
    int64_t last_ping_us{0};
    double ping_ms{-1}, min_ping_ms{-1};
    bool ping_requested{false};
    int64_t last_block_us{0}; // steady clock: when it last gave us a block new to us (0: never)

    std::atomic<int64_t> last_send{0}, last_recv{0}; // Unix seconds
    std::atomic<int64_t> last_recv_us{0};            // steady clock
    std::atomic<uint64_t> bytes_sent{0}, bytes_recv{0};

    std::string Label() const
    {
        return "peer " + std::to_string(id) + " (" + name + (inbound ? ", inbound" : manual ? ", manual" : "") + ")";
    }
};

// libevent's C callbacks, friends of CConnman.
struct ConnmanCallbacks {
    static void Read(bufferevent*, void* ctx)
    {
        auto* node = static_cast<CNode*>(ctx);
        node->connman->OnRead(*node);
    }
    static void Event(bufferevent* bev, short what, void* ctx)
    {
        auto* node = static_cast<CNode*>(ctx);
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
            const int err = EVUTIL_SOCKET_ERROR();
            bufferevent_disable(bev, EV_READ | EV_WRITE);
            node->connman->OnClosed(*node, (what & BEV_EVENT_EOF) ? "connection closed by the peer"
                                                                  : "socket error: " + ErrnoText(err));
        }
    }
    static void Output(evbuffer*, const evbuffer_cb_info* info, void* ctx)
    {
        auto* node = static_cast<CNode*>(ctx);
        if (info->n_deleted > 0) {
            node->bytes_sent += info->n_deleted;
            node->connman->m_total_sent += info->n_deleted;
            node->last_send = GetTime();
        }
        node->out_buffered = info->orig_size + info->n_added - info->n_deleted;
    }
    static void Accept(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int, void* ctx)
    {
        static_cast<CConnman*>(ctx)->OnAccept(fd, FromSockaddr(sa));
    }
    static void AcceptError(evconnlistener*, void*)
    {
        static std::atomic<int64_t> last_logged{0};
        const int err = EVUTIL_SOCKET_ERROR();
        const int64_t now = GetTime();
        if (now - last_logged.exchange(now) >= 60) LogPrint("P2P: accept failed: " + ErrnoText(err));
    }
    static void Wake(evutil_socket_t, short, void* ctx) { static_cast<CConnman*>(ctx)->OnWake(); }
    static void Timer(evutil_socket_t, short, void* ctx) { static_cast<CConnman*>(ctx)->OnTimer(); }
};

CConnman::CConnman(const ChainParams& params, Options options)
    : m_params(params), m_opts(std::move(options)),
      m_max_outbound(std::min(m_opts.max_outbound, m_opts.max_connections)),
      m_max_inbound(std::max(0, m_opts.max_connections - std::min(m_opts.max_outbound, m_opts.max_connections))),
      m_banman(m_opts.datadir.empty() ? std::filesystem::path() : m_opts.datadir / "banlist.json"),
      m_addrman(m_opts.datadir.empty() ? std::filesystem::path() : m_opts.datadir / "peers.json",
                params.network != "regtest"),
      m_rng(std::random_device{}())
{
    m_added = m_opts.addnode;
}

CConnman::~CConnman() { Stop(); }

void CConnman::SetEvents(NetEventsInterface* events) { m_events = events; }

void CConnman::SetBestHeight(std::function<uint32_t()> best_height) { m_best_height = std::move(best_height); }

int64_t CConnman::Now() const { return GetTime(); }

uint64_t CConnman::RandomNonce()
{
    std::lock_guard<std::mutex> lock(m_rng_mutex);
    uint64_t n = 0;
    while (n == 0)
        n = m_rng();
    return n;
}

bool CConnman::Start(std::string& error)
{
    if (m_started) {
        error = "the network is already started";
        return false;
    }
    const int64_t now = Now();
    std::string warning;
    if (!m_banman.Load(now, warning)) LogPrint("Warning: " + warning);
    if (!m_addrman.Load(warning)) LogPrint("Warning: " + warning);
    if (!m_opts.datadir.empty()) {
        LogPrint("P2P: " + std::to_string(m_banman.List(now).size()) + " bans in banlist.json, " +
                 std::to_string(m_addrman.Size()) + " addresses in peers.json");
    }

    evthread_use_pthreads();
    m_base = event_base_new();
    if (!m_base) {
        error = "cannot create the network's event base";
        return false;
    }
    m_wake_event = event_new(m_base, -1, 0, ConnmanCallbacks::Wake, this);
    m_timer_event = event_new(m_base, -1, EV_PERSIST, ConnmanCallbacks::Timer, this);
    event_add(m_timer_event, &TIMER_INTERVAL);

    const auto cleanup = [&] {
        for (auto* l : m_listeners)
            evconnlistener_free(l);
        m_listeners.clear();
        event_free(m_wake_event);
        event_free(m_timer_event);
        event_base_free(m_base);
        m_wake_event = m_timer_event = nullptr;
        m_base = nullptr;
    };

    if (m_opts.listen) {
        const bool defaults = m_opts.bind.empty();
        const std::vector<std::string> binds = defaults ? std::vector<std::string>{"0.0.0.0", "::"} : m_opts.bind;
        std::vector<std::string> bound, failed;
        for (const auto& b : binds) {
            std::string host;
            uint16_t port = 0;
            std::optional<p2p::IPv6Bytes> ip;
            if (!SplitHostPort(b, m_opts.port, host, port) || !(ip = p2p::NetAddress::ParseIP(host))) {
                error = "-bind=" + b + " is not an IP address with an optional port";
                cleanup();
                return false;
            }
            if (port == 0) port = m_listen_port; // ephemeral (tests): one port for every address
            p2p::NetAddress a;
            a.ip = *ip;
            a.port = port;
            sockaddr_storage ss{};
            socklen_t len = 0;
            const bool v4 = a.IsIPv4();
            if (v4) {
                auto* in = reinterpret_cast<sockaddr_in*>(&ss);
                in->sin_family = AF_INET;
                in->sin_port = htons(port);
                const auto b4 = a.GetIPv4();
                std::memcpy(&in->sin_addr, b4.data(), 4);
                len = sizeof(sockaddr_in);
            } else {
                auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                std::memcpy(&in6->sin6_addr, a.ip.data(), 16);
                len = sizeof(sockaddr_in6);
            }
            const int fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            const int one = 1;
            std::string why;
            if (fd < 0) {
                why = ErrnoText(errno);
            } else {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (!v4) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, SOMAXCONN) != 0)
                    why = ErrnoText(errno);
            }
            const std::string where = a.ToString();
            if (!why.empty()) {
                if (fd >= 0) ::close(fd);
                failed.push_back("cannot listen on " + where + ": " + why);
                continue;
            }
            evconnlistener* l = evconnlistener_new(m_base, ConnmanCallbacks::Accept, this,
                                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
            if (!l) {
                ::close(fd);
                failed.push_back("cannot listen on " + where);
                continue;
            }
            evconnlistener_set_error_cb(l, ConnmanCallbacks::AcceptError);
            if (m_listen_port == 0) {
                sockaddr_storage got{};
                socklen_t got_len = sizeof(got);
                if (getsockname(fd, reinterpret_cast<sockaddr*>(&got), &got_len) == 0)
                    m_listen_port = FromSockaddr(reinterpret_cast<sockaddr*>(&got)).port;
            }
            m_listeners.push_back(l);
            bound.push_back(v4 ? host + ":" + std::to_string(m_listen_port)
                               : "[" + host + "]:" + std::to_string(m_listen_port));
        }
        // Explicit -bind addresses must all work; of the defaults, one will do.
        if ((!defaults && !failed.empty()) || bound.empty()) {
            error = failed.empty() ? "cannot listen" : failed.front();
            if (error.find("Address already in use") != std::string::npos) error += " (is defid already running?)";
            cleanup();
            return false;
        }
        for (const auto& f : failed)
            LogPrint("P2P: " + f);
        std::string list;
        for (const auto& b : bound)
            list += (list.empty() ? "" : ", ") + b;
        LogPrint("P2P: listening on " + list);
    } else {
        LogPrint("P2P: not listening (-listen=0)");
    }

    m_interrupt = false;
    m_next_addr_dump = now + ADDR_DUMP_INTERVAL;
    m_started = true;
    m_socket_thread = std::thread([this] { ThreadSocket(); });
    m_message_thread = std::thread([this] { ThreadMessageHandler(); });
    m_open_thread = std::thread([this] { ThreadOpenConnections(); });
    return true;
}

void CConnman::Stop()
{
    if (!m_started.exchange(false)) return;
    m_interrupt = true;
    m_open_cv.notify_all();
    WakeMessageThread();
    if (m_open_thread.joinable()) m_open_thread.join();
    if (m_message_thread.joinable()) m_message_thread.join();
    // The message thread is gone: every NetEventsInterface call left is made here.
    NetEventsInterface* events = m_events;
    for (const auto& node : Snapshot()) {
        if (node->initialized && events) events->FinalizeNode(node->id);
        node->initialized = false;
    }
    event_base_loopbreak(m_base);
    if (m_socket_thread.joinable()) m_socket_thread.join();
    {
        std::lock_guard<std::mutex> lock(m_wake_mutex);
        event_free(m_wake_event);
        m_wake_event = nullptr;
    }
    event_free(m_timer_event);
    m_timer_event = nullptr;
    for (auto* l : m_listeners)
        evconnlistener_free(l);
    m_listeners.clear();
    for (const auto& node : Snapshot())
        CloseSocket(*node);
    {
        std::lock_guard<std::mutex> lock(m_nodes_mutex);
        m_nodes.clear();
    }
    {
        std::lock_guard<std::mutex> lock(m_pending_mutex);
        for (const auto& p : m_pending)
            ::close(p.fd);
        m_pending.clear();
    }
    event_base_free(m_base);
    m_base = nullptr;
    std::string error;
    if (!m_addrman.Save(error)) LogPrint("Error: address book not saved: " + error);
    LogPrint("P2P: stopped");
}

std::shared_ptr<CNode> CConnman::FindNode(NodeId id) const
{
    std::lock_guard<std::mutex> lock(m_nodes_mutex);
    const auto it = m_nodes.find(id);
    return it == m_nodes.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<CNode>> CConnman::Snapshot() const
{
    std::lock_guard<std::mutex> lock(m_nodes_mutex);
    std::vector<std::shared_ptr<CNode>> out;
    out.reserve(m_nodes.size());
    for (const auto& [id, node] : m_nodes)
        out.push_back(node);
    return out;
}

void CConnman::WakeSocketThread()
{
    std::lock_guard<std::mutex> lock(m_wake_mutex);
    if (m_wake_event) event_active(m_wake_event, EV_READ, 0);
}

void CConnman::WakeMessageThread()
{
    {
        std::lock_guard<std::mutex> lock(m_msg_mutex);
        m_msg_wake = true;
    }
    m_msg_cv.notify_one();
}

// ---------------------------------------------------------------------------
// Socket thread

void CConnman::ThreadSocket() { event_base_dispatch(m_base); }

void CConnman::OnAccept(int fd, const p2p::NetAddress& addr)
{
    if (!m_network_active || m_interrupt) {
        ::close(fd); // setnetworkactive false: accepted and closed at once, not left waiting
        return;
    }
    if (m_banman.IsBanned(addr.ToStringIP(), Now())) {
        ::close(fd); // refused quietly: a banned peer may keep trying
        return;
    }
    if (GetNodeCount(Direction::In) >= static_cast<size_t>(m_max_inbound) && !AttemptToEvictConnection()) {
        static int64_t last_logged = 0; // socket thread only
        if (Now() - last_logged >= 10) {
            last_logged = Now();
            LogPrint("P2P: inbound slots full (" + std::to_string(m_max_inbound) + "), refused " + addr.ToString());
        }
        ::close(fd);
        return;
    }
    SetNoDelay(fd);
    AddConnection({fd, addr, ConnKind::Inbound, ""});
}

void CConnman::AddConnection(PendingConnection c)
{
    bufferevent* bev = bufferevent_socket_new(m_base, c.fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        ::close(c.fd);
        return;
    }
    const bool inbound = c.kind == ConnKind::Inbound;
    const bool manual = c.kind == ConnKind::Manual;
    const std::string name = manual ? c.dest : c.addr.ToString();
    auto node = std::make_shared<CNode>(this, inbound, manual, c.addr, name, c.dest, m_params.magic,
                                        inbound ? 0 : RandomNonce());
    {
        std::lock_guard<std::mutex> lock(m_nodes_mutex);
        node->id = m_next_id++;
        m_nodes[node->id] = node;
    }
    node->bev = bev;
    bufferevent_setcb(bev, ConnmanCallbacks::Read, nullptr, ConnmanCallbacks::Event, node.get());
    node->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), ConnmanCallbacks::Output, node.get());
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    LogPrint(node->Label() + ": " + (inbound ? "accepted" : "connected to " + c.addr.ToString()));
    WakeMessageThread();
}

void CConnman::OnClosed(CNode& node, const std::string& why) { Disconnect(node, why); }

void CConnman::OnRead(CNode& node)
{
    evbuffer* in = bufferevent_get_input(node.bev);
    if (node.disconnect) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    uint8_t buf[1 << 16];
    int n;
    while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
        node.bytes_recv += n;
        m_total_recv += n;
        node.last_recv = GetTime();
        node.last_recv_us = SteadyMicros();
        try {
            node.stream.Feed(buf, static_cast<size_t>(n));
        } catch (const p2p::ProtocolError& e) {
            const std::string name = p2p::ViolationName(e.violation), what = e.what();
            const std::string why = what.rfind(name, 0) == 0 ? what : name + ": " + what;
            if (IsBanworthy(e.violation)) {
                Misbehave(node, DISCOURAGEMENT_THRESHOLD, why);
            } else {
                Disconnect(node, why);
            }
        }
        while (auto m = node.stream.Next()) {
            if (node.disconnect) break;
            OnRawMessage(node, std::move(*m));
        }
        if (node.disconnect) {
            bufferevent_disable(node.bev, EV_READ);
            evbuffer_drain(in, evbuffer_get_length(in));
            return;
        }
    }
    std::lock_guard<std::mutex> lock(node.cs_recv);
    if (node.recv_bytes > RECV_QUEUE_LIMIT && !node.recv_paused) {
        node.recv_paused = true;
        bufferevent_disable(node.bev, EV_READ);
    }
}

void CConnman::OnRawMessage(CNode& node, p2p::RawMessage&& msg)
{
    // Once connected, pongs are taken here (the message thread may be busy),
    // and a ping is answered here when nothing from the peer waits before it.
    if (node.handshaked && (msg.command == p2p::PONG_COMMAND || msg.command == p2p::PING_COMMAND)) {
        bool idle = true;
        if (msg.command == p2p::PING_COMMAND) {
            std::lock_guard<std::mutex> lock(node.cs_recv);
            idle = node.recv_queue.empty() && !node.processing;
        }
        if (idle) {
            std::optional<p2p::Message> decoded;
            try {
                decoded = p2p::DecodeMessage(msg.command, msg.payload);
            } catch (const p2p::ProtocolError& e) {
                Misbehave(node, DISCOURAGEMENT_THRESHOLD, std::string("malformed: ") + e.what());
                return;
            }
            if (const auto* ping = std::get_if<p2p::MsgPing>(&*decoded)) {
                Push(node, p2p::MsgPong{ping->nonce});
                Flush(node);
            } else {
                HandlePong(node, std::get<p2p::MsgPong>(*decoded).nonce);
            }
            return;
        }
    }
    {
        std::lock_guard<std::mutex> lock(node.cs_recv);
        node.recv_bytes += msg.payload.size();
        node.recv_queue.push_back(std::move(msg));
    }
    WakeMessageThread();
}

void CConnman::Flush(CNode& node)
{
    if (!node.bev) return;
    std::deque<std::vector<uint8_t>> queue;
    {
        std::lock_guard<std::mutex> lock(node.cs_send);
        queue.swap(node.send_queue);
        node.send_queued = 0;
    }
    evbuffer* out = bufferevent_get_output(node.bev);
    for (auto& bytes : queue) {
        // Handed over without a copy; freed once written.
        auto* held = new std::vector<uint8_t>(std::move(bytes));
        if (evbuffer_add_reference(
                out, held->data(), held->size(),
                [](const void*, size_t, void* p) { delete static_cast<std::vector<uint8_t>*>(p); }, held) != 0) {
            delete held;
        }
    }
}

void CConnman::CloseSocket(CNode& node)
{
    if (!node.bev) return;
    if (node.out_cb) evbuffer_remove_cb_entry(bufferevent_get_output(node.bev), node.out_cb);
    node.out_cb = nullptr;
    bufferevent_free(node.bev);
    node.bev = nullptr;
}

void CConnman::OnWake()
{
    std::vector<PendingConnection> pending;
    {
        std::lock_guard<std::mutex> lock(m_pending_mutex);
        pending.swap(m_pending);
    }
    for (auto& c : pending) {
        if (m_interrupt || !m_network_active) {
            ::close(c.fd);
        } else {
            AddConnection(std::move(c));
        }
    }
    bool closed_any = false;
    for (const auto& node : Snapshot()) {
        if (node->disconnect) {
            if (node->bev) {
                CloseSocket(*node);
                node->closed = true;
                closed_any = true;
            }
            continue;
        }
        Flush(*node);
        if (node->recv_paused) {
            std::lock_guard<std::mutex> lock(node->cs_recv);
            if (node->recv_bytes <= RECV_QUEUE_LIMIT) {
                node->recv_paused = false;
                bufferevent_enable(node->bev, EV_READ);
            }
        }
        bool ping = false;
        {
            std::lock_guard<std::mutex> lock(node->cs_stats);
            ping = node->ping_requested && node->handshaked;
        }
        if (ping) SendPing(*node);
    }
    if (closed_any) WakeMessageThread();
}

void CConnman::SendPing(CNode& node)
{
    const uint64_t nonce = RandomNonce();
    {
        std::lock_guard<std::mutex> lock(node.cs_stats);
        node.ping_requested = false;
        node.ping_nonce = nonce;
        node.ping_start_us = node.last_ping_us = SteadyMicros();
    }
    Push(node, p2p::MsgPing{nonce});
    Flush(node);
}

void CConnman::OnTimer()
{
    const int64_t now_us = SteadyMicros();
    const int64_t timeout_us = m_opts.peer_timeout * 1000000;
    const int64_t interval_us = m_opts.ping_interval * 1000000;
    const std::string secs = std::to_string(m_opts.peer_timeout) + " s";
    for (const auto& node : Snapshot()) {
        if (node->disconnect) continue;
        // Not reading it (its messages wait for the message thread): the
        // silence is ours, not the peer's.
        if (node->recv_paused) continue;
        if (!node->handshaked && now_us - node->connected_us > timeout_us) {
            Disconnect(*node, "no handshake within " + secs);
            continue;
        }
        const int64_t quiet_us = now_us - std::max<int64_t>(node->last_recv_us, node->connected_us);
        if (quiet_us > timeout_us) {
            Disconnect(*node, "nothing received for " + secs);
            continue;
        }
        if (!node->handshaked) continue;
        bool ping = false, late = false;
        {
            std::lock_guard<std::mutex> lock(node->cs_stats);
            if (node->ping_nonce != 0 && now_us - node->ping_start_us > timeout_us) {
                late = true;
            } else if (node->ping_requested || node->last_ping_us == 0 ||
                       (node->ping_nonce == 0 &&
                        (now_us - node->last_ping_us >= interval_us || quiet_us >= timeout_us / 2))) {
                ping = true;
            }
        }
        if (late) {
            Disconnect(*node, "no pong within " + secs);
        } else if (ping) {
            SendPing(*node);
        }
    }
    const int64_t now = Now();
    if (now >= m_next_addr_dump) {
        m_next_addr_dump = now + ADDR_DUMP_INTERVAL;
        std::string error;
        if (!m_addrman.Save(error)) LogPrint("Error: address book not saved: " + error);
    }
    OnWake(); // frees what was disconnected, flushes, resumes reading
}

bool CConnman::AttemptToEvictConnection()
{
    struct Candidate {
        std::shared_ptr<CNode> node;
        double min_ping;
        int64_t last_block_us;
    };
    std::vector<Candidate> candidates;
    for (const auto& node : Snapshot()) {
        if (!node->inbound || node->disconnect) continue;
        std::lock_guard<std::mutex> lock(node->cs_stats);
        candidates.push_back({node, node->min_ping_ms, node->last_block_us});
    }
    // Protect the peers that most recently gave us new blocks (an attacker
    // cannot fake being useful), then the fastest (a measured ping), then the
    // older half of the rest.
    std::sort(candidates.begin(), candidates.end(),
              [](const Candidate& a, const Candidate& b) { return a.last_block_us > b.last_block_us; });
    int64_t by_blocks = 0;
    while (by_blocks < MAX_PROTECTED_BY_BLOCKS && by_blocks < static_cast<int64_t>(candidates.size()) &&
           candidates[by_blocks].last_block_us > 0)
        ++by_blocks;
    candidates.erase(candidates.begin(), candidates.begin() + by_blocks);
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        if ((a.min_ping >= 0) != (b.min_ping >= 0)) return a.min_ping >= 0;
        return a.min_ping < b.min_ping;
    });
    int64_t protect = 0;
    while (protect < MAX_PROTECTED_BY_PING && protect < static_cast<int64_t>(candidates.size()) &&
           candidates[protect].min_ping >= 0)
        ++protect;
    candidates.erase(candidates.begin(), candidates.begin() + protect);
    std::sort(candidates.begin(), candidates.end(),
              [](const Candidate& a, const Candidate& b) { return a.node->connected_us < b.node->connected_us; });
    candidates.erase(candidates.begin(), candidates.begin() + candidates.size() / 2);
    if (candidates.empty()) return false;
    // From the address with the most connections, the youngest.
    std::map<std::string, std::vector<std::shared_ptr<CNode>>> by_ip;
    for (const auto& c : candidates)
        by_ip[c.node->ip].push_back(c.node);
    const std::vector<std::shared_ptr<CNode>>* group = nullptr;
    int64_t group_youngest = 0;
    for (const auto& [ip, nodes] : by_ip) {
        int64_t youngest = 0;
        for (const auto& n : nodes)
            youngest = std::max(youngest, n->connected_us);
        if (!group || nodes.size() > group->size() || (nodes.size() == group->size() && youngest > group_youngest)) {
            group = &nodes;
            group_youngest = youngest;
        }
    }
    const auto victim = *std::max_element(
        group->begin(), group->end(), [](const auto& a, const auto& b) { return a->connected_us < b->connected_us; });
    Disconnect(*victim, "evicted to make room for a new inbound connection");
    return true;
}

// ---------------------------------------------------------------------------
// Message thread

void CConnman::ThreadMessageHandler()
{
    while (!m_interrupt) {
        bool more = false;
        NetEventsInterface* events = m_events;
        for (const auto& node : Snapshot()) {
            if (m_interrupt) break;
            if (node->disconnect) continue;
            if (!node->inbound && !node->version_sent) SendVersion(*node);
            if (ProcessOne(*node)) more = true;
            if (node->initialized && !node->disconnect && events) {
                try {
                    events->SendMessages(node->id);
                } catch (const std::exception& e) {
                    LogPrint("Error: " + node->Label() + ": sending: " + e.what());
                    Disconnect(*node, "internal error while sending");
                }
            }
        }
        if (events && !m_interrupt) {
            try {
                events->Round();
            } catch (const std::exception& e) {
                LogPrint(std::string("Error: message round: ") + e.what());
            }
        }
        FinalizeClosed();
        std::unique_lock<std::mutex> lock(m_msg_mutex);
        if (!more) m_msg_cv.wait_for(lock, MESSAGE_ROUND, [this] { return m_msg_wake || m_interrupt; });
        m_msg_wake = false;
    }
}

bool CConnman::ProcessOne(CNode& node)
{
    if (SendBufferFull(node.id)) return false; // the peer is not reading: its requests wait
    p2p::RawMessage raw;
    bool resume = false;
    {
        std::lock_guard<std::mutex> lock(node.cs_recv);
        if (node.recv_queue.empty()) return false;
        raw = std::move(node.recv_queue.front());
        node.recv_queue.pop_front();
        node.recv_bytes -= raw.payload.size();
        node.processing = true;
        resume = node.recv_paused && node.recv_bytes <= RECV_QUEUE_LIMIT;
    }
    if (resume) WakeSocketThread();
    Process(node, std::move(raw));
    std::lock_guard<std::mutex> lock(node.cs_recv);
    node.processing = false;
    return !node.recv_queue.empty() && !node.disconnect;
}

void CConnman::Process(CNode& node, p2p::RawMessage&& raw)
{
    std::optional<p2p::Message> msg;
    try {
        msg = p2p::DecodeMessage(raw.command, raw.payload);
    } catch (const p2p::ProtocolError& e) {
        Misbehave(node, DISCOURAGEMENT_THRESHOLD, std::string("malformed: ") + e.what());
        return;
    }
    raw.payload.clear();
    raw.payload.shrink_to_fit();
    if (!msg) {
        // Unknown commands are how later versions add messages: ignored,
        // but only once the peer has shown what it is.
        if (!node.got_version || !node.got_verack) Disconnect(node, "sent " + raw.command + " before the handshake");
        return;
    }
    if (const auto* version = std::get_if<p2p::MsgVersion>(&*msg)) {
        if (node.got_version) {
            Disconnect(node, "sent version twice");
        } else {
            HandleVersion(node, *version);
        }
        return;
    }
    if (!node.got_version) {
        Disconnect(node, "sent " + raw.command + " before version");
        return;
    }
    if (std::holds_alternative<p2p::MsgVerack>(*msg)) {
        if (node.got_verack) return; // a repeat changes nothing
        node.got_verack = true;
        uint32_t start_height;
        std::string subver;
        uint32_t version;
        {
            std::lock_guard<std::mutex> lock(node.cs_stats);
            start_height = node.start_height;
            subver = node.subver;
            version = node.version;
        }
        {
            std::lock_guard<std::mutex> lock(node.cs_stats);
            node.ping_requested = true; // the first ping, at once
        }
        node.handshaked = true;
        LogPrint(node.Label() + ": handshake done, version " + std::to_string(version) + ", " + subver + ", height " +
                 std::to_string(start_height));
        if (!node.inbound) {
            p2p::NetAddress a = node.addr;
            a.services = node.services;
            m_addrman.Good(a, Now());
            if (node.manual) {
                std::lock_guard<std::mutex> lock(m_added_mutex);
                m_backoff.erase(node.dest);
            }
            Push(node, p2p::MsgGetAddr{});
            // Tell it where we listen, at the address it reached us by, so
            // its other peers can find us.
            if (m_opts.listen && m_listen_port) {
                p2p::NetAddress self;
                self.services = GetLocalServices();
                self.ip = node.seen_as;
                self.port = m_listen_port;
                node.addr_known.insert(self.ToString());
                Push(node, p2p::MsgAddr{{p2p::TimedAddress{static_cast<uint32_t>(Now()), self}}});
            }
        }
        if (NetEventsInterface* events = m_events) {
            node.initialized = true;
            events->InitializeNode(node.id, node.inbound, start_height);
        }
        WakeSocketThread();
        return;
    }
    if (!node.got_verack) {
        Disconnect(node, "sent " + raw.command + " before verack");
        return;
    }
    if (const auto* ping = std::get_if<p2p::MsgPing>(&*msg)) {
        Push(node, p2p::MsgPong{ping->nonce});
    } else if (const auto* pong = std::get_if<p2p::MsgPong>(&*msg)) {
        HandlePong(node, pong->nonce);
    } else if (std::holds_alternative<p2p::MsgGetAddr>(*msg)) {
        // Answered once per connection, and only to inbound peers (an
        // outbound peer would learn which addresses we chose to connect to).
        if (node.inbound && !node.getaddr_answered) {
            node.getaddr_answered = true;
            Push(node, p2p::MsgAddr{m_addrman.GetAddr(p2p::MAX_ADDR)});
        }
    } else if (const auto* addr = std::get_if<p2p::MsgAddr>(&*msg)) {
        m_addrman.Add(addr->addrs, Now());
        RelayAddresses(node, *addr);
    } else if (NetEventsInterface* events = m_events) {
        try {
            events->ProcessMessage(node.id, *msg);
        } catch (const std::exception& e) {
            LogPrint("Error: " + node.Label() + ": processing " + raw.command + ": " + e.what());
            Disconnect(node, "internal error while processing " + raw.command);
        }
    }
}

void CConnman::RelayAddresses(CNode& from, const p2p::MsgAddr& msg)
{
    // Bounded memory: forgetting only means an address may be sent twice.
    constexpr size_t MAX_KNOWN = 5000;
    const auto remember = [](CNode& n, const std::string& a) {
        if (n.addr_known.size() >= MAX_KNOWN) n.addr_known.clear();
        return n.addr_known.insert(a).second;
    };
    for (const auto& a : msg.addrs)
        remember(from, a.addr.ToString());
    // Only small, fresh announcements travel on (a getaddr answer does not),
    // each to two other peers, as bitcoind relays them.
    if (msg.addrs.size() > 10) return;
    std::vector<std::shared_ptr<CNode>> others;
    for (const auto& n : Snapshot()) {
        if (n.get() != &from && n->handshaked && !n->disconnect) others.push_back(n);
    }
    const int64_t now = Now();
    for (const auto& a : msg.addrs) {
        if (static_cast<int64_t>(a.time) < now - 600 || static_cast<int64_t>(a.time) > now + 600) continue;
        const std::string key = a.addr.ToString();
        std::vector<std::shared_ptr<CNode>> fresh;
        for (const auto& n : others) {
            if (!n->addr_known.count(key)) fresh.push_back(n);
        }
        for (int picked = 0; picked < 2 && !fresh.empty(); ++picked) {
            const size_t i = static_cast<size_t>(RandomNonce() % fresh.size());
            remember(*fresh[i], key);
            Push(*fresh[i], p2p::MsgAddr{{a}});
            fresh.erase(fresh.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }
}

void CConnman::HandleVersion(CNode& node, const p2p::MsgVersion& v)
{
    if (v.version < p2p::MIN_PEER_PROTO_VERSION) {
        Disconnect(node, "protocol version " + std::to_string(v.version) + " is below " +
                             std::to_string(p2p::MIN_PEER_PROTO_VERSION));
        return;
    }
    if (node.inbound && IsLocalNonce(v.nonce)) {
        Disconnect(node, "connected to itself");
        for (const auto& other : Snapshot()) {
            if (other->inbound || other->local_nonce != v.nonce) continue;
            if (!other->manual) m_addrman.Remove(other->addr); // never try it again
            Disconnect(*other, "connected to itself");
        }
        return;
    }
    {
        std::lock_guard<std::mutex> lock(node.cs_stats);
        node.version = v.version;
        node.services = v.services;
        node.subver = v.user_agent;
        node.start_height = v.start_height;
    }
    node.seen_as = v.addr_recv.ip;
    node.got_version = true;
    if (node.inbound) SendVersion(node);
    Push(node, p2p::MsgVerack{});
}

void CConnman::SendVersion(CNode& node)
{
    p2p::MsgVersion v;
    v.version = p2p::PROTOCOL_VERSION;
    v.services = GetLocalServices();
    v.timestamp = Now();
    v.addr_recv = node.addr;
    v.nonce = node.local_nonce ? node.local_nonce : RandomNonce();
    v.user_agent = m_opts.user_agent;
    v.start_height = 0;
    if (m_best_height) {
        try {
            v.start_height = m_best_height();
        } catch (const std::exception& e) {
            LogPrint(std::string("Error: best height unavailable: ") + e.what());
        }
    }
    v.relay = true;
    Push(node, v);
    node.version_sent = true;
}

void CConnman::HandlePong(CNode& node, uint64_t nonce)
{
    std::lock_guard<std::mutex> lock(node.cs_stats);
    if (node.ping_nonce == 0 || nonce != node.ping_nonce) return; // unasked or stale: ignored
    node.ping_ms = static_cast<double>(SteadyMicros() - node.ping_start_us) / 1000.0;
    if (node.min_ping_ms < 0 || node.ping_ms < node.min_ping_ms) node.min_ping_ms = node.ping_ms;
    node.ping_nonce = 0;
}

void CConnman::FinalizeClosed()
{
    std::vector<std::shared_ptr<CNode>> gone;
    {
        std::lock_guard<std::mutex> lock(m_nodes_mutex);
        for (auto it = m_nodes.begin(); it != m_nodes.end();) {
            if (it->second->closed) {
                gone.push_back(it->second);
                it = m_nodes.erase(it);
            } else {
                ++it;
            }
        }
    }
    NetEventsInterface* events = m_events;
    for (const auto& node : gone) {
        if (node->initialized && events) events->FinalizeNode(node->id);
        node->initialized = false;
    }
}

// ---------------------------------------------------------------------------
// Connection thread

bool CConnman::IsConnectedTo(const std::string& dest, const std::optional<p2p::NetAddress>& addr) const
{
    std::lock_guard<std::mutex> lock(m_nodes_mutex);
    for (const auto& [id, node] : m_nodes) {
        if (node->disconnect || node->inbound) continue;
        if (!dest.empty() && node->dest == dest) return true;
        if (addr && node->addr.ip == addr->ip && node->addr.port == addr->port) return true;
    }
    return false;
}

void CConnman::ThreadOpenConnections()
{
    while (!m_interrupt) {
        {
            std::unique_lock<std::mutex> lock(m_open_mutex);
            m_open_cv.wait_for(lock, OPEN_ROUND);
        }
        if (m_interrupt) break;
        if (!m_network_active) continue;
        const auto manual_count = [this] {
            std::lock_guard<std::mutex> lock(m_nodes_mutex);
            return std::count_if(m_nodes.begin(), m_nodes.end(),
                                 [](const auto& kv) { return kv.second->manual && !kv.second->disconnect; });
        };
        // addnode onetry: once each.
        std::deque<std::string> once;
        std::vector<std::string> dests = m_opts.connect;
        {
            std::lock_guard<std::mutex> lock(m_added_mutex);
            once.swap(m_onetry);
            dests.insert(dests.end(), m_added.begin(), m_added.end());
        }
        for (const auto& d : once) {
            std::string host;
            uint16_t port = 0;
            if (m_interrupt || !SplitHostPort(d, m_params.default_p2p_port, host, port)) continue;
            if (manual_count() >= m_opts.max_manual) {
                LogPrint("P2P: addnode onetry " + d + ": all " + std::to_string(m_opts.max_manual) +
                         " manual slots in use");
                continue;
            }
            OpenConnection(host, port, ConnKind::Manual, d, std::nullopt);
        }
        // -connect and added nodes: kept connected, retried with a backoff.
        const int64_t now = Now();
        for (const auto& d : dests) {
            if (m_interrupt || manual_count() >= m_opts.max_manual) break;
            if (IsConnectedTo(d, NumericDest(d, m_params.default_p2p_port))) continue;
            {
                std::lock_guard<std::mutex> lock(m_added_mutex);
                if (now < m_next_try[d]) continue;
                int64_t& backoff = m_backoff[d];
                backoff = backoff == 0 ? 1 : std::min(backoff * 2, MAX_MANUAL_BACKOFF);
                m_next_try[d] = now + backoff;
            }
            std::string host;
            uint16_t port = 0;
            if (!SplitHostPort(d, m_params.default_p2p_port, host, port)) continue;
            OpenConnection(host, port, ConnKind::Manual, d, std::nullopt);
        }
        // Automatic outbound connections from the address book.
        if (!m_opts.auto_outbound || m_interrupt) continue;
        size_t outbound = 0;
        {
            std::lock_guard<std::mutex> lock(m_nodes_mutex);
            for (const auto& [id, node] : m_nodes)
                outbound += !node->inbound && !node->manual && !node->disconnect;
        }
        if (outbound >= static_cast<size_t>(m_max_outbound)) continue;
        // Not the manual peers' addresses: those have their own slots.
        std::vector<p2p::NetAddress> manual_addrs;
        for (const auto& d : dests) {
            if (const auto a = NumericDest(d, m_params.default_p2p_port)) manual_addrs.push_back(*a);
        }
        const auto chosen = m_addrman.Select(Now(), [&](const p2p::NetAddress& a) {
            for (const auto& m : manual_addrs) {
                if (m.ip == a.ip && m.port == a.port) return false;
            }
            return !m_banman.IsBanned(a.ToStringIP(), Now()) && !IsConnectedTo("", a);
        });
        if (!chosen) continue;
        m_addrman.Attempt(*chosen, Now());
        OpenConnection(chosen->ToStringIP(), chosen->port, ConnKind::Outbound, "", chosen);
    }
}

void CConnman::OpenConnection(const std::string& host, uint16_t port, ConnKind kind, const std::string& dest,
                              const std::optional<p2p::NetAddress>& known)
{
    const std::string what = dest.empty() ? known->ToString() : dest;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
        LogPrint("P2P: cannot resolve " + what + ": " + gai_strerror(rc));
        return;
    }
    std::string last_error = "no address";
    for (addrinfo* ai = res; ai && !m_interrupt; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_error = ErrnoText(errno);
            continue;
        }
        int err = 0;
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                // Waits in short steps, so Stop is not held up.
                err = ETIMEDOUT;
                for (int64_t waited = 0; waited < m_opts.connect_timeout * 1000 && !m_interrupt; waited += 100) {
                    pollfd p{fd, POLLOUT, 0};
                    const int r = ::poll(&p, 1, 100);
                    if (r > 0) {
                        socklen_t len = sizeof(err);
                        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
                        break;
                    }
                    if (r < 0 && errno != EINTR) {
                        err = errno;
                        break;
                    }
                }
            }
        }
        if (err != 0) {
            last_error = ErrnoText(err);
            ::close(fd);
            continue;
        }
        SetNoDelay(fd);
        PendingConnection c{fd, FromSockaddr(ai->ai_addr), kind, dest};
        if (known) c.addr.services = known->services;
        freeaddrinfo(res);
        {
            std::lock_guard<std::mutex> lock(m_pending_mutex);
            m_pending.push_back(std::move(c));
        }
        WakeSocketThread();
        return;
    }
    freeaddrinfo(res);
    if (!m_interrupt) LogPrint("P2P: cannot connect to " + what + ": " + last_error);
}

// ---------------------------------------------------------------------------
// Shared

void CConnman::Disconnect(CNode& node, const std::string& why)
{
    if (node.disconnect.exchange(true)) return;
    LogPrint(node.Label() + ": disconnecting: " + why);
    WakeSocketThread();
    WakeMessageThread();
}

void CConnman::Misbehave(CNode& node, int score, const std::string& why)
{
    bool ban = false;
    int total = 0;
    {
        std::lock_guard<std::mutex> lock(node.cs_stats);
        node.misbehavior += std::max(score, 0);
        total = node.misbehavior;
        if (total >= DISCOURAGEMENT_THRESHOLD && !node.banned) node.banned = ban = true;
    }
    LogPrint(node.Label() + ": misbehaving (+" + std::to_string(score) + ", total " + std::to_string(total) +
             "): " + why);
    if (!ban) return;
    const int64_t now = Now();
    m_banman.Ban(node.ip, now, now + m_opts.ban_time, why);
    LogPrint("P2P: banned " + node.ip + " for " + std::to_string(m_opts.ban_time) + " s");
    Disconnect(node, "misbehaving: " + why);
}

void CConnman::Push(CNode& node, const p2p::Message& msg)
{
    if (node.disconnect) return;
    std::vector<uint8_t> bytes;
    try {
        bytes = p2p::EncodeMessage(m_params.magic, msg);
    } catch (const std::exception& e) {
        LogPrint("Error: " + node.Label() + ": cannot encode " + p2p::CommandOf(msg) + ": " + e.what());
        return;
    }
    PushBytes(node, std::move(bytes));
}

void CConnman::PushBytes(CNode& node, std::vector<uint8_t>&& bytes)
{
    size_t waiting = 0;
    {
        std::lock_guard<std::mutex> lock(node.cs_send);
        node.send_queued += bytes.size();
        node.send_queue.push_back(std::move(bytes));
        waiting = node.send_queued + node.out_buffered;
    }
    if (waiting > SEND_BUFFER_HARD_LIMIT) {
        Disconnect(node, "over " + std::to_string(SEND_BUFFER_HARD_LIMIT >> 20) + " MiB waiting to be sent");
        return;
    }
    WakeSocketThread();
}

bool CConnman::IsLocalNonce(uint64_t nonce) const
{
    std::lock_guard<std::mutex> lock(m_nodes_mutex);
    for (const auto& [id, node] : m_nodes) {
        if (!node->inbound && !node->handshaked && node->local_nonce == nonce) return true;
    }
    return false;
}

// ---------------------------------------------------------------------------
// Public interface

void CConnman::PushMessage(NodeId id, const p2p::Message& msg)
{
    if (const auto node = FindNode(id)) Push(*node, msg);
}

void CConnman::ForEachNode(const std::function<void(NodeId)>& f)
{
    std::vector<NodeId> ids;
    {
        std::lock_guard<std::mutex> lock(m_nodes_mutex);
        for (const auto& [id, node] : m_nodes) {
            if (node->handshaked && !node->disconnect) ids.push_back(id);
        }
    }
    for (const NodeId id : ids)
        f(id);
}

void CConnman::Misbehaving(NodeId id, int score, const std::string& why)
{
    if (const auto node = FindNode(id)) Misbehave(*node, score, why);
}

bool CConnman::DisconnectNode(NodeId id)
{
    const auto node = FindNode(id);
    if (!node || node->disconnect) return false;
    Disconnect(*node, "disconnectnode");
    return true;
}

bool CConnman::DisconnectNode(const std::string& address)
{
    bool found = false;
    for (const auto& node : Snapshot()) {
        if (node->disconnect || (node->name != address && node->addr.ToString() != address)) continue;
        Disconnect(*node, "disconnectnode");
        found = true;
    }
    return found;
}

void CConnman::NoteNewBlockFrom(NodeId id)
{
    const auto node = FindNode(id);
    if (!node) return;
    std::lock_guard<std::mutex> lock(node->cs_stats);
    node->last_block_us = SteadyMicros();
}

void CConnman::SetSyncStats(NodeId id, int64_t headers, int64_t blocks, size_t inflight)
{
    const auto node = FindNode(id);
    if (!node) return;
    std::lock_guard<std::mutex> lock(node->cs_stats);
    node->synced_headers = headers;
    node->synced_blocks = blocks;
    node->inflight = inflight;
}

std::vector<PeerStats> CConnman::GetStats() const
{
    std::vector<PeerStats> out;
    for (const auto& node : Snapshot()) {
        if (node->disconnect) continue;
        std::lock_guard<std::mutex> lock(node->cs_stats);
        PeerStats s{node->id,        node->name,         node->inbound,    node->version,
                    node->subver,    node->start_height, node->conntime,   node->last_send,
                    node->last_recv, node->bytes_sent,   node->bytes_recv, node->ping_ms};
        s.synced_headers = node->synced_headers;
        s.synced_blocks = node->synced_blocks;
        s.inflight = node->inflight;
        s.manual = node->manual;
        s.handshaked = node->handshaked;
        s.min_ping_ms = node->min_ping_ms;
        s.misbehavior = node->misbehavior;
        out.push_back(std::move(s));
    }
    return out;
}

bool CConnman::SendBufferFull(NodeId id) const
{
    const auto node = FindNode(id);
    if (!node) return false;
    std::lock_guard<std::mutex> lock(node->cs_send);
    return node->send_queued + node->out_buffered > SEND_BUFFER_LIMIT;
}

size_t CConnman::GetNodeCount(Direction d) const
{
    std::lock_guard<std::mutex> lock(m_nodes_mutex);
    size_t n = 0;
    for (const auto& [id, node] : m_nodes) {
        if (node->disconnect) continue;
        if (d == Direction::All || (d == Direction::In) == node->inbound) ++n;
    }
    return n;
}

bool CConnman::AddNode(const std::string& node)
{
    {
        std::lock_guard<std::mutex> lock(m_added_mutex);
        if (std::find(m_added.begin(), m_added.end(), node) != m_added.end()) return false;
        m_added.push_back(node);
        m_next_try.erase(node);
        m_backoff.erase(node);
    }
    m_open_cv.notify_all();
    return true;
}

bool CConnman::RemoveAddedNode(const std::string& node)
{
    std::lock_guard<std::mutex> lock(m_added_mutex);
    const auto it = std::find(m_added.begin(), m_added.end(), node);
    if (it == m_added.end()) return false;
    m_added.erase(it);
    m_next_try.erase(node);
    m_backoff.erase(node);
    return true;
}

std::vector<AddedNodeInfo> CConnman::GetAddedNodeInfo() const
{
    std::vector<std::string> added;
    {
        std::lock_guard<std::mutex> lock(m_added_mutex);
        added = m_added;
    }
    std::vector<AddedNodeInfo> out;
    std::lock_guard<std::mutex> lock(m_nodes_mutex);
    for (const auto& a : added) {
        AddedNodeInfo info;
        info.added = a;
        const auto numeric = NumericDest(a, m_params.default_p2p_port);
        for (const auto& [id, node] : m_nodes) {
            if (node->disconnect || node->inbound) continue;
            if (node->dest != a && !(numeric && node->addr.ip == numeric->ip && node->addr.port == numeric->port))
                continue;
            info.connected = true;
            info.address = node->addr.ToString();
            break;
        }
        out.push_back(std::move(info));
    }
    return out;
}

void CConnman::OneTry(const std::string& node)
{
    {
        std::lock_guard<std::mutex> lock(m_added_mutex);
        m_onetry.push_back(node);
    }
    m_open_cv.notify_all();
}

void CConnman::Ban(const std::string& ip, int64_t until, const std::string& reason)
{
    m_banman.Ban(ip, Now(), until, reason);
    LogPrint("P2P: banned " + ip + " until " + std::to_string(until) + ": " + reason);
    for (const auto& node : Snapshot()) {
        if (BanMan::Covers(ip, node->ip)) Disconnect(*node, "banned");
    }
}

bool CConnman::Unban(const std::string& ip) { return m_banman.Unban(ip); }

void CConnman::ClearBanned() { m_banman.Clear(); }

bool CConnman::IsBanned(const std::string& ip) const { return m_banman.IsBanned(ip, Now()); }

std::map<std::string, BanEntry> CConnman::ListBanned() { return m_banman.List(Now()); }

void CConnman::SetNetworkActive(bool active)
{
    if (m_network_active.exchange(active) == active) return;
    LogPrint(std::string("P2P: network ") + (active ? "activated" : "deactivated"));
    if (!active) {
        for (const auto& node : Snapshot())
            Disconnect(*node, "network deactivated");
    }
    WakeSocketThread();
    m_open_cv.notify_all();
}

void CConnman::PingAll()
{
    for (const auto& node : Snapshot()) {
        std::lock_guard<std::mutex> lock(node->cs_stats);
        node->ping_requested = true;
    }
    WakeSocketThread();
}
