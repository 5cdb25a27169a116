// P2P message deserialization and processing. The input is the byte stream a
// peer sends: p2p::MessageStream (regtest magic) splits it into messages,
// DecodeMessage decodes each; only ProtocolError / SerializeError may escape
// them, and a decoded message must encode back to its own payload (a
// `version`: to a prefix of it, later fields being ignored). Each decoded
// message then goes to a real PeerManager, followed by SendMessages, as the
// message thread does after the handshake.
//
// The PeerManager runs on a node built once in a temp datadir (chain and
// mempool, no metachain, no wallet): 3 blocks at fixed times, one of them with
// a transfer, and one transfer pending. Its CConnman is constructed but never
// started: it has no peers, so whatever the PeerManager sends, punishes or
// disconnects is dropped. One fake peer is initialized per input and
// finalized after it. An input that changes the node (a header or block it
// did not have, a tx, a new tip) is followed by a reset to a copy of the
// template, so a crash reproduces from its input alone.
//
// A custom mutator recomputes the checksums (and the length of a truncated
// last message) of most mutants, so mutations reach the decoders and the
// PeerManager instead of dying at the framing; the input is still fed as is.
// DEFI_FUZZ_PRINT_STATE=1 prints the template's block hashes and txids.
#include <fuzz/fuzz.h>

#include <bech32.h>
#include <chainparams.h>
#include <key.h>
#include <net.h>
#include <net_processing.h>
#include <node/miner.h>
#include <protocol.h>
#include <txmempool.h>
#include <util/logging.h>
#include <validation.h>
#include <validationinterface.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr int TEMPLATE_BLOCKS = 2;
constexpr NodeId PEER = 7;

FuzzDirs g_dirs;

struct Node {
    std::unique_ptr<ValidationSignals> signals;
    std::unique_ptr<Mempool> mempool;
    std::unique_ptr<ChainState> chain;
    std::unique_ptr<CConnman> connman;
    std::unique_ptr<PeerManager> peerman;

    void Open(const fs::path& dir)
    {
        const ChainParams& params = RegtestParams();
        signals = std::make_unique<ValidationSignals>();
        mempool = std::make_unique<Mempool>(params, signals.get());
        chain = std::make_unique<ChainState>(params, dir.string(), *mempool, signals.get());
        chain->LoadMempool();
        // Not started: no threads, no sockets, no peers; nothing persisted.
        CConnman::Options opts;
        opts.listen = false;
        opts.auto_outbound = false;
        connman = std::make_unique<CConnman>(params, opts);
        peerman = std::make_unique<PeerManager>(*chain, *mempool, *connman);
        signals->Register(peerman.get());
        connman->SetEvents(peerman.get());
    }
    void Close()
    {
        if (peerman) signals->Unregister(peerman.get());
        peerman.reset();
        connman.reset();
        chain.reset(); // before the mempool it refers to
        mempool.reset();
        signals.reset();
    }
};

Node g_node;

[[noreturn]] void Die(const std::string& message)
{
    std::fprintf(stderr, "p2p_message: %s\n", message.c_str());
    std::exit(1);
}

CKey FixedKey()
{
    std::array<uint8_t, 32> secret;
    secret.fill(0x11);
    return *CKey::FromSecret(secret);
}

void MineTo(const std::string& address, int64_t time)
{
    const CBlock block = CreateNewBlock(*g_node.chain, *g_node.mempool, address, time);
    BlockValidationState state;
    if (!g_node.chain->ProcessNewBlock(block, state)) Die("template block rejected: " + state.ToString());
}

void SendFrom(const CKey& key, const std::string& to, CAmount amount)
{
    CTransaction tx;
    tx.type = TxType::Transfer;
    tx.from = key.GetPubKey();
    tx.to = to;
    tx.amount = amount;
    tx.fee = 10000;
    tx.nonce = g_node.chain->GetAccount(HashPubKey(tx.from)).nonce;
    tx.signature = key.Sign(tx.SignatureHash());
    std::lock_guard<std::recursive_mutex> lock(g_node.chain->cs);
    const auto state = g_node.mempool->Accept(tx, [](const KeyHash& k) { return g_node.chain->GetAccount(k); });
    if (state.IsInvalid()) Die("template tx rejected: " + state.ToString());
}

void BuildTemplate()
{
    fs::create_directories(g_dirs.templ);
    g_node.Open(g_dirs.templ);
    const ChainParams& params = RegtestParams();
    const CKey key = FixedKey();
    const std::string mine = EncodeAddress(params.address_hrp, HashPubKey(key.GetPubKey()));
    const std::string other = EncodeAddress(params.address_hrp, KeyHash{});
    for (int i = 1; i <= TEMPLATE_BLOCKS; ++i)
        MineTo(mine, params.genesis_time + 60 * i);
    SendFrom(key, other, 150000000);
    MineTo(mine, params.genesis_time + 60 * (TEMPLATE_BLOCKS + 1));
    SendFrom(key, other, 225000000);
    if (std::getenv("DEFI_FUZZ_PRINT_STATE")) {
        std::printf("{\"blocks\": [");
        for (uint32_t h = 0; h <= g_node.chain->Tip()->height(); ++h)
            std::printf("%s\"%s\"", h ? ", " : "", HexStr(g_node.chain->AtHeight(h)->hash).c_str());
        std::printf("], \"mempool\": [");
        const auto txids = g_node.mempool->Txids();
        for (size_t i = 0; i < txids.size(); ++i)
            std::printf("%s\"%s\"", i ? ", " : "", HexStr(txids[i]).c_str());
        std::printf("]}\n");
        std::fflush(stdout);
    }
    g_node.Close();
}

