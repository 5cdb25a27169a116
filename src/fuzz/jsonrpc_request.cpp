// The whole JSON-RPC request path: HandleJSONRPC (parse, envelope, argument
// checks, dispatch) with every RPC registered, against a real node (chain,
// mempool, wallet; no metachain, no network) built once in a temp datadir. HandleJSONRPC
// must not throw, and any reply it produces must be valid JSON.
//
// The node starts every input from the same state: a fixed wallet key, a few
// blocks mined at fixed times, one mined and one pending tx. An input that
// changes that state (a block, a tx, a key, an invalidation) is followed by a
// reset to a copy of the template, so a crash reproduces from its input alone.
// DEFI_FUZZ_PRINT_STATE=1 prints the template's hashes, txids and addresses.
#include <fuzz/fuzz.h>

#include <bech32.h>
#include <chainparams.h>
#include <httprpc.h>
#include <node/context.h>
#include <node/miner.h>
#include <rpc/server.h>
#include <txmempool.h>
#include <util/json.h>
#include <util/logging.h>
#include <validation.h>
#include <wallet/wallet.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr int TEMPLATE_BLOCKS = 5;

std::atomic<bool> g_shutdown{false};
RPCTable g_table;
FuzzDirs g_dirs;

struct Node {
    std::unique_ptr<Mempool> mempool;
    std::unique_ptr<ChainState> chain;
    std::unique_ptr<CWallet> wallet;
    NodeContext ctx;

    void Open(const fs::path& dir)
    {
        const ChainParams& params = RegtestParams();
        mempool = std::make_unique<Mempool>(params);
        chain = std::make_unique<ChainState>(params, dir.string(), *mempool);
        wallet = std::make_unique<CWallet>((dir / "wallet.json").string());
        chain->LoadMempool();
        ctx = NodeContext{};
        ctx.params = &params;
        ctx.chain = chain.get();
        ctx.mempool = mempool.get();
        ctx.wallet = wallet.get();
        ctx.meta = nullptr;
        ctx.shutdown = &g_shutdown;
    }
    void Close()
    {
        chain.reset(); // before the mempool it refers to
        wallet.reset();
        mempool.reset();
    }
};

Node g_node;
// The template's state, to tell whether an input changed it.
uint256 g_tip{};
size_t g_mempool_size{0}, g_wallet_keys{0};

// The server's limits, but a smaller work budget: 10,000 blocks (the default
// budget) take about 4 s here, and one such input would stall the run.
JSONRPCLimits FuzzLimits()
{
    JSONRPCLimits limits;
    limits.max_work = 200;
    return limits;
}

[[noreturn]] void Die(const std::string& message)
{
    std::fprintf(stderr, "jsonrpc_request: %s\n", message.c_str());
    std::exit(1);
}

// One call through the request path itself; the template needs it to succeed.
json Call(const std::string& method, const json& params)
{
    const json request = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}};
    const auto [status, body] = HandleJSONRPC(g_node.ctx, g_table, request.dump());
    const json reply = ParseJSON(body);
    if (status != 200 || !reply.contains("result")) Die(method + " failed: " + body);
    return reply["result"];
}

// Fixed keys, so addresses, txs and block hashes are the same in every run.
std::string WalletKey(int i)
{
    uint256 secret{};
    secret.fill(static_cast<uint8_t>(0x11 * (i + 1)));
    return HexStr(secret);
}

void MineTo(const std::string& address, int64_t time)
{
    const CBlock block = CreateNewBlock(*g_node.chain, *g_node.mempool, address, time);
    BlockValidationState state;
    if (!g_node.chain->ProcessNewBlock(block, state)) Die("template block rejected: " + state.ToString());
}

void BuildTemplate()
{
    fs::create_directories(g_dirs.templ);
    std::ofstream(g_dirs.templ / "wallet.json")
        << json{{"keys", {{{"secret", WalletKey(0)}}, {{"secret", WalletKey(1)}}}}}.dump(1);
    g_node.Open(g_dirs.templ);
    const ChainParams& params = RegtestParams();
    std::vector<std::string> addresses;
    for (const KeyHash& h : g_node.wallet->KeyHashes())
        addresses.push_back(EncodeAddress(params.address_hrp, h));
    for (int i = 1; i <= TEMPLATE_BLOCKS; ++i)
        MineTo(addresses[0], params.genesis_time + 60 * i);
    const std::string other = EncodeAddress(params.address_hrp, KeyHash{});
    Call("sendtoaddress", json::array({other, "1.5"}));
    MineTo(addresses[1], params.genesis_time + 60 * (TEMPLATE_BLOCKS + 1));
    Call("sendtoaddress", json::array({addresses[1], "2.25"}));

    if (std::getenv("DEFI_FUZZ_PRINT_STATE")) {
        std::printf("{\"help\": %s, \"addresses\": %s, \"blocks\": [", json(Call("help", json::array())).dump().c_str(),
                    json(addresses).dump().c_str());
        for (uint32_t h = 0; h <= g_node.chain->Tip()->height(); ++h)
            std::printf("%s\"%s\"", h ? ", " : "", HexStr(g_node.chain->AtHeight(h)->hash).c_str());
        std::printf("], \"mempool\": %s, \"blocktxs\": ", WriteJSON(Call("getrawmempool", json::array())).c_str());
        const json block = Call("getblock", json::array({HexStr(g_node.chain->Tip()->hash), 1}));
        std::printf("%s}\n", WriteJSON(block["tx"]).c_str());
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

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    LogOpen("/dev/null", false);
    g_dirs.Create("defi-fuzz-");
    std::atexit(Cleanup);

    RegisterBlockchainRPCCommands(g_table);
    RegisterMiningRPCCommands(g_table);
    RegisterRawTransactionRPCCommands(g_table);
    RegisterWalletRPCCommands(g_table);
    RegisterNodeRPCCommands(g_table);
    RegisterMetachainRPCCommands(g_table);
    RegisterNetRPCCommands(g_table); // no connman: each answers that P2P is off

    try {
        BuildTemplate();
        Reset();
    } catch (const std::exception& e) {
        Die(std::string("cannot build the template node: ") + e.what());
    }
    g_tip = g_node.chain->Tip()->hash;
    g_mempool_size = g_node.mempool->Size();
    g_wallet_keys = g_node.wallet->KeyHashes().size();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string body(reinterpret_cast<const char*>(data), size);
    g_shutdown = false;
    const auto [status, reply] = HandleJSONRPC(g_node.ctx, g_table, body, FuzzLimits());
    FUZZ_ASSERT(status >= 100 && status <= 599, "HTTP status out of range");
    if (!reply.empty()) {
        json parsed;
        try {
            parsed = json::parse(reply);
        } catch (const json::exception& e) {
            std::fprintf(stderr, "reply: %s\n", reply.substr(0, 2000).c_str());
            FUZZ_ASSERT(false, e.what());
        }
        FUZZ_ASSERT(parsed.is_object() || parsed.is_array(), "reply is neither an object nor a batch");
    }
    if (g_node.chain->Tip()->hash != g_tip || g_node.mempool->Size() != g_mempool_size ||
        g_node.wallet->KeyHashes().size() != g_wallet_keys) {
        Reset();
    }
    return 0;
}
