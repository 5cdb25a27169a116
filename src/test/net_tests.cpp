// The connection layer: the ban list and the address book (persistence,
// limits), host:port parsing, and two CConnmans on loopback (handshake,
// message delivery on the message thread, misbehaviour scoring and bans,
// disconnects, self-connections).
#include <addrman.h>
#include <banman.h>
#include <chainparams.h>
#include <net.h>
#include <test/test_util.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <condition_variable>
#include <ctime>
#include <fstream>
#include <netinet/in.h>
#include <set>
#include <sys/socket.h>
#include <unistd.h>

namespace {

p2p::NetAddress Addr(const std::string& ip, uint16_t port, uint64_t services = p2p::NODE_NETWORK)
{
    p2p::NetAddress a;
    a.ip = *p2p::NetAddress::ParseIP(ip);
    a.port = port;
    a.services = services;
    return a;
}

template <typename F> bool WaitFor(F&& done, std::chrono::milliseconds timeout = std::chrono::seconds(10))
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

TEST(SplitHostPort, AcceptsHostsPortsAndIPv6)
{
    std::string host;
    uint16_t port = 0;
    ASSERT_TRUE(SplitHostPort("1.2.3.4:8555", 1, host, port));
    EXPECT_EQ(host, "1.2.3.4");
    EXPECT_EQ(port, 8555);
    ASSERT_TRUE(SplitHostPort("localhost", 19555, host, port));
    EXPECT_EQ(host, "localhost");
    EXPECT_EQ(port, 19555);
    ASSERT_TRUE(SplitHostPort("[::1]:7", 1, host, port));
    EXPECT_EQ(host, "::1");
    EXPECT_EQ(port, 7);
    ASSERT_TRUE(SplitHostPort("2001:db8::1", 9, host, port));
    EXPECT_EQ(host, "2001:db8::1");
    EXPECT_EQ(port, 9);
    ASSERT_TRUE(SplitHostPort("[2001:db8::1]", 9, host, port));
    EXPECT_EQ(port, 9);
    for (const char* bad : {"", ":1", "a:0", "a:65536", "a:-1", "a:+1", "a:1x", "a:", "[::1", "[::1]x", "[a]:1",
                            "a b:1", "1:2:3", "a/b:1", "[::1]:", "a:123456"}) {
        EXPECT_FALSE(SplitHostPort(bad, 1, host, port)) << bad;
    }
}

TEST(Misbehaviour, OnlyAnotherNetworksMagicGoesUnpunished)
{
    EXPECT_FALSE(IsBanworthy(p2p::Violation::BadMagic));
    for (const auto v : {p2p::Violation::BadCommand, p2p::Violation::Oversized, p2p::Violation::BadChecksum,
                         p2p::Violation::Malformed})
        EXPECT_TRUE(IsBanworthy(v)) << p2p::ViolationName(v);
}

TEST(BanMan, BansExpireAndPersist)
{
    test::TempDir dir;
    const auto file = dir.path() / "banlist.json";
    {
        BanMan bans(file);
        std::string error;
        ASSERT_TRUE(bans.Load(1000, error)) << error;
        bans.Ban("1.2.3.4", 1000, 2000, "bad checksum");
        bans.Ban("2001:db8::1", 1000, 1500, "manually added");
        bans.Ban("1.2.3.4", 1100, 1200, "shorter"); // a longer ban stands
        EXPECT_TRUE(bans.IsBanned("1.2.3.4", 1999));
        EXPECT_FALSE(bans.IsBanned("1.2.3.4", 2000));
        EXPECT_FALSE(bans.IsBanned("5.6.7.8", 1000));
        EXPECT_EQ(bans.List(1000).at("1.2.3.4").reason, "bad checksum");
        EXPECT_FALSE(std::filesystem::exists(file.string() + ".new"));
    }
    {
        BanMan again(file);
        std::string error;
        ASSERT_TRUE(again.Load(1600, error)) << error;
        const auto list = again.List(1600);
        ASSERT_EQ(list.size(), 1u); // the IPv6 ban ended at 1500
        EXPECT_EQ(list.at("1.2.3.4").created, 1000);
        EXPECT_EQ(list.at("1.2.3.4").until, 2000);
        EXPECT_TRUE(again.Unban("1.2.3.4"));
        EXPECT_FALSE(again.Unban("1.2.3.4"));
        again.Ban("9.9.9.9", 1600, 9999, "x");
        again.Clear();
    }
    BanMan cleared(file);
    std::string error;
    ASSERT_TRUE(cleared.Load(1600, error)) << error;
    EXPECT_TRUE(cleared.List(1600).empty());
}

TEST(BanMan, NormalizesAddresses)
{
    EXPECT_EQ(BanMan::NormalizeIP("1.2.3.4"), "1.2.3.4");
    EXPECT_EQ(BanMan::NormalizeIP("::ffff:1.2.3.4"), "1.2.3.4");
    EXPECT_EQ(BanMan::NormalizeIP("2001:DB8:0::1"), "2001:db8::1");
    for (const char* bad : {"", "1.2.3", "1.2.3.4/24", "example.com", " 1.2.3.4", "1.2.3.4:1"})
        EXPECT_FALSE(BanMan::NormalizeIP(bad)) << bad;
}

TEST(BanMan, ACorruptFileIsSetAsideNotTrusted)
{
    test::TempDir dir;
    const auto file = dir.path() / "banlist.json";
    for (const std::string text :
         {"not json", "{\"banned\":[{\"address\":\"nope\",\"created\":1,\"until\":2}]}", "{\"banned\":{}}", "[]"}) {
        std::ofstream(file) << text;
        BanMan bans(file);
        std::string error;
        EXPECT_FALSE(bans.Load(0, error)) << text;
        EXPECT_NE(error.find("moved to"), std::string::npos) << error;
        EXPECT_TRUE(std::filesystem::exists(file.string() + ".bad"));
        EXPECT_TRUE(bans.List(0).empty());
        bans.Ban("1.2.3.4", 0, 10, "after");
        BanMan reread(file);
        ASSERT_TRUE(reread.Load(0, error)) << error;
        EXPECT_TRUE(reread.IsBanned("1.2.3.4", 5));
        std::filesystem::remove(file);
    }
}

TEST(AddrMan, AddsRefreshesAndPersists)
{
    test::TempDir dir;
    const auto file = dir.path() / "peers.json";
    const int64_t now = 1700000000;
    {
        AddrMan book(file);
        std::string error;
        ASSERT_TRUE(book.Load(error)) << error;
        EXPECT_EQ(book.Add({{1699990000, Addr("1.2.3.4", 8555)},
                            {1699990000, Addr("2001:db8::1", 8555)},
                            {1699990000, Addr("0.0.0.0", 8555)},                      // unusable
                            {1699990000, Addr("1.2.3.5", 0)},                         // no port
                            {1699990000, Addr("224.0.0.1", 8555)},                    // multicast
                            {1699990000, Addr("::", 8555)},                           // unspecified
                            {static_cast<uint32_t>(now + 3600), Addr("5.6.7.8", 1)}}, // from the future
                           now),
                  3u);
        EXPECT_EQ(book.Add({{1699995000, Addr("1.2.3.4", 8555)}}, now), 0u); // refreshed
        EXPECT_EQ(book.Find(Addr("1.2.3.4", 8555))->time, 1699995000u);
        EXPECT_EQ(book.Find(Addr("5.6.7.8", 1))->time, static_cast<uint32_t>(now - 5 * 24 * 3600));
        book.Good(Addr("9.9.9.9", 8555), now); // a handshake completed
        EXPECT_EQ(book.Find(Addr("9.9.9.9", 8555))->last_success, now);
        ASSERT_TRUE(book.Save(error)) << error;
    }
    AddrMan again(file);
    std::string error;
    ASSERT_TRUE(again.Load(error)) << error;
    EXPECT_EQ(again.Size(), 4u);
    const auto v6 = again.Find(Addr("2001:db8::1", 8555));
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->addr.services, p2p::NODE_NETWORK);
    EXPECT_EQ(again.Find(Addr("9.9.9.9", 8555))->last_success, now);
    const auto answer = again.GetAddr(p2p::MAX_ADDR);
    EXPECT_EQ(answer.size(), 4u);
    EXPECT_EQ(again.GetAddr(2).size(), 2u);
}

