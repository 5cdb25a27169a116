#include <protocol.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace p2p {

const char* ViolationName(Violation v)
{
    switch (v) {
    case Violation::BadMagic:
        return "bad magic";
    case Violation::BadCommand:
        return "bad command";
    case Violation::Oversized:
        return "oversized";
    case Violation::BadChecksum:
        return "bad checksum";
    case Violation::Malformed:
        return "malformed";
    }
    return "unknown";
}

std::array<uint8_t, 4> Checksum(const std::vector<uint8_t>& payload)
{
    const uint256 h = Sha256d(payload);
    return {h[0], h[1], h[2], h[3]};
}

static bool CommandByteOk(uint8_t c) { return c >= 0x21 && c <= 0x7e; }

// Bytes from the wire in an error message: escaped, so logs stay one line.
static std::string Escape(const uint8_t* data, size_t len)
{
    std::string out;
    for (size_t i = 0; i < len; ++i) {
        if (CommandByteOk(data[i]) && data[i] != '\\') {
            out += static_cast<char>(data[i]);
        } else {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[data[i] >> 4];
            out += hex[data[i] & 15];
        }
    }
    return out;
}

void CheckCommand(const std::string& command)
{
    const auto* p = reinterpret_cast<const uint8_t*>(command.data());
    if (command.empty() || command.size() > COMMAND_SIZE || !std::all_of(p, p + command.size(), CommandByteOk)) {
        throw ProtocolError(Violation::BadCommand, "bad command \"" + Escape(p, command.size()) + "\"");
    }
}

std::array<uint8_t, HEADER_SIZE> MessageHeader::Serialize() const
{
    CheckCommand(command);
    std::array<uint8_t, HEADER_SIZE> out{};
    std::copy(magic.begin(), magic.end(), out.begin());
    std::copy(command.begin(), command.end(), out.begin() + 4); // NUL padding from out{}
    for (int i = 0; i < 4; ++i)
        out[16 + i] = static_cast<uint8_t>(length >> (8 * i));
    std::copy(checksum.begin(), checksum.end(), out.begin() + 20);
    return out;
}

MessageHeader MessageHeader::Parse(const uint8_t* data, const Magic& expected)
{
    MessageHeader h;
    std::copy(data, data + 4, h.magic.begin());
    if (h.magic != expected) {
        throw ProtocolError(Violation::BadMagic, "bad magic " + HexStr(h.magic) + ", expected " + HexStr(expected));
    }
    const uint8_t* cmd = data + 4;
    const size_t len = std::find(cmd, cmd + COMMAND_SIZE, 0) - cmd;
    // Printable before the first NUL, only NULs after it.
    if (len == 0 || !std::all_of(cmd, cmd + len, CommandByteOk) ||
        !std::all_of(cmd + len, cmd + COMMAND_SIZE, [](uint8_t c) { return c == 0; })) {
        throw ProtocolError(Violation::BadCommand, "bad command bytes \"" + Escape(cmd, COMMAND_SIZE) + "\"");
    }
    h.command.assign(reinterpret_cast<const char*>(cmd), len);
    Reader r(data + 16, 8);
    h.length = r.Int<uint32_t>();
    h.checksum = r.Fixed<4>();
    if (h.length > MAX_PAYLOAD_SIZE) {
        throw ProtocolError(Violation::Oversized, h.command + ": payload of " + std::to_string(h.length) +
                                                      " bytes, over the limit of " + std::to_string(MAX_PAYLOAD_SIZE));
    }
    return h;
}

static void CheckChecksum(const MessageHeader& h, const std::vector<uint8_t>& payload)
{
    if (Checksum(payload) != h.checksum) {
        throw ProtocolError(Violation::BadChecksum, h.command + ": checksum " + HexStr(h.checksum) +
                                                        " does not match the payload's " + HexStr(Checksum(payload)));
    }
}