void Reset()
{
    g_node.Close();
    g_dirs.CopyTemplateToNode();
    g_node.Open(g_dirs.node);
}

void Cleanup()
{
    g_node.Close();
    g_dirs.Remove();
}

// What a header or block message could change about one block.
struct BlockMark {
    bool known, data, failed;
    bool operator!=(const BlockMark& o) const { return known != o.known || data != o.data || failed != o.failed; }
};

BlockMark MarkOf(const uint256& hash)
{
    const CBlockIndex* idx = g_node.chain->Lookup(hash);
    return {idx != nullptr, idx && idx->HaveData(), idx && idx->Failed()};
}

std::vector<uint256> BlocksOf(const p2p::Message& msg)
{
    std::vector<uint256> out;
    if (const auto* h = std::get_if<p2p::MsgHeaders>(&msg)) {
        for (const auto& header : h->headers)
            out.push_back(header.GetHash());
    } else if (const auto* b = std::get_if<p2p::MsgBlock>(&msg)) {
        out.push_back(b->block.GetHash());
    }
    return out;
}

// The decoded message must encode back to the bytes it came from.
void CheckRoundTrip(const p2p::RawMessage& raw, const p2p::Message& msg)
{
    FUZZ_ASSERT(raw.command == p2p::CommandOf(msg), "decoded message has another command");
    const std::vector<uint8_t> payload = p2p::EncodePayload(msg);
    if (std::holds_alternative<p2p::MsgVersion>(msg)) {
        FUZZ_ASSERT(payload.size() <= raw.payload.size() &&
                        std::equal(payload.begin(), payload.end(), raw.payload.begin()),
                    "version does not encode to a prefix of its payload");
    } else {
        FUZZ_ASSERT(payload == raw.payload, "re-encoded payload differs from the input");
    }
    const std::vector<uint8_t> framed = p2p::EncodeMessage(RegtestParams().magic, msg);
    p2p::RawMessage again;
    std::optional<p2p::Message> decoded;
    try {
        again = p2p::ParseMessage(framed, RegtestParams().magic);
        decoded = p2p::DecodeMessage(again.command, again.payload);
    } catch (const SerializeError& e) {
        FUZZ_ASSERT(false, e.what());
    }
    FUZZ_ASSERT(again.command == raw.command && again.payload == payload, "re-framed message parses differently");
    FUZZ_ASSERT(decoded && p2p::EncodePayload(*decoded) == payload, "decode(encode(message)) changed it");
}

} // namespace

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed)
{
    size = LLVMFuzzerMutate(data, size, max_size);
    // One mutant in 8 keeps whatever checksums the mutation left.
    if (seed % 8 == 0) return size;
    const bool fix_length = (seed >> 3) % 2 == 0;
    size_t at = 0;
    while (at + p2p::HEADER_SIZE <= size) {
        uint8_t* header = data + at;
        uint32_t length =
            uint32_t(header[16]) | uint32_t(header[17]) << 8 | uint32_t(header[18]) << 16 | uint32_t(header[19]) << 24;
        const size_t avail = size - at - p2p::HEADER_SIZE;
        if (length > avail) {
            if (!fix_length) break;
            length = static_cast<uint32_t>(avail);
            for (int i = 0; i < 4; ++i)
                header[16 + i] = static_cast<uint8_t>(length >> (8 * i));
        }
        const std::vector<uint8_t> payload(header + p2p::HEADER_SIZE, header + p2p::HEADER_SIZE + length);
        const auto sum = p2p::Checksum(payload);
        std::memcpy(header + 20, sum.data(), sum.size());
        at += p2p::HEADER_SIZE + length;
    }
    return size;
}

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    LogOpen("/dev/null", false);
    g_dirs.Create("defi-fuzz-p2p-");
    std::atexit(Cleanup);
    try {
        BuildTemplate();
        Reset();
    } catch (const std::exception& e) {
        Die(std::string("cannot build the template node: ") + e.what());
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    p2p::MessageStream stream(RegtestParams().magic);
    try {
        stream.Feed(data, size);
    } catch (const p2p::ProtocolError&) {
        // The stream is dead; the messages before the violation still count.
    }
    std::vector<p2p::Message> messages;
    while (auto raw = stream.Next()) {
        std::optional<p2p::Message> msg;
        try {
            msg = p2p::DecodeMessage(raw->command, raw->payload);
        } catch (const p2p::ProtocolError& e) {
            FUZZ_ASSERT(e.violation == p2p::Violation::Malformed, "DecodeMessage threw a framing violation");
            continue;
        }
        if (!msg) continue; // a command this version does not know
        CheckRoundTrip(*raw, *msg);
        messages.push_back(std::move(*msg));
    }
    if (messages.empty()) return 0;

    const uint256 tip = g_node.chain->Tip()->hash;
    const uint256 best = g_node.chain->BestHeader()->hash;
    const size_t pooled = g_node.mempool->Size();
    bool changed = false;
    g_node.peerman->InitializeNode(PEER, true, 0);
    for (const p2p::Message& msg : messages) {
        const std::vector<uint256> blocks = BlocksOf(msg);
        std::vector<BlockMark> before;
        for (const uint256& h : blocks)
            before.push_back(MarkOf(h));
        g_node.peerman->ProcessMessage(PEER, msg);
        g_node.peerman->SendMessages(PEER);
        for (size_t i = 0; i < blocks.size() && !changed; ++i)
            changed = MarkOf(blocks[i]) != before[i];
    }
    g_node.peerman->FinalizeNode(PEER);
    if (changed || g_node.chain->Tip()->hash != tip || g_node.chain->BestHeader()->hash != best ||
        g_node.mempool->Size() != pooled) {
        Reset();
    }
    return 0;
}
