// defid: the host node. Parses options and defi.conf, opens the chain, the
// wallet and the metachain (in-process with -meta, over the network with
// -meta_rpc), serves JSON-RPC, and runs until `stop`, SIGINT or SIGTERM.
// It exits non-zero with a clear message if anything it needs fails.
#include <chainparams.h>
#include <crypto/hash.h>
#include <httprpc.h>
#include <metachain/backend.h>
#include <node/context.h>
#include <rpc/server.h>
#include <txmempool.h>
#include <util/args.h>
#include <util/logging.h>
#include <validation.h>
#include <wallet/wallet.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>

#ifndef DEFI_VERSION
#define DEFI_VERSION "0.0.0"
#endif

namespace {

std::atomic<bool> g_shutdown{false};

void HandleSignal(int) { g_shutdown = true; }

// How often a networked metachain is checked for liveness.
constexpr auto HEALTH_INTERVAL = std::chrono::seconds(2);

void SetupArgs(ArgsManager& args)
{
    args.AddArg("-help", "Print this help message and exit");
    args.AddArg("-version", "Print version (including the metachain library's) and exit");
    args.AddArg("-datadir=<dir>", "Data directory (default: ~/.defi)");
    args.AddArg("-conf=<file>", "Config file, key=value lines (default: <datadir>/defi.conf)");
    args.AddArg("-regtest", "Use the regression-test chain (data under <datadir>/regtest)");
    args.AddArg("-printtoconsole", "Send log lines to the console as well as debug.log (default: 1, 0 with -daemon)");
    args.AddArg("-daemon", "Run in the background");
    args.AddArg("-rpcbind=<addr>", "Address the JSON-RPC server binds (default: 127.0.0.1)");
    args.AddArg("-rpcport=<port>", "JSON-RPC port (default: 8554, regtest: 19554)");
    args.AddArg("-rpcuser=<user>", "JSON-RPC user (default: cookie authentication)");
    args.AddArg("-rpcpassword=<pw>", "JSON-RPC password (default: cookie authentication)");
    args.AddArg("-rpcthreads=<n>", "Threads serving RPC calls (default: 4)");
    args.AddArg("-rpcworkqueue=<n>",
                "RPC requests that may wait for a thread; more are refused with 503 (default: 64)");
    args.AddArg("-rpcbatchlimit=<n>", "Most requests in one JSON-RPC batch (default: 1000)");
    args.AddArg("-rpcbatchwork=<n>",
                "Most work units one JSON-RPC request or batch may use: a call is 1, generatetoaddress 1 per block "
                "(default: 10000)");
    args.AddArg("-meta=<args>", "Run the metachain in-process; <args> are handed to it (e.g. --datadir=<dir>)");
    args.AddArg("-meta_rpc=<url>", "Use a metachaind at grpc://host:port or http://host:port");
    args.AddArg("-meta_rpc_secret=<file>", "Secret for the metachaind control rpcs");
    args.AddArg("-meta_rpc_timeout=<seconds>",
                "Longest a metachaind call may take before the node gives up and exits (default: 30)");
}

// -meta_rpc_timeout in whole seconds, 1 to 86400; only with -meta_rpc.
bool ParseMetaRpcTimeout(const ArgsManager& args, std::optional<std::chrono::milliseconds>& timeout, std::string& error)
{
    if (!args.IsSet("-meta_rpc_timeout")) return true;
    const std::string text = args.Get("-meta_rpc_timeout");
    if (!args.IsSet("-meta_rpc")) {
        error = "-meta_rpc_timeout needs -meta_rpc";
        return false;
    }
    long seconds = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size() || seconds < 1 || seconds > 86400) {
        error = "-meta_rpc_timeout=" + text + " is not a whole number of seconds from 1 to 86400";
        return false;
    }
    timeout = std::chrono::seconds(seconds);
    return true;
}

int Fail(const std::string& message)
{
    LogPrint("Error: " + message);
    std::fprintf(stderr, "Error: %s\n", message.c_str());
    return EXIT_FAILURE;
}

std::string DefaultDataDir()
{
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : ".") + "/.defi";
}

std::string RandomHex(size_t bytes)
{
    std::ifstream urandom("/dev/urandom", std::ios::binary);
    std::vector<uint8_t> buf(bytes);
    if (!urandom.read(reinterpret_cast<char*>(buf.data()), buf.size()))
        throw std::runtime_error("/dev/urandom unavailable");
    return HexStr(buf);
}