TEST(AddrMan, SelectsDueAddressesAndForgetsDeadOnes)
{
    AddrMan book;
    const int64_t now = 1700000000;
    book.Add({{1699990000, Addr("1.2.3.4", 8555)}}, now);
    const auto any = [](const p2p::NetAddress&) { return true; };
    ASSERT_TRUE(book.Select(now, any));
    EXPECT_FALSE(book.Select(now, [](const p2p::NetAddress&) { return false; }));
    book.Attempt(Addr("1.2.3.4", 8555), now);
    EXPECT_FALSE(book.Select(now + 30, any)); // retried after a minute
    EXPECT_TRUE(book.Select(now + 60, any));
    for (int i = 1; i < AddrMan::MAX_FAILURES; ++i)
        book.Attempt(Addr("1.2.3.4", 8555), now + i * 4000);
    EXPECT_EQ(book.Size(), 0u); // ten failures, never a success: forgotten
    book.Add({{1699990000, Addr("1.2.3.4", 8555)}}, now);
    book.Remove(Addr("1.2.3.4", 8555));
    EXPECT_EQ(book.Size(), 0u);
}

TEST(AddrMan, MainAndTestnetKeepOnlyRoutableAddresses)
{
    AddrMan book({}, /*only_routable=*/true);
    const std::vector<p2p::TimedAddress> announced = {
        {1, Addr("127.0.0.1", 22)},  {1, Addr("10.1.2.3", 1)},      {1, Addr("172.16.0.1", 1)},
        {1, Addr("172.31.9.9", 1)},  {1, Addr("192.168.1.1", 1)},   {1, Addr("169.254.0.1", 1)},
        {1, Addr("100.64.0.1", 1)},  {1, Addr("192.0.2.1", 1)},     {1, Addr("198.51.100.1", 1)},
        {1, Addr("203.0.113.1", 1)}, {1, Addr("198.18.0.1", 1)},    {1, Addr("::1", 1)},
        {1, Addr("fd00::1", 1)},     {1, Addr("fe80::1", 1)},       {1, Addr("2001:db8::1", 1)},
        {1, Addr("8.8.8.8", 8555)},  {1, Addr("172.32.0.1", 8555)}, {1, Addr("2a00:1450::1", 8555)}};
    EXPECT_EQ(book.Add(announced, 1700000000), 3u);
    // Regtest keeps them all: a local test network is all loopback.
    AddrMan regtest;
    EXPECT_EQ(regtest.Add(announced, 1700000000), announced.size());
    // A connection the operator asked for is remembered wherever it is.
    book.Good(Addr("127.0.0.1", 8555), 1700000000);
    EXPECT_TRUE(book.Find(Addr("127.0.0.1", 8555)));
}