std::vector<uint8_t> FrameMessage(const Magic& magic, const std::string& command, const std::vector<uint8_t>& payload)
{
    if (payload.size() > MAX_PAYLOAD_SIZE) {
        throw ProtocolError(Violation::Oversized, command + ": payload of " + std::to_string(payload.size()) +
                                                      " bytes, over the limit of " + std::to_string(MAX_PAYLOAD_SIZE));
    }
    MessageHeader h;
    h.magic = magic;
    h.command = command;
    h.length = static_cast<uint32_t>(payload.size());
    h.checksum = Checksum(payload);
    const auto head = h.Serialize();
    std::vector<uint8_t> out;
    out.reserve(HEADER_SIZE + payload.size());
    out.insert(out.end(), head.begin(), head.end());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

RawMessage ParseMessage(const std::vector<uint8_t>& bytes, const Magic& magic)
{
    if (bytes.size() < HEADER_SIZE) {
        throw ProtocolError(Violation::Malformed, "truncated: " + std::to_string(bytes.size()) +
                                                      " bytes, a header is " + std::to_string(HEADER_SIZE));
    }
    const MessageHeader h = MessageHeader::Parse(bytes.data(), magic);
    if (bytes.size() - HEADER_SIZE != h.length) {
        throw ProtocolError(Violation::Malformed, h.command + ": header announces " + std::to_string(h.length) +
                                                      " payload bytes, " + std::to_string(bytes.size() - HEADER_SIZE) +
                                                      " follow");
    }
    RawMessage m{h.command, std::vector<uint8_t>(bytes.begin() + HEADER_SIZE, bytes.end())};
    CheckChecksum(h, m.payload);
    return m;
}

void MessageStream::Feed(const uint8_t* data, size_t len)
{
    while (len > 0) {
        if (!m_header) {
            const size_t take = std::min(len, HEADER_SIZE - m_head.size());
            m_head.insert(m_head.end(), data, data + take);
            data += take;
            len -= take;
            if (m_head.size() < HEADER_SIZE) return;
            m_header = MessageHeader::Parse(m_head.data(), m_magic);
            m_head.clear();
        }
        const size_t take = std::min<size_t>(len, m_header->length - m_payload.size());
        m_payload.insert(m_payload.end(), data, data + take);
        data += take;
        len -= take;
        if (m_payload.size() == m_header->length) {
            CheckChecksum(*m_header, m_payload);
            m_ready.push_back({std::move(m_header->command), std::move(m_payload)});
            m_payload.clear();
            m_header.reset();
        }
    }
}

std::optional<RawMessage> MessageStream::Next()
{
    if (m_ready.empty()) return std::nullopt;
    RawMessage m = std::move(m_ready.front());
    m_ready.pop_front();
    return m;
}

// NetAddress

static constexpr std::array<uint8_t, 12> IPV4_PREFIX{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

NetAddress NetAddress::FromIPv4(const std::array<uint8_t, 4>& v4, uint16_t port, uint64_t services)
{
    NetAddress a;
    a.services = services;
    std::copy(IPV4_PREFIX.begin(), IPV4_PREFIX.end(), a.ip.begin());
    std::copy(v4.begin(), v4.end(), a.ip.begin() + 12);
    a.port = port;
    return a;
}

std::optional<IPv6Bytes> NetAddress::ParseIP(const std::string& text)
{
    if (text.find('\0') != std::string::npos) return std::nullopt;
    std::array<uint8_t, 4> v4;
    if (inet_pton(AF_INET, text.c_str(), v4.data()) == 1) return FromIPv4(v4, 0).ip;
    IPv6Bytes v6;
    if (inet_pton(AF_INET6, text.c_str(), v6.data()) == 1) return v6;
    return std::nullopt;
}

bool NetAddress::IsIPv4() const { return std::equal(IPV4_PREFIX.begin(), IPV4_PREFIX.end(), ip.begin()); }

std::array<uint8_t, 4> NetAddress::GetIPv4() const { return {ip[12], ip[13], ip[14], ip[15]}; }

std::string NetAddress::ToStringIP() const
{
    char buf[INET6_ADDRSTRLEN] = {};
    if (IsIPv4()) {
        const auto v4 = GetIPv4();
        inet_ntop(AF_INET, v4.data(), buf, sizeof(buf));
    } else {
        inet_ntop(AF_INET6, ip.data(), buf, sizeof(buf));
    }
    return buf;
}

std::string NetAddress::ToString() const
{
    const std::string host = IsIPv4() ? ToStringIP() : "[" + ToStringIP() + "]";
    return host + ":" + std::to_string(port);
}

void NetAddress::Serialize(Writer& w) const
{
    w.Int<uint64_t>(services);
    w.Fixed(ip);
    w.Int<uint8_t>(static_cast<uint8_t>(port >> 8)); // big-endian, as Bitcoin
    w.Int<uint8_t>(static_cast<uint8_t>(port));
}

NetAddress NetAddress::Deserialize(Reader& r)
{
    NetAddress a;
    a.services = r.Int<uint64_t>();
    a.ip = r.Fixed<16>();
    const uint8_t hi = r.Int<uint8_t>(), lo = r.Int<uint8_t>();
    a.port = static_cast<uint16_t>(hi << 8 | lo);
    return a;
}

const char* InvTypeName(InvType t)
{
    switch (t) {
    case InvType::Tx:
        return "tx";
    case InvType::Block:
        return "block";
    case InvType::MetaTx:
        return "metatx";
    }
    return "unknown";
}

// Payloads

// A count of fixed-size items, checked against the limit and against the
// bytes left before anything is allocated for it.
static uint32_t ReadCount(Reader& r, const char* what, size_t max, size_t item_size)
{
    const uint32_t n = r.Int<uint32_t>();
    if (n > max) {
        throw SerializeError(std::to_string(n) + " " + what + ", over the limit of " + std::to_string(max));
    }
    if (static_cast<uint64_t>(n) * item_size > r.Remaining()) {
        throw SerializeError("truncated: " + std::to_string(n) + " " + what + " need " + std::to_string(n * item_size) +
                             " bytes, " + std::to_string(r.Remaining()) + " remain");
    }
    return n;
}

static void WriteCount(Writer& w, size_t n, const char* what, size_t max)
{
    // Never emit what a peer must refuse.
    if (n > max) throw SerializeError(std::to_string(n) + " " + what + ", over the limit of " + std::to_string(max));
    w.Int<uint32_t>(static_cast<uint32_t>(n));
}

std::vector<uint8_t> MsgVersion::Serialize() const
{
    if (user_agent.size() > MAX_USER_AGENT_LENGTH) throw SerializeError("user agent over 256 bytes");
    Writer w;
    w.Int<uint32_t>(version);
    w.Int<uint64_t>(services);
    w.Int<int64_t>(timestamp);
    addr_recv.Serialize(w);
    addr_from.Serialize(w);
    w.Int<uint64_t>(nonce);
    w.Str(user_agent);
    w.Int<uint32_t>(start_height);
    w.Int<uint8_t>(relay ? 1 : 0);
    return w.take();
}

MsgVersion MsgVersion::Deserialize(const std::vector<uint8_t>& payload)
{
    if (payload.size() > MAX_VERSION_PAYLOAD) {
        throw SerializeError("payload of " + std::to_string(payload.size()) + " bytes, over the limit of " +
                             std::to_string(MAX_VERSION_PAYLOAD));
    }
    Reader r(payload);
    MsgVersion m;
    m.version = r.Int<uint32_t>();
    m.services = r.Int<uint64_t>();
    m.timestamp = r.Int<int64_t>();
    m.addr_recv = NetAddress::Deserialize(r);
    m.addr_from = NetAddress::Deserialize(r);
    m.nonce = r.Int<uint64_t>();
    m.user_agent = r.Str(MAX_USER_AGENT_LENGTH);
    // It ends up in getpeerinfo and the log: printable ASCII only.
    for (const char c : m.user_agent) {
        if (c < 0x20 || c > 0x7e) throw SerializeError("user agent holds a byte that is not printable ASCII");
    }
    m.start_height = r.Int<uint32_t>();
    const uint8_t relay = r.Int<uint8_t>();
    if (relay > 1) throw SerializeError("relay is " + std::to_string(relay) + ", not 0 or 1");
    m.relay = relay == 1;
    // Bytes after `relay` belong to later protocol versions: ignored.
    return m;
}

template <const char* const* Cmd> std::vector<uint8_t> NonceMessage<Cmd>::Serialize() const
{
    Writer w;
    w.Int<uint64_t>(nonce);
    return w.take();
}

template <const char* const* Cmd> NonceMessage<Cmd> NonceMessage<Cmd>::Deserialize(const std::vector<uint8_t>& payload)
{
    Reader r(payload);
    NonceMessage m;
    m.nonce = r.Int<uint64_t>();
    r.ExpectEnd();
    return m;
}

template struct NonceMessage<&PING_COMMAND>;
template struct NonceMessage<&PONG_COMMAND>;

std::vector<uint8_t> MsgAddr::Serialize() const
{
    Writer w;
    WriteCount(w, addrs.size(), "addresses", MAX_ADDR);
    for (const auto& a : addrs) {
        w.Int<uint32_t>(a.time);
        a.addr.Serialize(w);
    }
    return w.take();
}

MsgAddr MsgAddr::Deserialize(const std::vector<uint8_t>& payload)
{
    Reader r(payload);
    MsgAddr m;
    const uint32_t n = ReadCount(r, "addresses", MAX_ADDR, TIMED_ADDRESS_SIZE);
    m.addrs.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        TimedAddress a;
        a.time = r.Int<uint32_t>();
        a.addr = NetAddress::Deserialize(r);
        m.addrs.push_back(a);
    }
    r.ExpectEnd();
    return m;
}

template <const char* const* Cmd> std::vector<uint8_t> InvMessage<Cmd>::Serialize() const
{
    Writer w;
    WriteCount(w, items.size(), "inventory entries", MAX_INV);
    for (const auto& i : items) {
        w.Int<uint32_t>(static_cast<uint32_t>(i.type));
        w.Fixed(i.hash);
    }
    return w.take();
}

template <const char* const* Cmd> InvMessage<Cmd> InvMessage<Cmd>::Deserialize(const std::vector<uint8_t>& payload)
{
    Reader r(payload);
    InvMessage m;
    const uint32_t n = ReadCount(r, "inventory entries", MAX_INV, INV_SIZE);
    m.items.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t type = r.Int<uint32_t>();
        if (type != static_cast<uint32_t>(InvType::Tx) && type != static_cast<uint32_t>(InvType::Block) &&
            type != static_cast<uint32_t>(InvType::MetaTx)) {
            throw SerializeError("inventory entry " + std::to_string(i) + " has unknown type " + std::to_string(type));
        }
        m.items.push_back({static_cast<InvType>(type), r.Fixed<32>()});
    }
    r.ExpectEnd();
    return m;
}

