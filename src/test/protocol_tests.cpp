// The wire protocol of docs/p2p.md: framing, every message's round trip,
// every limit, and golden vectors shared with test/functional/test_p2p_codec.py.
#include <crypto/hash.h>
#include <metachain/bridge.h>
#include <protocol.h>

#include <gtest/gtest.h>

#include <functional>

using namespace p2p;

namespace {

const Magic MAIN{0xd1, 0xef, 0x4d, 0x43};
const Magic TESTNET{0x0b, 0x11, 0x09, 0x07};
const Magic REGTEST{0xfa, 0xbf, 0xb5, 0xda};

uint256 Filled(uint8_t b)
{
    uint256 h;
    h.fill(b);
    return h;
}

std::vector<uint8_t> Hex(const std::string& s) { return *ParseHex(s); }

// Runs `f`, which must throw a ProtocolError of kind `v` whose text holds `what`.
void ExpectViolation(const std::function<void()>& f, Violation v, const std::string& what)
{
    try {
        f();
        ADD_FAILURE() << "no error; expected " << ViolationName(v) << ": " << what;
    } catch (const ProtocolError& e) {
        EXPECT_EQ(e.violation, v) << e.what();
        EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
}

void ExpectMalformed(const std::string& command, const std::vector<uint8_t>& payload, const std::string& what)
{
    ExpectViolation([&] { DecodeMessage(command, payload); }, Violation::Malformed, what);
    try {
        DecodeMessage(command, payload);
    } catch (const ProtocolError& e) {
        EXPECT_EQ(std::string(e.what()).rfind(command + ": ", 0), 0u) << e.what();
    }
}

Message Decoded(const Magic& magic, const std::vector<uint8_t>& frame)
{
    const RawMessage raw = ParseMessage(frame, magic);
    auto m = DecodeMessage(raw.command, raw.payload);
    if (!m) throw std::runtime_error("unknown command " + raw.command);
    return *m;
}

// Frames `m`, parses and decodes it, and checks it re-encodes to the same bytes.
Message RoundTrip(const Message& m)
{
    const auto frame = EncodeMessage(REGTEST, m);
    Message back = Decoded(REGTEST, frame);
    EXPECT_EQ(back.index(), m.index());
    EXPECT_EQ(EncodeMessage(REGTEST, back), frame);
    return back;
}

CBlockHeader SampleHeader()
{
    CBlockHeader h;
    h.version = 1;
    h.prev = Filled(1);
    h.height = 7;
    h.time = 1700000000;
    h.merkle_root = Filled(2);
    h.bits = 0x207fffff;
    h.nonce = 42;
    return h;
}

CTransaction SampleTx()
{
    CTransaction tx;
    tx.type = TxType::Transfer;
    tx.from.fill(3);
    tx.from[0] = 2;
    tx.to = "dfrt1example";
    tx.amount = 100000000;
    tx.fee = 10000;
    tx.nonce = 5;
    tx.signature.assign(64, 5);
    return tx;
}

MsgVersion SampleVersion()
{
    MsgVersion v;
    v.services = NODE_NETWORK;
    v.timestamp = 1700000000;
    v.addr_recv = NetAddress::FromIPv4({127, 0, 0, 1}, 8555, NODE_NETWORK);
    v.addr_from.services = NODE_NETWORK;
    v.addr_from.ip = *NetAddress::ParseIP("2001:db8::1");
    v.addr_from.port = 8555;
    v.nonce = 0x1122334455667788ULL;
    v.user_agent = "/defid:0.1.0/";
    v.start_height = 1234;
    v.relay = true;
    return v;
}

// A count followed by nothing: the claim alone must not allocate or pass.
std::vector<uint8_t> Count(uint32_t n)
{
    Writer w;
    w.Int<uint32_t>(n);
    return w.take();
}

struct Golden {
    const char* name;
    Magic magic;
    std::function<Message()> make;
    const char* hex;
};

// The same vectors are in test/functional/test_p2p_codec.py and docs/p2p.md.
const std::vector<Golden>& Goldens()
{
    static const std::vector<Golden> g = {
        {"verack", REGTEST, [] { return Message{MsgVerack{}}; }, "fabfb5da76657261636b000000000000000000005df6e0e2"},
        {"ping", REGTEST, [] { return Message{MsgPing{0x0123456789abcdefULL}}; },
         "fabfb5da70696e6700000000000000000800000033bc15e5efcdab8967452301"},
        {"version", MAIN, [] { return Message{SampleVersion()}; },
         "d1ef4d4376657273696f6e0000000000660000008294e84b71110100010000000000000000f1536500000000010000000000"
         "000000000000000000000000ffff7f000001216b010000000000000020010db8000000000000000000000001216b88776655"
         "443322110d0000002f64656669643a302e312e302fd204000001"},
        {"addr", TESTNET,
         [] {
             MsgAddr a;
             a.addrs.push_back({1700000000, NetAddress::FromIPv4({1, 2, 3, 4}, 8555, NODE_NETWORK)});
             return Message{a};
         },
         "0b1109076164647200000000000000002200000044d3abdb0100000000f15365010000000000000000000000000000000000"
         "ffff01020304216b"},
        {"inv", REGTEST,
         [] {
             MsgInv inv;
             inv.items = {{InvType::Tx, Filled(0x11)}, {InvType::Block, Filled(0x22)}};
             return Message{inv};
         },
         "fabfb5da696e760000000000000000004c0000005f7c334b0200000001000000111111111111111111111111111111111111"
         "1111111111111111111111111111020000002222222222222222222222222222222222222222222222222222222222222222"},
        {"getheaders", MAIN,
         [] {
             MsgGetHeaders gh;
             gh.locator = {Filled(0xaa), Filled(0xbb)};
             return Message{gh};
         },
         "d1ef4d436765746865616465727300006800000047210b847111010002000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb00000000"
         "00000000000000000000000000000000000000000000000000000000"},
        {"headers", REGTEST, [] { return Message{MsgHeaders{{SampleHeader()}}}; },
         "fabfb5da68656164657273000000000080000000f154cd7e0100000001000000010101010101010101010101010101010101"
         "01010101010101010101010101010700000000f1536500000000020202020202020202020202020202020202020202020202"
         "02020202020202020000000000000000000000000000000000000000000000000000000000000000ffff7f202a0000000000"
         "0000"},
        {"tx", REGTEST, [] { return Message{MsgTx{SampleTx()}}; },
         "fabfb5da7478000000000000000000009e0000005d01a06c0102030303030303030303030303030303030303030303030303"
         "03030303030303030c00000064667274316578616d706c6500e1f50500000000102700000000000005000000000000000000"
         "0000000000000000000000000000400000000505050505050505050505050505050505050505050505050505050505050505"
         "0505050505050505050505050505050505050505050505050505050505050505"},
    };
    return g;
}

} // namespace

TEST(ProtocolTest, GoldenVectors)
{
    for (const auto& g : Goldens()) {
        SCOPED_TRACE(g.name);
        const Message m = g.make();
        EXPECT_EQ(std::string(CommandOf(m)), g.name);
        EXPECT_EQ(HexStr(EncodeMessage(g.magic, m)), g.hex);
        const Message back = Decoded(g.magic, Hex(g.hex));
        EXPECT_EQ(HexStr(EncodeMessage(g.magic, back)), g.hex);
    }
    // Fields decoded from the bytes, not just re-encoded.
    const auto v = std::get<MsgVersion>(Decoded(MAIN, Hex(Goldens()[2].hex)));
    EXPECT_EQ(v.version, 70001u);
    EXPECT_EQ(v.addr_recv.ToString(), "127.0.0.1:8555");
    EXPECT_EQ(v.addr_from.ToString(), "[2001:db8::1]:8555");
    EXPECT_EQ(v.user_agent, "/defid:0.1.0/");
    EXPECT_EQ(v.start_height, 1234u);
    EXPECT_TRUE(v.relay);
}

TEST(ProtocolTest, HeaderLayout)
{
    MessageHeader h;
    h.magic = TESTNET;
    h.command = "getheaders";
    h.length = 0x01020304;
    h.checksum = {9, 8, 7, 6};
    const auto bytes = h.Serialize();
    EXPECT_EQ(HexStr(bytes), "0b110907"
                             "676574686561646572730000"
                             "04030201"
                             "09080706");
    const MessageHeader back = MessageHeader::Parse(bytes.data(), TESTNET);
    EXPECT_EQ(back.command, "getheaders");
    EXPECT_EQ(back.length, 0x01020304u);
    EXPECT_EQ(back.checksum, h.checksum);
    // A full 12-byte command has no NUL at all.
    h.command = "abcdefghijkl";
    EXPECT_EQ(MessageHeader::Parse(h.Serialize().data(), TESTNET).command, "abcdefghijkl");
}

TEST(ProtocolTest, Checksum)
{
    EXPECT_EQ(HexStr(Checksum({})), "5df6e0e2");
    const uint256 d = Sha256d({1, 2, 3});
    EXPECT_EQ(Checksum({1, 2, 3}), (std::array<uint8_t, 4>{d[0], d[1], d[2], d[3]}));
}

TEST(ProtocolTest, BadMagic)
{
    const auto frame = EncodeMessage(REGTEST, MsgVerack{});
    ExpectViolation([&] { ParseMessage(frame, MAIN); }, Violation::BadMagic, "bad magic fabfb5da, expected d1ef4d43");
}

TEST(ProtocolTest, BadCommandBytes)
{
    const auto good = EncodeMessage(REGTEST, MsgVerack{});
    auto with = [&](size_t pos, uint8_t byte) {
        auto f = good;
        f[4 + pos] = byte;
        return f;
    };
    // Empty command, a byte after the first NUL, space, DEL, non-ASCII, a control byte.
    std::vector<uint8_t> empty = good;
    std::fill(empty.begin() + 4, empty.begin() + 16, 0);
    ExpectViolation([&] { ParseMessage(empty, REGTEST); }, Violation::BadCommand, "bad command bytes");
    ExpectViolation([&] { ParseMessage(with(8, 'x'), REGTEST); }, Violation::BadCommand,
                    "bad command bytes \"verack\\x00\\x00x");
    ExpectViolation([&] { ParseMessage(with(11, 1), REGTEST); }, Violation::BadCommand, "bad command bytes");
    ExpectViolation([&] { ParseMessage(with(0, ' '), REGTEST); }, Violation::BadCommand, "\\x20erack");
    ExpectViolation([&] { ParseMessage(with(0, 0x7f), REGTEST); }, Violation::BadCommand, "\\x7ferack");
    ExpectViolation([&] { ParseMessage(with(0, 0xc3), REGTEST); }, Violation::BadCommand, "\\xc3erack");
    ExpectViolation([&] { ParseMessage(with(2, '\n'), REGTEST); }, Violation::BadCommand, "ve\\x0aack");
    // We never send what we refuse.
    ExpectViolation([&] { FrameMessage(REGTEST, "", {}); }, Violation::BadCommand, "bad command");
    ExpectViolation([&] { FrameMessage(REGTEST, "abcdefghijklm", {}); }, Violation::BadCommand, "bad command");
    ExpectViolation([&] { FrameMessage(REGTEST, "ver ack", {}); }, Violation::BadCommand, "bad command");
}

TEST(ProtocolTest, OversizedLength)
{
    MessageHeader h;
    h.magic = REGTEST;
    h.command = "block";
    h.length = MAX_PAYLOAD_SIZE;
    EXPECT_EQ(MessageHeader::Parse(h.Serialize().data(), REGTEST).length, MAX_PAYLOAD_SIZE);
    h.length = MAX_PAYLOAD_SIZE + 1;
    ExpectViolation([&] { MessageHeader::Parse(h.Serialize().data(), REGTEST); }, Violation::Oversized,
                    "block: payload of 33555457 bytes, over the limit of 33555456");
    h.length = UINT32_MAX;
    ExpectViolation([&] { MessageHeader::Parse(h.Serialize().data(), REGTEST); }, Violation::Oversized,
                    "over the limit");
    EXPECT_EQ(MAX_PAYLOAD_SIZE, 32u * 1024 * 1024 + 1024);
}

TEST(ProtocolTest, BadChecksum)
{
    auto frame = EncodeMessage(REGTEST, MsgPing{7});
    frame[20] ^= 1;
    ExpectViolation([&] { ParseMessage(frame, REGTEST); }, Violation::BadChecksum, "ping: checksum");
    frame[20] ^= 1;
    frame.back() ^= 1; // payload changed instead
    ExpectViolation([&] { ParseMessage(frame, REGTEST); }, Violation::BadChecksum, "does not match");
}

TEST(ProtocolTest, TruncatedFrame)
{
    const auto frame = EncodeMessage(REGTEST, MsgPing{7});
    ExpectViolation(
        [&] {
            ParseMessage({frame.begin(), frame.begin() + 23}, REGTEST);
        },
        Violation::Malformed, "truncated: 23 bytes, a header is 24");
    ExpectViolation(
        [&] {
            ParseMessage({frame.begin(), frame.end() - 1}, REGTEST);
        },
        Violation::Malformed, "ping: header announces 8 payload bytes, 7 follow");
    auto longer = frame;
    longer.push_back(0);
    ExpectViolation([&] { ParseMessage(longer, REGTEST); }, Violation::Malformed, "8 payload bytes, 9 follow");
}

TEST(ProtocolTest, RoundTripEveryMessage)
{
    {
        const auto v = std::get<MsgVersion>(RoundTrip(SampleVersion()));
        EXPECT_EQ(v.nonce, 0x1122334455667788ULL);
        EXPECT_EQ(v.addr_recv, SampleVersion().addr_recv);
        EXPECT_EQ(v.addr_from, SampleVersion().addr_from);
        MsgVersion quiet = SampleVersion();
        quiet.relay = false;
        quiet.user_agent = std::string(MAX_USER_AGENT_LENGTH, ' ');
        const auto q = std::get<MsgVersion>(RoundTrip(quiet));
        EXPECT_FALSE(q.relay);
        EXPECT_EQ(q.user_agent.size(), MAX_USER_AGENT_LENGTH);
    }
    RoundTrip(MsgVerack{});
    RoundTrip(MsgGetAddr{});
    EXPECT_EQ(std::get<MsgPing>(RoundTrip(MsgPing{UINT64_MAX})).nonce, UINT64_MAX);
    EXPECT_EQ(std::get<MsgPong>(RoundTrip(MsgPong{12345})).nonce, 12345u);
    {
        MsgAddr a;
        for (size_t i = 0; i < MAX_ADDR; ++i)
            a.addrs.push_back({static_cast<uint32_t>(i), NetAddress::FromIPv4({10, 0, 0, 1}, uint16_t(i), 1)});
        a.addrs.back().addr.ip = *NetAddress::ParseIP("::1");
        EXPECT_EQ(std::get<MsgAddr>(RoundTrip(a)).addrs, a.addrs);
        RoundTrip(MsgAddr{});
    }
    {
        MsgInv inv;
        for (size_t i = 0; i < MAX_INV; ++i)
            inv.items.push_back({i % 2 ? InvType::Block : InvType::Tx, Filled(uint8_t(i))});
        EXPECT_EQ(std::get<MsgInv>(RoundTrip(inv)).items, inv.items);
        EXPECT_EQ(std::get<MsgGetData>(RoundTrip(MsgGetData{inv.items})).items, inv.items);
        EXPECT_EQ(std::get<MsgNotFound>(RoundTrip(MsgNotFound{{inv.items[1]}})).items.size(), 1u);
    }
    {
        MsgGetHeaders gh;
        gh.locator.assign(MAX_LOCATOR, Filled(9));
        gh.stop = Filled(8);
        const auto back = std::get<MsgGetHeaders>(RoundTrip(gh));
        EXPECT_EQ(back.locator, gh.locator);
        EXPECT_EQ(back.stop, gh.stop);
        EXPECT_EQ(back.version, PROTOCOL_VERSION);
        RoundTrip(MsgGetHeaders{});
    }
    {
        MsgHeaders hs;
        hs.headers.assign(MAX_HEADERS, SampleHeader());
        hs.headers.back().height = 9;
        const auto back = std::get<MsgHeaders>(RoundTrip(hs));
        ASSERT_EQ(back.headers.size(), MAX_HEADERS);
        EXPECT_EQ(back.headers.back().GetHash(), hs.headers.back().GetHash());
        EXPECT_EQ(BLOCK_HEADER_SIZE, SampleHeader().Serialize().size());
        RoundTrip(MsgHeaders{}); // "no more headers"
    }
    {
        MsgBlock b;
        b.block.header = SampleHeader();
        b.block.vtx = {SampleTx(), SampleTx()};
        b.block.payload = {1, 2, 3};
        EXPECT_EQ(std::get<MsgBlock>(RoundTrip(b)).block.GetHash(), b.block.GetHash());
    }
    EXPECT_EQ(std::get<MsgTx>(RoundTrip(MsgTx{SampleTx()})).tx.GetHash(), SampleTx().GetHash());
}

TEST(ProtocolTest, UnknownCommandIsIgnored)
{
    EXPECT_FALSE(DecodeMessage("sendcmpct", {1, 2, 3}));
    EXPECT_FALSE(DecodeMessage("Version", {}));
    // Framing still holds it to the rules.
    const auto frame = FrameMessage(REGTEST, "futurething", {0xff});
    EXPECT_EQ(ParseMessage(frame, REGTEST).command, "futurething");
}

TEST(ProtocolTest, TooManyItems)
{
    ExpectMalformed("addr", Count(MAX_ADDR + 1), "1001 addresses, over the limit of 1000");
    ExpectMalformed("inv", Count(MAX_INV + 1), "50001 inventory entries, over the limit of 50000");
    ExpectMalformed("getdata", Count(MAX_INV + 1), "50001 inventory entries");
    ExpectMalformed("notfound", Count(UINT32_MAX), "4294967295 inventory entries, over the limit");
    ExpectMalformed("headers", Count(MAX_HEADERS + 1), "2001 headers, over the limit of 2000");
    Writer gh;
    gh.Int<uint32_t>(PROTOCOL_VERSION);
    gh.Int<uint32_t>(MAX_LOCATOR + 1);
    ExpectMalformed("getheaders", gh.take(), "102 locator hashes, over the limit of 101");
    // Sending them is refused too.
    MsgInv inv;
    inv.items.resize(MAX_INV + 1);
    EXPECT_THROW(inv.Serialize(), SerializeError);
    MsgHeaders hs;
    hs.headers.resize(MAX_HEADERS + 1);
    EXPECT_THROW(hs.Serialize(), SerializeError);
}

TEST(ProtocolTest, CountBeyondPayload)
{
    // A count within the limit that the bytes do not back is refused before
    // anything is allocated for it.
    ExpectMalformed("inv", Count(MAX_INV), "truncated: 50000 inventory entries need 1800000 bytes, 0 remain");
    ExpectMalformed("headers", Count(2), "truncated: 2 headers need 248 bytes, 0 remain");
    ExpectMalformed("addr", Count(1), "truncated: 1 addresses need 30 bytes, 0 remain");
}

TEST(ProtocolTest, TruncatedAndTrailingPayloads)
{
    for (const auto& g : Goldens()) {
        SCOPED_TRACE(g.name);
        const RawMessage raw = ParseMessage(Hex(g.hex), g.magic);
        for (size_t n = 0; n < raw.payload.size(); ++n) {
            const std::vector<uint8_t> cut(raw.payload.begin(), raw.payload.begin() + n);
            ExpectViolation([&] { DecodeMessage(raw.command, cut); }, Violation::Malformed, raw.command + ": ");
        }
        auto longer = raw.payload;
        longer.push_back(0);
        if (raw.command == "version") {
            EXPECT_TRUE(DecodeMessage(raw.command, longer)); // later versions' fields
        } else {
            ExpectMalformed(raw.command, longer, raw.command == "verack" ? "verack carries no payload" : "trailing");
        }
    }
    ExpectMalformed("getaddr", {0}, "getaddr carries no payload");
}

TEST(ProtocolTest, VersionLimits)
{
    MsgVersion v = SampleVersion();
    v.user_agent = std::string(MAX_USER_AGENT_LENGTH + 1, 'a');
    EXPECT_THROW(v.Serialize(), SerializeError);
    // Build the over-long agent by hand, as a hostile peer would.
    auto payload = SampleVersion().Serialize();
    const size_t agent_at = 4 + 8 + 8 + 26 + 26 + 8;
    auto with_agent = [&](const std::string& agent) {
        std::vector<uint8_t> p(payload.begin(), payload.begin() + agent_at);
        Writer w;
        w.Str(agent);
        w.Int<uint32_t>(1);
        w.Int<uint8_t>(1);
        p.insert(p.end(), w.data().begin(), w.data().end());
        return p;
    };
    ExpectMalformed("version", with_agent(std::string(257, 'a')), "over the limit of 256");
    ExpectMalformed("version", with_agent("a\nb"), "user agent holds a byte that is not printable ASCII");
    ExpectMalformed("version", with_agent("caf\xc3\xa9"), "not printable ASCII");
    EXPECT_TRUE(DecodeMessage("version", with_agent("")));
    auto bad_relay = payload;
    bad_relay.back() = 2;
    ExpectMalformed("version", bad_relay, "relay is 2, not 0 or 1");
    auto big = payload;
    big.resize(MAX_VERSION_PAYLOAD, 0);
    EXPECT_TRUE(DecodeMessage("version", big));
    big.push_back(0);
    ExpectMalformed("version", big, "payload of 1025 bytes, over the limit of 1024");
}

TEST(ProtocolTest, InvTypes)
{
    Writer w;
    w.Int<uint32_t>(1);
    w.Int<uint32_t>(3);
    w.Fixed(Filled(0));
    ExpectMalformed("inv", w.take(), "inventory entry 0 has unknown type 3");
    EXPECT_STREQ(InvTypeName(InvType::Tx), "tx");
    EXPECT_STREQ(InvTypeName(InvType::Block), "block");
    EXPECT_STREQ(InvTypeName(InvType::MetaTx), "metatx");
    // 0x10 (a metachain tx) decodes in all three lists, beside the others.
    for (const char* command : {"inv", "getdata", "notfound"}) {
        SCOPED_TRACE(command);
        Writer ok;
        ok.Int<uint32_t>(3);
        ok.Int<uint32_t>(0x10);
        ok.Fixed(Filled(0x33));
        ok.Int<uint32_t>(1);
        ok.Fixed(Filled(0x11));
        ok.Int<uint32_t>(2);
        ok.Fixed(Filled(0x22));
        const auto m = DecodeMessage(command, ok.take());
        ASSERT_TRUE(m);
        const std::vector<Inv> want = {
            {InvType::MetaTx, Filled(0x33)}, {InvType::Tx, Filled(0x11)}, {InvType::Block, Filled(0x22)}};
        std::visit(
            [&](const auto& msg) {
                if constexpr (std::is_same_v<std::decay_t<decltype(msg)>, MsgInv> ||
                              std::is_same_v<std::decay_t<decltype(msg)>, MsgGetData> ||
                              std::is_same_v<std::decay_t<decltype(msg)>, MsgNotFound>) {
                    EXPECT_EQ(msg.items, want);
                } else {
                    ADD_FAILURE() << "decoded as " << CommandOf(*m);
                }
            },
            *m);
    }
    // Its neighbours and the rest stay unknown, wherever the entry is.
    for (const uint32_t type : {0u, 3u, 0x0fu, 0x11u, 0x1000u, 0x10000010u, UINT32_MAX}) {
        SCOPED_TRACE(type);
        Writer bad;
        bad.Int<uint32_t>(2);
        bad.Int<uint32_t>(0x10);
        bad.Fixed(Filled(0x33));
        bad.Int<uint32_t>(type);
        bad.Fixed(Filled(0));
        ExpectMalformed("getdata", bad.take(), "inventory entry 1 has unknown type " + std::to_string(type));
    }
}

// A signed EIP-1559 transfer (regtest chain id 1132, key 1, nonce 0, 0.001 coin to
// 0x5151…51, gas 21000, max fee 2 gwei, tip 1 gwei), as docs/p2p.md shows it.
const char* const META_TX_RAW =
    "02f87382046c80843b9aca00847735940082520894515151515151515151515151515151515151515187038d7ea4c6800080c001a07ae8"
    "5e3c42fcc58c104a583de1b6842d98d1fc3baa5ff7c3d63e75d4d8344986a03d9ac2afcd9d6dce5d03d55fb73ea0ceaa63f406c5bc7774"
    "a78d7e80111e07eb";

TEST(ProtocolTest, MetaTxGoldenVectors)
{
    const auto raw = Hex(META_TX_RAW);
    const std::string frame_hex = "fabfb5da6d6574617478000000000000760000005dcdf160" + std::string(META_TX_RAW);
    EXPECT_STREQ(CommandOf(MsgMetaTx{raw}), "metatx");
    EXPECT_EQ(HexStr(EncodeMessage(REGTEST, MsgMetaTx{raw})), frame_hex);
    EXPECT_EQ(std::get<MsgMetaTx>(Decoded(REGTEST, Hex(frame_hex))).raw, raw);

    // Its inventory entry names it by keccak256 of those bytes, in byte order.
    const std::string hash = metachain::TxHash(raw);
    EXPECT_EQ(hash, "0xaa5e005e60f37aece490d68f8dee3c23aa4571a89f9ccc74850c765efe97f52e");
    MsgInv inv;
    inv.items = {{InvType::MetaTx, *ParseHash(hash.substr(2))}};
    const std::string inv_hex = "fabfb5da696e760000000000000000002800000069a7d25b0100000010000000" + hash.substr(2);
    EXPECT_EQ(HexStr(EncodeMessage(REGTEST, inv)), inv_hex);
    EXPECT_EQ(std::get<MsgInv>(Decoded(REGTEST, Hex(inv_hex))).items, inv.items);
}

TEST(ProtocolTest, MetaTxRoundTripAndLimits)
{
    // The payload is the tx, byte for byte: the codec does not look inside.
    EXPECT_EQ(std::get<MsgMetaTx>(RoundTrip(MsgMetaTx{{0x02}})).raw, std::vector<uint8_t>{0x02});
    std::vector<uint8_t> junk(1000);
    for (size_t i = 0; i < junk.size(); ++i)
        junk[i] = static_cast<uint8_t>(i * 7);
    EXPECT_EQ(std::get<MsgMetaTx>(RoundTrip(MsgMetaTx{junk})).raw, junk);
    const std::vector<uint8_t> largest(MAX_META_TX_SIZE, 0xab);
    EXPECT_EQ(std::get<MsgMetaTx>(RoundTrip(MsgMetaTx{largest})).raw.size(), MAX_META_TX_SIZE);
    EXPECT_EQ(MAX_META_TX_SIZE, 131072u);

    ExpectMalformed("metatx", {}, "empty metachain tx");
    std::vector<uint8_t> over(MAX_META_TX_SIZE + 1, 0xab);
    ExpectMalformed("metatx", over, "metachain tx of 131073 bytes, more than 131072");
    // The same through the framing, as a peer would send them.
    for (const auto& payload : {std::vector<uint8_t>{}, over}) {
        const RawMessage m = ParseMessage(FrameMessage(REGTEST, "metatx", payload), REGTEST);
        ExpectViolation([&] { DecodeMessage(m.command, m.payload); }, Violation::Malformed, "metatx: ");
    }
}

TEST(ProtocolTest, BlockAndTxLimits)
{
    std::vector<uint8_t> huge(MAX_BLOCK_SERIALIZED_SIZE + 1, 0);
    ExpectMalformed("block", huge, "over the limit of 33554432");
    auto tx = SampleTx().Serialize();
    tx[0] = 9;
    ExpectMalformed("tx", tx, "unknown tx type 9");
}

TEST(ProtocolTest, NetAddress)
{
    const NetAddress a = NetAddress::FromIPv4({192, 168, 1, 20}, 0x1234, NODE_NETWORK);
    EXPECT_TRUE(a.IsIPv4());
    EXPECT_EQ(a.GetIPv4(), (std::array<uint8_t, 4>{192, 168, 1, 20}));
    EXPECT_EQ(a.ToString(), "192.168.1.20:4660");
    Writer w;
    a.Serialize(w);
    // services LE, ::ffff:192.168.1.20, port big-endian.
    EXPECT_EQ(HexStr(w.data()), "0100000000000000"
                                "00000000000000000000ffffc0a80114"
                                "1234");
    Reader r(w.data());
    EXPECT_EQ(NetAddress::Deserialize(r), a);

    NetAddress v6;
    v6.ip = *NetAddress::ParseIP("2001:db8::ff00:42:8329");
    v6.port = 8555;
    EXPECT_FALSE(v6.IsIPv4());
    EXPECT_EQ(v6.ToString(), "[2001:db8::ff00:42:8329]:8555");
    EXPECT_EQ(NetAddress::ParseIP("10.1.2.3"), a.FromIPv4({10, 1, 2, 3}, 0).ip);
    EXPECT_EQ(NetAddress{}.ToString(), "[::]:0");
    for (const char* bad : {"", "1.2.3", "1.2.3.256", "[::1]", "::g", "example.com", "1.2.3.4:80"})
        EXPECT_FALSE(NetAddress::ParseIP(bad)) << bad;
    EXPECT_FALSE(NetAddress::ParseIP(std::string("1.2.3.4\0", 8)));
}

TEST(ProtocolTest, StreamSplitsMessages)
{
    std::vector<uint8_t> bytes;
    const std::vector<Message> sent = {SampleVersion(), MsgVerack{}, MsgPing{1}, MsgHeaders{{SampleHeader()}},
                                       MsgGetAddr{}};
    for (const auto& m : sent) {
        const auto f = EncodeMessage(REGTEST, m);
        bytes.insert(bytes.end(), f.begin(), f.end());
    }
    // One byte at a time, and all at once, give the same messages.
    for (const size_t chunk : {size_t{1}, size_t{7}, bytes.size()}) {
        MessageStream s(REGTEST);
        std::vector<std::string> got;
        for (size_t i = 0; i < bytes.size(); i += chunk) {
            s.Feed(bytes.data() + i, std::min(chunk, bytes.size() - i));
            while (auto m = s.Next()) {
                ASSERT_TRUE(DecodeMessage(m->command, m->payload));
                got.push_back(m->command);
            }
        }
        EXPECT_EQ(got, (std::vector<std::string>{"version", "verack", "ping", "headers", "getaddr"}));
    }
}

TEST(ProtocolTest, StreamRefusesEarly)
{
    // The oversized length is refused on its header, before any payload.
    MessageHeader h;
    h.magic = REGTEST;
    h.command = "block";
    h.length = MAX_PAYLOAD_SIZE + 1;
    const auto head = h.Serialize();
    MessageStream s(REGTEST);
    s.Feed(head.data(), HEADER_SIZE - 1);
    ExpectViolation([&] { s.Feed(head.data() + HEADER_SIZE - 1, 1); }, Violation::Oversized, "over the limit");
    // Once dead, it stays dead.
    ExpectViolation([&] { s.Feed(head.data(), 1); }, Violation::Oversized, "over the limit");

    auto frame = EncodeMessage(REGTEST, MsgPing{3});
    frame.back() ^= 0xff;
    MessageStream c(REGTEST);
    ExpectViolation([&] { c.Feed(frame.data(), frame.size()); }, Violation::BadChecksum, "ping: checksum");
    EXPECT_EQ(c.Pending(), 0u);

    const auto other = EncodeMessage(MAIN, MsgVerack{});
    MessageStream m(REGTEST);
    ExpectViolation([&] { m.Feed(other.data(), other.size()); }, Violation::BadMagic, "bad magic");
}