TEST(AddrMan, StaysWithinItsLimit)
{
    AddrMan book;
    std::vector<p2p::TimedAddress> batch;
    for (uint32_t i = 0; i < AddrMan::MAX_ENTRIES + 500; ++i) {
        p2p::NetAddress a = p2p::NetAddress::FromIPv4(
            {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)}, 8555,
            p2p::NODE_NETWORK);
        batch.push_back({1700000000, a});
    }
    book.Add(batch, 1700000000);
    EXPECT_EQ(book.Size(), AddrMan::MAX_ENTRIES);
    EXPECT_EQ(book.GetAddr(p2p::MAX_ADDR).size(), p2p::MAX_ADDR);
}

TEST(AddrMan, ACorruptFileIsSetAside)
{
    test::TempDir dir;
    const auto file = dir.path() / "peers.json";
    std::ofstream(file) << "{\"addresses\":[{\"address\":\"1.2.3.4\"}]}";
    AddrMan book(file);
    std::string error;
    EXPECT_FALSE(book.Load(error));
    EXPECT_NE(error.find("not an address"), std::string::npos) << error;
    EXPECT_TRUE(std::filesystem::exists(file.string() + ".bad"));
    EXPECT_EQ(book.Size(), 0u);
}

// Records what the connman tells net_processing.
class Recorder : public NetEventsInterface {
public:
    void InitializeNode(NodeId id, bool inbound, uint32_t start_height) override
    {
        std::lock_guard<std::mutex> lock(m);
        initialized[id] = {inbound, start_height};
        threads.insert(std::this_thread::get_id());
    }
    void FinalizeNode(NodeId id) override
    {
        std::lock_guard<std::mutex> lock(m);
        finalized.insert(id);
    }
    void ProcessMessage(NodeId id, const p2p::Message& msg) override
    {
        std::lock_guard<std::mutex> lock(m);
        received.emplace_back(id, p2p::CommandOf(msg));
        threads.insert(std::this_thread::get_id());
    }
    void SendMessages(NodeId) override { ++send_rounds; }

    size_t Initialized()
    {
        std::lock_guard<std::mutex> lock(m);
        return initialized.size();
    }
    size_t Finalized()
    {
        std::lock_guard<std::mutex> lock(m);
        return finalized.size();
    }
    std::vector<std::pair<NodeId, std::string>> Received()
    {
        std::lock_guard<std::mutex> lock(m);
        return received;
    }