// Writes `<dir>/.cookie` (mode 0600) and returns the password in it.
std::string WriteCookie(const std::filesystem::path& path)
{
    const std::string password = RandomHex(32);
    const std::string text = "__cookie__:" + password;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
        if (fd >= 0) ::close(fd);
        throw std::runtime_error("cannot write " + path.string());
    }
    ::close(fd);
    return password;
}

} // namespace

int main(int argc, char* argv[])
{
    // Before any block payload is allocated; a refusal only costs speed.
    mc::ain_keep_freed_buffers();
    ArgsManager args;
    SetupArgs(args);
    std::string error;
    if (!args.Parse(argc, argv, error)) {
        std::fprintf(stderr, "Error: %s\n", error.c_str());
        return EXIT_FAILURE;
    }
    if (args.IsSet("-help")) {
        std::printf("defid %s\n\nUsage: defid [options]\n\n%s", DEFI_VERSION, args.HelpText().c_str());
        return EXIT_SUCCESS;
    }
    if (args.IsSet("-version")) {
        std::printf("defid version %s\nmetachain library version %s\n", DEFI_VERSION,
                    std::string(mc::ain_version()).c_str());
        return EXIT_SUCCESS;
    }
    std::filesystem::path base = args.Get("-datadir", DefaultDataDir());
    const std::string conf = args.Get("-conf", (base / "defi.conf").string());
    if (!args.ReadConfigFile(conf, error)) {
        std::fprintf(stderr, "Error: %s\n", error.c_str());
        return EXIT_FAILURE;
    }
    if (args.IsSet("-meta") && args.IsSet("-meta_rpc")) {
        std::fprintf(stderr, "Error: -meta and -meta_rpc exclude each other; give one\n");
        return EXIT_FAILURE;
    }
    std::optional<std::chrono::milliseconds> meta_rpc_timeout;
    if (!ParseMetaRpcTimeout(args, meta_rpc_timeout, error)) {
        std::fprintf(stderr, "Error: %s\n", error.c_str());
        return EXIT_FAILURE;
    }
    const ChainParams& params = args.GetBool("-regtest", false) ? RegtestParams() : MainParams();
    std::filesystem::path datadir = params.network == "main" ? base : base / params.network;
    std::error_code ec;
    std::filesystem::create_directories(datadir, ec);
    if (ec) {
        std::fprintf(stderr, "Error: cannot create data directory %s: %s\n", datadir.c_str(), ec.message().c_str());
        return EXIT_FAILURE;
    }
    const bool daemon = args.GetBool("-daemon", false);
    if (daemon) {
        const pid_t pid = fork();
        if (pid < 0) return Fail("cannot fork for -daemon");
        if (pid > 0) return EXIT_SUCCESS;
        setsid();
        const int null = ::open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    if (!LogOpen((datadir / "debug.log").string(), args.GetBool("-printtoconsole", !daemon))) {
        std::fprintf(stderr, "Error: cannot open %s\n", (datadir / "debug.log").c_str());
        return EXIT_FAILURE;
    }
    // From here a stop signal is only noted: startup finishes, then the node
    // shuts down cleanly.
    std::signal(SIGINT, HandleSignal);
    std::signal(SIGTERM, HandleSignal);
    std::signal(SIGPIPE, SIG_IGN);
    LogPrint(std::string("defid version ") + DEFI_VERSION + " starting, network " + params.network + ", datadir " +
             datadir.string());

    std::unique_ptr<metachain::Backend> meta;
    try {
        if (args.IsSet("-meta")) {
            std::string meta_args = args.Get("-meta");
            if (meta_args == "1") meta_args.clear();
            meta = metachain::MakeFfiBackend((datadir / "metachain").string(), meta_args);
        } else if (args.IsSet("-meta_rpc")) {
            meta = metachain::MakeRpcBackend(args.Get("-meta_rpc"), args.Get("-meta_rpc_secret"), meta_rpc_timeout);
        }
        if (meta) {
            const auto tip = meta->GetTip();
            LogPrint("metachain (" + meta->Mode() + ") version " + meta->Version() + ", tip height " +
                     std::to_string(tip.number) + " hash " + std::string(tip.hash));
            if (const std::string urls(mc::ain_server_urls()); meta->Mode() == "ffi" && !urls.empty()) {
                LogPrint("embedded metachain serving " + urls);
            }
        } else {
            LogPrint("no metachain configured (-meta or -meta_rpc); running the native chain alone");
        }
    } catch (const std::exception& e) {
        return Fail(std::string("metachain unavailable: ") + e.what());
    }

    Mempool mempool(params);
    std::unique_ptr<ChainState> chain;
    std::unique_ptr<CWallet> wallet;
    try {
        chain = std::make_unique<ChainState>(params, datadir.string(), mempool);
        wallet = std::make_unique<CWallet>((datadir / "wallet.json").string());
    } catch (const std::exception& e) {
        return Fail(e.what());
    }
    LogPrint("chain tip height " + std::to_string(chain->Tip()->height()) + " hash " + HexStr(chain->Tip()->hash));
    if (meta) {
        chain->SetMetachain(meta.get());
        mempool.SetMetachain(true);
        try {
            // After any crash: the metachain catches up or steps back to our tip.
            chain->SyncMetachain();
        } catch (const std::exception& e) {
            return Fail(std::string("cannot bring the metachain to the chain tip: ") + e.what());
        }
    }

    try {
        chain->LoadMempool();
    } catch (const std::exception& e) {
        return Fail(std::string("cannot reload the mempool: ") + e.what());
    }

    NodeContext node;
    node.params = &params;
    node.chain = chain.get();
    node.mempool = &mempool;
    node.wallet = wallet.get();
    node.meta = meta.get();
    node.shutdown = &g_shutdown;
    RPCTable table;
    RegisterBlockchainRPCCommands(table);
    RegisterMiningRPCCommands(table);
    RegisterRawTransactionRPCCommands(table);
    RegisterWalletRPCCommands(table);
    RegisterNodeRPCCommands(table);
    RegisterMetachainRPCCommands(table);

    HTTPRPCConfig rpc;
    rpc.bind = args.Get("-rpcbind", "127.0.0.1");
    const std::filesystem::path cookie = datadir / ".cookie";
    std::unique_ptr<HTTPRPCServer> server;
    try {
        int64_t port = 0, batch = 0, work = 0, threads = 0, queue = 0;
        std::string bad;
        if (!args.GetInt("-rpcport", params.default_rpc_port, 1, 65535, port, bad) ||
            !args.GetInt("-rpcthreads", 4, 1, 64, threads, bad) ||
            !args.GetInt("-rpcworkqueue", 64, 1, 100000, queue, bad) ||
            !args.GetInt("-rpcbatchlimit", 1000, 1, 1000000, batch, bad) ||
            !args.GetInt("-rpcbatchwork", 10000, 1, 1000000000, work, bad)) {
            throw std::runtime_error(bad);
        }
        rpc.port = static_cast<uint16_t>(port);
        rpc.threads = static_cast<size_t>(threads);
        rpc.work_queue = static_cast<size_t>(queue);
        rpc.limits.max_batch = static_cast<size_t>(batch);
        rpc.limits.max_work = static_cast<uint64_t>(work);
        if (args.IsSet("-rpcpassword")) {
            rpc.user = args.Get("-rpcuser");
            rpc.password = args.Get("-rpcpassword");
        } else {
            rpc.user = "__cookie__";
            rpc.password = WriteCookie(cookie);
        }
        server = std::make_unique<HTTPRPCServer>(node, table, rpc);
        server->Start();
    } catch (const std::exception& e) {
        std::filesystem::remove(cookie, ec);
        return Fail(std::string("cannot start the RPC server: ") + e.what());
    }

    LogPrint("defid started; stop with the stop RPC, SIGINT or SIGTERM");
    int code = EXIT_SUCCESS;
    auto next_check = std::chrono::steady_clock::now() + HEALTH_INTERVAL;
    while (!g_shutdown) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (meta && meta->Mode() != "ffi" && std::chrono::steady_clock::now() >= next_check) {
            try {
                meta->GetTip();
            } catch (const std::exception& e) {
                code = Fail(std::string("metachain unreachable, shutting down: ") + e.what());
                break;
            }
            next_check = std::chrono::steady_clock::now() + HEALTH_INTERVAL;
        }
    }
    LogPrint("shutdown requested");
    server->Stop();
    std::filesystem::remove(cookie, ec);
    {
        // Waits for any call still holding the chain.
        std::lock_guard<std::recursive_mutex> lock(chain->cs);
    }
    chain.reset();
    meta.reset();
    LogPrint("shutdown complete");
    return code;
}