template struct InvMessage<&INV_COMMAND>;
template struct InvMessage<&GETDATA_COMMAND>;
template struct InvMessage<&NOTFOUND_COMMAND>;

std::vector<uint8_t> MsgGetHeaders::Serialize() const
{
    Writer w;
    w.Int<uint32_t>(version);
    WriteCount(w, locator.size(), "locator hashes", MAX_LOCATOR);
    for (const auto& h : locator)
        w.Fixed(h);
    w.Fixed(stop);
    return w.take();
}

MsgGetHeaders MsgGetHeaders::Deserialize(const std::vector<uint8_t>& payload)
{
    Reader r(payload);
    MsgGetHeaders m;
    m.version = r.Int<uint32_t>();
    const uint32_t n = ReadCount(r, "locator hashes", MAX_LOCATOR, 32);
    m.locator.reserve(n);
    for (uint32_t i = 0; i < n; ++i)
        m.locator.push_back(r.Fixed<32>());
    m.stop = r.Fixed<32>();
    r.ExpectEnd();
    return m;
}

std::vector<uint8_t> MsgHeaders::Serialize() const
{
    Writer w;
    WriteCount(w, headers.size(), "headers", MAX_HEADERS);
    std::vector<uint8_t> out = w.take();
    out.reserve(4 + headers.size() * BLOCK_HEADER_SIZE);
    for (const auto& h : headers) {
        const auto bytes = h.Serialize();
        out.insert(out.end(), bytes.begin(), bytes.end());
    }
    return out;
}