    std::mutex m;
    std::map<NodeId, std::pair<bool, uint32_t>> initialized;
    std::set<NodeId> finalized;
    std::vector<std::pair<NodeId, std::string>> received;
    std::set<std::thread::id> threads;
    std::atomic<int> send_rounds{0};
};

CConnman::Options TestOptions(const std::filesystem::path& datadir)
{
    CConnman::Options o;
    o.bind = {"127.0.0.1"};
    o.port = 0;
    o.auto_outbound = false;
    o.datadir = datadir;
    o.peer_timeout = 10;
    o.user_agent = "/net-test:1/";
    return o;
}

struct Pair {
    test::TempDir dir_a, dir_b;
    Recorder events_a, events_b;
    std::unique_ptr<CConnman> a, b;

    Pair()
    {
        a = std::make_unique<CConnman>(RegtestParams(), TestOptions(dir_a.path()));
        a->SetEvents(&events_a);
        a->SetBestHeight([] { return 42u; });
        std::string error;
        if (!a->Start(error)) throw std::runtime_error(error);
        auto ob = TestOptions(dir_b.path());
        ob.listen = false;
        ob.connect = {"127.0.0.1:" + std::to_string(a->GetListenPort())};
        b = std::make_unique<CConnman>(RegtestParams(), ob);
        b->SetEvents(&events_b);
        if (!b->Start(error)) throw std::runtime_error(error);
    }
    NodeId OnlyPeer(CConnman& c)
    {
        const auto stats = c.GetStats();
        return stats.size() == 1 ? stats[0].id : -1;
    }
};

TEST(CConnman, HandshakeThenMessagesReachNetProcessing)
{
    Pair p;
    ASSERT_NE(p.a->GetListenPort(), 0);
    ASSERT_TRUE(WaitFor([&] { return p.events_a.Initialized() == 1 && p.events_b.Initialized() == 1; }));
    {
        std::lock_guard<std::mutex> lock(p.events_a.m);
        EXPECT_TRUE(p.events_a.initialized.begin()->second.first); // inbound on a
    }
    {
        std::lock_guard<std::mutex> lock(p.events_b.m);
        EXPECT_FALSE(p.events_b.initialized.begin()->second.first);
        EXPECT_EQ(p.events_b.initialized.begin()->second.second, 42u); // a's height
    }
    const auto stats = p.b->GetStats();
    ASSERT_EQ(stats.size(), 1u);
    EXPECT_FALSE(stats[0].inbound);
    EXPECT_TRUE(stats[0].manual);
    EXPECT_EQ(stats[0].version, p2p::PROTOCOL_VERSION);
    EXPECT_EQ(stats[0].subver, "/net-test:1/");
    EXPECT_EQ(stats[0].starting_height, 42u);
    EXPECT_EQ(p.a->GetNodeCount(CConnman::Direction::In), 1u);
    EXPECT_EQ(p.b->GetNodeCount(CConnman::Direction::Out), 1u);

    // Pings both ways right after the handshake.
    ASSERT_TRUE(WaitFor([&] { return p.b->GetStats()[0].ping_ms >= 0 && p.a->GetStats()[0].ping_ms >= 0; }));

    std::vector<NodeId> ids;
    p.b->ForEachNode([&](NodeId id) { ids.push_back(id); });
    ASSERT_EQ(ids.size(), 1u);
    p2p::MsgInv inv;
    inv.items.push_back({p2p::InvType::Tx, uint256{}});
    p.b->PushMessage(ids[0], inv);
    p.b->PushMessage(ids[0], p2p::MsgGetHeaders{});
    p.b->PushMessage(ids[0], p2p::MsgGetAddr{}); // the connman's own: never handed on
    ASSERT_TRUE(WaitFor([&] { return p.events_a.Received().size() == 2; }));
    EXPECT_EQ(p.events_a.Received()[0].second, "inv");
    EXPECT_EQ(p.events_a.Received()[1].second, "getheaders");
    EXPECT_GT(p.events_a.send_rounds, 0);
    p.b->SetSyncStats(ids[0], 5, 4, 3);
    EXPECT_EQ(p.b->GetStats()[0].synced_headers, 5);
    EXPECT_EQ(p.b->GetStats()[0].inflight, 3u);

    // b's outbound connection is in a's... no: a learns nothing from an inbound peer,
    // b records a completed outbound handshake.
    EXPECT_EQ(p.b->Addresses().Size(), 1u);
    EXPECT_EQ(p.a->Addresses().Size(), 0u);
}

