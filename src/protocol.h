// The P2P wire protocol of docs/p2p.md: message framing and every message's
// payload. Bytes only: no sockets and no chain logic, so the net layer, the
// fuzzers and the tests share one decoder that enforces every limit.
#ifndef DEFI_PROTOCOL_H
#define DEFI_PROTOCOL_H

#include <crypto/hash.h>
#include <primitives/block.h>
#include <primitives/transaction.h>
#include <serialize.h>

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace p2p {

// Network magic: the first 4 bytes of every message, from the chain params.
using Magic = std::array<uint8_t, 4>;

constexpr size_t COMMAND_SIZE = 12;
constexpr size_t HEADER_SIZE = 4 + COMMAND_SIZE + 4 + 4;
// A full block plus room for framing growth; anything larger is hostile.
constexpr uint32_t MAX_PAYLOAD_SIZE = MAX_BLOCK_SERIALIZED_SIZE + 1024;

constexpr uint32_t PROTOCOL_VERSION = 70001;
constexpr uint32_t MIN_PEER_PROTO_VERSION = 70001;
constexpr uint64_t NODE_NETWORK = 1; // serves the full chain

constexpr size_t MAX_USER_AGENT_LENGTH = 256;
// A version payload may carry fields of later protocol versions after
// `relay`; they are ignored, but only up to this size.
constexpr size_t MAX_VERSION_PAYLOAD = 1024;
constexpr size_t MAX_ADDR = 1000;
constexpr size_t MAX_INV = 50000;
constexpr size_t MAX_LOCATOR = 101;
constexpr size_t MAX_HEADERS = 2000;
// The metachain's txpool refuses larger txs.
constexpr size_t MAX_META_TX_SIZE = 128 * 1024;

constexpr size_t NET_ADDRESS_SIZE = 8 + 16 + 2;
constexpr size_t TIMED_ADDRESS_SIZE = 4 + NET_ADDRESS_SIZE;
constexpr size_t INV_SIZE = 4 + 32;
constexpr size_t BLOCK_HEADER_SIZE = 124; // CBlockHeader::Serialize

// What a receiver does about a violation depends on its kind (docs/p2p.md).
enum class Violation {
    BadMagic,    // another network: disconnect only
    BadCommand,  // disconnect and discourage
    Oversized,   // disconnect and discourage
    BadChecksum, // disconnect and discourage
    Malformed,   // disconnect and discourage
};
const char* ViolationName(Violation v);

struct ProtocolError : SerializeError {
    ProtocolError(Violation v, const std::string& what) : SerializeError(what), violation(v) {}
    Violation violation;
};

// First 4 bytes of sha256d(payload).
std::array<uint8_t, 4> Checksum(const std::vector<uint8_t>& payload);

// Throws ProtocolError(BadCommand) unless `command` is 1 to 12 bytes of
// 0x21..0x7e.
void CheckCommand(const std::string& command);

struct MessageHeader {
    Magic magic{};
    std::string command;
    uint32_t length{0};
    std::array<uint8_t, 4> checksum{};

    std::array<uint8_t, HEADER_SIZE> Serialize() const;
    // Reads HEADER_SIZE bytes; throws ProtocolError for a magic other than
    // `expected`, bad command bytes, or a length over MAX_PAYLOAD_SIZE.
    static MessageHeader Parse(const uint8_t* data, const Magic& expected);
};

// A framed message whose header and checksum were checked; payload not decoded.
struct RawMessage {
    std::string command;
    std::vector<uint8_t> payload;
};

// Header + payload, ready for the socket.
std::vector<uint8_t> FrameMessage(const Magic& magic, const std::string& command, const std::vector<uint8_t>& payload);
// Exactly one framed message: header checks, length, checksum.
RawMessage ParseMessage(const std::vector<uint8_t>& bytes, const Magic& magic);

// Splits a byte stream into messages. A header is checked as soon as its 24
// bytes are in, so a peer announcing an oversized payload is refused before
// it sends it; the payload buffer grows only with bytes actually received.
class MessageStream {
public:
    explicit MessageStream(const Magic& magic) : m_magic(magic) {}
    // Throws ProtocolError on the first violation; the stream is then dead.
    void Feed(const uint8_t* data, size_t len);
    std::optional<RawMessage> Next();
    size_t Pending() const { return m_ready.size(); }

private:
    Magic m_magic;
    std::vector<uint8_t> m_head; // partial header
    std::optional<MessageHeader> m_header;
    std::vector<uint8_t> m_payload; // partial payload of m_header
    std::deque<RawMessage> m_ready;
};

using IPv6Bytes = std::array<uint8_t, 16>;

// A peer's address as sent on the wire: services, IPv6 (IPv4 mapped into
// ::ffff:0:0/96), and the port, which alone is big-endian.
struct NetAddress {
    uint64_t services{0};
    IPv6Bytes ip{};
    uint16_t port{0};

    static NetAddress FromIPv4(const std::array<uint8_t, 4>& v4, uint16_t port, uint64_t services = 0);
    // "1.2.3.4" or an IPv6 literal ("::1", no brackets); nullopt otherwise.
    static std::optional<IPv6Bytes> ParseIP(const std::string& text);
    bool IsIPv4() const;
    std::array<uint8_t, 4> GetIPv4() const; // only meaningful if IsIPv4()
    std::string ToStringIP() const;         // "1.2.3.4" or "2001:db8::1"
    std::string ToString() const;           // "1.2.3.4:8555" or "[2001:db8::1]:8555"

    void Serialize(Writer& w) const;
    static NetAddress Deserialize(Reader& r);
    bool operator==(const NetAddress& o) const { return services == o.services && ip == o.ip && port == o.port; }
    bool operator!=(const NetAddress& o) const { return !(*this == o); }
};

// An `addr` entry: when the address was last seen (Unix seconds).
struct TimedAddress {
    uint32_t time{0};
    NetAddress addr;
    bool operator==(const TimedAddress& o) const { return time == o.time && addr == o.addr; }
};

// MetaTx: a metachain (EVM) tx, named by its keccak256 hash.
enum class InvType : uint32_t { Tx = 1, Block = 2, MetaTx = 0x10 };
const char* InvTypeName(InvType t);

struct Inv {
    InvType type{InvType::Tx};
    uint256 hash{};
    bool operator==(const Inv& o) const { return type == o.type && hash == o.hash; }
};

// Each message: its command, fields, and Serialize()/Deserialize(payload).
// Deserialize reads the whole payload and throws SerializeError on any
// violation of docs/p2p.md (DecodeMessage wraps it as Malformed).
struct MsgVersion {
    static constexpr const char* COMMAND = "version";
    uint32_t version{PROTOCOL_VERSION};
    uint64_t services{0};
    int64_t timestamp{0};
    NetAddress addr_recv;
    NetAddress addr_from;
    uint64_t nonce{0};
    std::string user_agent;
    uint32_t start_height{0};
    bool relay{true};

    std::vector<uint8_t> Serialize() const;
    static MsgVersion Deserialize(const std::vector<uint8_t>& payload);
};

// The messages without a payload.
template <const char* const* Cmd> struct EmptyMessage {
    static constexpr const char* COMMAND = *Cmd;
    std::vector<uint8_t> Serialize() const { return {}; }
    static EmptyMessage Deserialize(const std::vector<uint8_t>& payload)
    {
        if (!payload.empty()) throw SerializeError(std::string(COMMAND) + " carries no payload");
        return {};
    }
};
inline constexpr const char* VERACK_COMMAND = "verack";
inline constexpr const char* GETADDR_COMMAND = "getaddr";
using MsgVerack = EmptyMessage<&VERACK_COMMAND>;
using MsgGetAddr = EmptyMessage<&GETADDR_COMMAND>;

template <const char* const* Cmd> struct NonceMessage {
    static constexpr const char* COMMAND = *Cmd;
    uint64_t nonce{0};
    std::vector<uint8_t> Serialize() const;
    static NonceMessage Deserialize(const std::vector<uint8_t>& payload);
};
inline constexpr const char* PING_COMMAND = "ping";
inline constexpr const char* PONG_COMMAND = "pong";
using MsgPing = NonceMessage<&PING_COMMAND>;
using MsgPong = NonceMessage<&PONG_COMMAND>;

struct MsgAddr {
    static constexpr const char* COMMAND = "addr";
    std::vector<TimedAddress> addrs;
    std::vector<uint8_t> Serialize() const;
    static MsgAddr Deserialize(const std::vector<uint8_t>& payload);
};

// inv, getdata and notfound share one layout.
template <const char* const* Cmd> struct InvMessage {
    static constexpr const char* COMMAND = *Cmd;
    std::vector<Inv> items;
    std::vector<uint8_t> Serialize() const;
    static InvMessage Deserialize(const std::vector<uint8_t>& payload);
};
inline constexpr const char* INV_COMMAND = "inv";
inline constexpr const char* GETDATA_COMMAND = "getdata";
inline constexpr const char* NOTFOUND_COMMAND = "notfound";
using MsgInv = InvMessage<&INV_COMMAND>;
using MsgGetData = InvMessage<&GETDATA_COMMAND>;
using MsgNotFound = InvMessage<&NOTFOUND_COMMAND>;

struct MsgGetHeaders {
    static constexpr const char* COMMAND = "getheaders";
    uint32_t version{PROTOCOL_VERSION};
    std::vector<uint256> locator; // newest first
    uint256 stop{};               // all zeros: as many as allowed
    std::vector<uint8_t> Serialize() const;
    static MsgGetHeaders Deserialize(const std::vector<uint8_t>& payload);
};

struct MsgHeaders {
    static constexpr const char* COMMAND = "headers";
    std::vector<CBlockHeader> headers;
    std::vector<uint8_t> Serialize() const;
    static MsgHeaders Deserialize(const std::vector<uint8_t>& payload);
};

struct MsgBlock {
    static constexpr const char* COMMAND = "block";
    CBlock block;
    std::vector<uint8_t> Serialize() const { return block.Serialize(); }
    static MsgBlock Deserialize(const std::vector<uint8_t>& payload) { return {CBlock::Deserialize(payload)}; }
};

struct MsgTx {
    static constexpr const char* COMMAND = "tx";
    CTransaction tx;
    std::vector<uint8_t> Serialize() const { return tx.Serialize(); }
    static MsgTx Deserialize(const std::vector<uint8_t>& payload) { return {CTransaction::Deserialize(payload)}; }
};

// A metachain tx: its EIP-2718 bytes, checked only by the metachain.
struct MsgMetaTx {
    static constexpr const char* COMMAND = "metatx";
    std::vector<uint8_t> raw;
    std::vector<uint8_t> Serialize() const { return raw; }
    static MsgMetaTx Deserialize(const std::vector<uint8_t>& payload);
};

using Message = std::variant<MsgVersion, MsgVerack, MsgPing, MsgPong, MsgGetAddr, MsgAddr, MsgInv, MsgGetData,
                             MsgNotFound, MsgGetHeaders, MsgHeaders, MsgBlock, MsgTx, MsgMetaTx>;

const char* CommandOf(const Message& m);
std::vector<uint8_t> EncodePayload(const Message& m);
// Framed, ready for the socket.
std::vector<uint8_t> EncodeMessage(const Magic& magic, const Message& m);
// The message `payload` encodes; nullopt for a command this version does not
// know (ignored by the receiver). Throws ProtocolError(Malformed) naming the
// command and the cause.
std::optional<Message> DecodeMessage(const std::string& command, const std::vector<uint8_t>& payload);

} // namespace p2p

#endif // DEFI_PROTOCOL_H