MsgHeaders MsgHeaders::Deserialize(const std::vector<uint8_t>& payload)
{
    Reader r(payload);
    MsgHeaders m;
    const uint32_t n = ReadCount(r, "headers", MAX_HEADERS, BLOCK_HEADER_SIZE);
    m.headers.reserve(n);
    for (uint32_t i = 0; i < n; ++i)
        m.headers.push_back(CBlockHeader::Read(r));
    r.ExpectEnd();
    return m;
}

MsgMetaTx MsgMetaTx::Deserialize(const std::vector<uint8_t>& payload)
{
    if (payload.empty()) throw SerializeError("empty metachain tx");
    if (payload.size() > MAX_META_TX_SIZE) {
        throw SerializeError("metachain tx of " + std::to_string(payload.size()) + " bytes, more than " +
                             std::to_string(MAX_META_TX_SIZE));
    }
    return {payload};
}

const char* CommandOf(const Message& m)
{
    return std::visit([](const auto& msg) { return std::decay_t<decltype(msg)>::COMMAND; }, m);
}

std::vector<uint8_t> EncodePayload(const Message& m)
{
    return std::visit([](const auto& msg) { return msg.Serialize(); }, m);
}

std::vector<uint8_t> EncodeMessage(const Magic& magic, const Message& m)
{
    return FrameMessage(magic, CommandOf(m), EncodePayload(m));
}

template <typename T>
static bool TryDecode(const std::string& command, const std::vector<uint8_t>& payload, std::optional<Message>& out)
{
    if (command != T::COMMAND) return false;
    out = T::Deserialize(payload);
    return true;
}

template <typename... Ts>
static std::optional<Message> DecodeAny(const std::string& command, const std::vector<uint8_t>& payload,
                                        std::variant<Ts...>*)
{
    std::optional<Message> out;
    (TryDecode<Ts>(command, payload, out) || ...);
    return out;
}

std::optional<Message> DecodeMessage(const std::string& command, const std::vector<uint8_t>& payload)
{
    try {
        return DecodeAny(command, payload, static_cast<Message*>(nullptr));
    } catch (const ProtocolError&) {
        throw;
    } catch (const SerializeError& e) {
        throw ProtocolError(Violation::Malformed, command + ": " + e.what());
    }
}

} // namespace p2p