TEST(CConnman, MisbehaviourAddsUpToABan)
{
    Pair p;
    ASSERT_TRUE(WaitFor([&] { return p.events_a.Initialized() == 1; }));
    const NodeId peer = p.OnlyPeer(*p.a);
    p.a->Misbehaving(peer, 40, "first");
    p.a->Misbehaving(peer, 40, "second");
    EXPECT_EQ(p.a->GetStats()[0].misbehavior, 80);
    EXPECT_FALSE(p.a->IsBanned("127.0.0.1"));
    p.a->Misbehaving(peer, 20, "third");
    EXPECT_TRUE(p.a->IsBanned("127.0.0.1"));
    ASSERT_TRUE(WaitFor([&] { return p.events_a.Finalized() == 1 && p.events_b.Finalized() == 1; }));
    const auto bans = p.a->ListBanned();
    ASSERT_EQ(bans.size(), 1u);
    EXPECT_EQ(bans.at("127.0.0.1").reason, "third");
    EXPECT_EQ(bans.at("127.0.0.1").until - bans.at("127.0.0.1").created, 86400);

    // b keeps retrying its -connect peer; a refuses every attempt at accept.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_EQ(p.a->GetNodeCount(CConnman::Direction::All), 0u);
    EXPECT_EQ(p.events_a.Initialized(), 1u);

    // The ban is on disk for the next start.
    p.a->Stop();
    BanMan reread(p.dir_a.path() / "banlist.json");
    std::string error;
    ASSERT_TRUE(reread.Load(std::time(nullptr), error)) << error;
    EXPECT_TRUE(reread.IsBanned("127.0.0.1", std::time(nullptr)));

    // Lifted: b gets back in.
    CConnman::Options o = TestOptions(p.dir_a.path());
    o.bind = {"127.0.0.1:" + std::to_string(p.a->GetListenPort())};
    auto again = std::make_unique<CConnman>(RegtestParams(), o);
    ASSERT_TRUE(again->Start(error)) << error;
    EXPECT_TRUE(again->IsBanned("127.0.0.1"));
    again->ClearBanned();
    ASSERT_TRUE(WaitFor([&] { return again->GetNodeCount(CConnman::Direction::In) == 1; }, std::chrono::seconds(15)));
}

TEST(CConnman, DisconnectFinalizesAndAddnodeReconnects)
{
    Pair p;
    ASSERT_TRUE(WaitFor([&] { return p.events_a.Initialized() == 1 && p.events_b.Initialized() == 1; }));
    const NodeId first = p.OnlyPeer(*p.a);
    EXPECT_TRUE(p.a->DisconnectNode(first));
    EXPECT_FALSE(p.a->DisconnectNode(NodeId{999}));
    ASSERT_TRUE(WaitFor([&] { return p.events_a.Finalized() == 1 && p.events_b.Finalized() == 1; }));
    // b's -connect peer is reconnected.
    ASSERT_TRUE(WaitFor([&] { return p.events_a.Initialized() == 2; }));
    EXPECT_NE(p.OnlyPeer(*p.a), first);
    // All NetEventsInterface calls come from one thread, the message thread.
    std::lock_guard<std::mutex> lock(p.events_a.m);
    EXPECT_EQ(p.events_a.threads.size(), 1u);
}

TEST(CConnman, AConnectionToItselfIsDropped)
{
    test::TempDir dir;
    Recorder events;
    auto o = TestOptions(dir.path());
    CConnman c(RegtestParams(), o);
    c.SetEvents(&events);
    std::string error;
    ASSERT_TRUE(c.Start(error)) << error;
    c.OneTry("127.0.0.1:" + std::to_string(c.GetListenPort()));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_EQ(events.Initialized(), 0u);
    EXPECT_EQ(c.GetNodeCount(CConnman::Direction::All), 0u);
    EXPECT_FALSE(c.IsBanned("127.0.0.1")); // not the peer's fault
}

// A raw socket to `port`; -1 on failure.
int RawConnect(uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
        ::close(fd);
        return -1;
    }
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

// Reads until the peer closes; false on a time-out.
bool ClosedByPeer(int fd)
{
    char buf[4096];
    while (true) {
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
        if (n < 0) return false;
    }
}

TEST(CConnman, FramingViolationsAtTheSocket)
{
    test::TempDir dir;
    CConnman c(RegtestParams(), TestOptions(dir.path()));
    std::string error;
    ASSERT_TRUE(c.Start(error)) << error;

    // Another network's magic: dropped, not banned.
    int fd = RawConnect(c.GetListenPort());
    ASSERT_GE(fd, 0);
    const auto other = p2p::EncodeMessage(MainParams().magic, p2p::MsgVerack{});
    ASSERT_EQ(::send(fd, other.data(), other.size(), 0), static_cast<ssize_t>(other.size()));
    EXPECT_TRUE(ClosedByPeer(fd));
    ::close(fd);
    EXPECT_FALSE(c.IsBanned("127.0.0.1"));

    // An oversized length, refused from the header alone: banned.
    fd = RawConnect(c.GetListenPort());
    ASSERT_GE(fd, 0);
    p2p::MessageHeader h;
    h.magic = RegtestParams().magic;
    h.command = "block";
    h.length = p2p::MAX_PAYLOAD_SIZE + 1;
    const auto head = h.Serialize();
    ASSERT_EQ(::send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
    EXPECT_TRUE(ClosedByPeer(fd));
    ::close(fd);
    EXPECT_TRUE(c.IsBanned("127.0.0.1"));
    // And refused at accept from then on.
    fd = RawConnect(c.GetListenPort());
    if (fd >= 0) {
        EXPECT_TRUE(ClosedByPeer(fd));
        ::close(fd);
    }
}

TEST(CConnman, BadBindAndBusyPortAreErrors)
{
    test::TempDir dir;
    auto o = TestOptions(dir.path());
    o.bind = {"not-an-ip"};
    CConnman bad(RegtestParams(), o);
    std::string error;
    EXPECT_FALSE(bad.Start(error));
    EXPECT_NE(error.find("-bind=not-an-ip"), std::string::npos) << error;

    CConnman first(RegtestParams(), TestOptions(dir.path()));
    ASSERT_TRUE(first.Start(error)) << error;
    auto busy = TestOptions(dir.path());
    busy.port = first.GetListenPort();
    CConnman second(RegtestParams(), busy);
    EXPECT_FALSE(second.Start(error));
    EXPECT_NE(error.find("Address already in use"), std::string::npos) << error;
}

} // namespace

TEST(BanMan, SubnetsBanEveryAddressInThem)
{
    EXPECT_EQ(BanMan::NormalizeSubnet("10.1.2.3/16"), "10.1.0.0/16");
    EXPECT_EQ(BanMan::NormalizeSubnet("10.1.2.3/32"), "10.1.2.3");
    EXPECT_EQ(BanMan::NormalizeSubnet("10.1.2.3"), "10.1.2.3");
    EXPECT_EQ(BanMan::NormalizeSubnet("2001:db8::1/32"), "2001:db8::/32");
    EXPECT_EQ(BanMan::NormalizeSubnet("0.0.0.0/0"), "0.0.0.0/0");
    for (const char* bad :
         {"10.1.2.3/33", "10.1.2.3/", "10.1.2.3/-1", "10.1.2.3/1x", "2001:db8::/129", "/8", "x/8", "10.1.2.3/0008"})
        EXPECT_FALSE(BanMan::NormalizeSubnet(bad)) << bad;
    EXPECT_TRUE(BanMan::Covers("10.1.0.0/16", "10.1.255.7"));
    EXPECT_FALSE(BanMan::Covers("10.1.0.0/16", "10.2.0.1"));
    EXPECT_TRUE(BanMan::Covers("127.0.0.6/31", "127.0.0.7"));
    EXPECT_FALSE(BanMan::Covers("127.0.0.6/31", "127.0.0.5"));
    EXPECT_TRUE(BanMan::Covers("2001:db8::/32", "2001:db8:1::5"));
    EXPECT_FALSE(BanMan::Covers("10.0.0.0/8", "2001:db8::1"));

    test::TempDir dir;
    const auto file = dir.path() / "banlist.json";
    {
        BanMan bans(file);
        bans.Ban("10.1.0.0/16", 100, 200, "test");
        EXPECT_TRUE(bans.IsBanned("10.1.9.9", 150));
        EXPECT_FALSE(bans.IsBanned("10.1.9.9", 200)); // expired
        EXPECT_FALSE(bans.IsBanned("10.2.0.1", 150));
    }
    BanMan reloaded(file);
    std::string error;
    ASSERT_TRUE(reloaded.Load(150, error)) << error;
    EXPECT_TRUE(reloaded.IsBanned("10.1.0.1", 150));
    EXPECT_EQ(reloaded.List(150).count("10.1.0.0/16"), 1u);
}
