#include <init.h>

#include <chainparams.h>
#include <crypto/hash.h>
#include <httprpc.h>
#include <metachain/backend.h>
#include <metachain/bridge.h>
#include <net.h>
#include <net_processing.h>
#include <rpc/server.h>
#include <txmempool.h>
#include <util/args.h>
#include <util/logging.h>
#include <validation.h>
#include <validationinterface.h>
#include <wallet/wallet.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <unistd.h>

#ifndef DEFI_VERSION
#define DEFI_VERSION "0.0.0"
#endif

void SetupServerArgs(ArgsManager& args)
{
    args.AddArg("-help", "Print this help message and exit");
    args.AddArg("-version", "Print version (including the metachain library's) and exit");
    args.AddArg("-datadir=<dir>", "Data directory (default: ~/.defi)");
    args.AddArg("-conf=<file>", "Config file, key=value lines (default: <datadir>/defi.conf)");
    args.AddArg("-regtest", "Use the regression-test chain (data under <datadir>/regtest)");
    args.AddArg("-testnet", "Use the test network (data under <datadir>/testnet)");
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
    args.AddArg("-meta=<args>", "Run the metachain in-process; <args> are handed to it (e.g. --datadir=<dir>), "
                                "with --chain=<this network> added");
    args.AddArg("-meta_rpc=<url>", "Use a metachaind at grpc://host:port or http://host:port");
    args.AddArg("-meta_rpc_secret=<file>", "Secret for the metachaind control rpcs");
    args.AddArg("-meta_rpc_timeout=<seconds>",
                "Longest a metachaind call may take before the node gives up and exits (default: 30)");
    args.AddArg("-listen", "Accept P2P connections (default: 1, or 0 with -connect)");
    args.AddArg("-port=<port>", "Listen for P2P connections on <port> (default: 8555, testnet: 18555, regtest: 19555)");
    args.AddArg("-bind=<addr>[:port]", "Listen on this address; repeatable (default: 0.0.0.0 and ::, at -port)");
    args.AddArg("-connect=<host:port>",
                "Connect only to these peers, reconnecting when dropped; repeatable. -noconnect: no outbound "
                "connections but -addnode's");
    args.AddArg("-addnode=<host:port>", "Keep a connection to this peer too, reconnecting when dropped; repeatable");
    args.AddArg("-maxconnections=<n>",
                "Most connections: 8 automatic outbound ones, the rest inbound; -connect/-addnode peers use up to 8 "
                "more (default: 125)");
    args.AddArg("-peertimeout=<seconds>",
                "Disconnect a peer that has not finished the handshake, sent nothing, or not answered a ping within "
                "this (default: 60)");
    args.AddArg("-bantime=<seconds>", "How long a misbehaving peer is banned (default: 86400)");
    args.AddArg("-pinginterval=<seconds>", "Seconds between pings to each peer (default: 60; for tests)");
}

namespace {

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

// The network's options, checked: everything but the datadir and the
// chain's defaults.
bool ReadNetOptions(const ArgsManager& args, uint16_t default_port, CConnman::Options& o, std::string& error)
{
    int64_t port = 0, maxconn = 0, timeout = 0, bantime = 0, ping = 0;
    if (!args.GetInt("-port", default_port, 1, 65535, port, error) ||
        !args.GetInt("-maxconnections", 125, 0, 1000, maxconn, error) ||
        !args.GetInt("-peertimeout", 60, 1, 86400, timeout, error) ||
        !args.GetInt("-bantime", 86400, 1, 10 * 365 * 86400LL, bantime, error) ||
        !args.GetInt("-pinginterval", 60, 1, 3600, ping, error))
        return false;
    o.port = static_cast<uint16_t>(port);
    o.max_connections = static_cast<int>(maxconn);
    o.peer_timeout = timeout;
    o.ban_time = bantime;
    o.ping_interval = ping;
    const auto peers = [&](const std::string& name, std::vector<std::string>& out) {
        for (const auto& v : args.GetArgs(name)) {
            if (v == "0") { // -connect=0: none
                out.clear();
                continue;
            }
            std::string host;
            uint16_t p = 0;
            if (!SplitHostPort(v, default_port, host, p)) {
                error = name + "=" + v + " is not host or host:port (port 1 to 65535)";
                return false;
            }
            out.push_back(v);
        }
        return true;
    };
    if (!peers("-connect", o.connect) || !peers("-addnode", o.addnode)) return false;
    o.auto_outbound = !args.IsSet("-connect");
    o.listen = args.GetBool("-listen", o.connect.empty());
    for (const auto& b : args.GetArgs("-bind")) {
        std::string host;
        uint16_t p = 0;
        if (!SplitHostPort(b, o.port, host, p) || !p2p::NetAddress::ParseIP(host)) {
            error = "-bind=" + b + " is not an IP address with an optional :port";
            return false;
        }
        o.bind.push_back(b);
    }
    int major = 0, minor = 0, patch = 0;
    std::sscanf(DEFI_VERSION, "%d.%d.%d", &major, &minor, &patch);
    o.user_agent = std::string("/defid:") + DEFI_VERSION + "/";
    o.client_version = 10000 * major + 100 * minor + patch;
    return true;
}

// The RPC server's numeric options, checked.
struct RPCOptions {
    int64_t port, threads, queue, batch, work;
};

bool ReadRPCOptions(const ArgsManager& args, uint16_t default_port, RPCOptions& out, std::string& error)
{
    return args.GetInt("-rpcport", default_port, 1, 65535, out.port, error) &&
           args.GetInt("-rpcthreads", 4, 1, 64, out.threads, error) &&
           args.GetInt("-rpcworkqueue", 64, 1, 100000, out.queue, error) &&
           args.GetInt("-rpcbatchlimit", 1000, 1, 1000000, out.batch, error) &&
           args.GetInt("-rpcbatchwork", 10000, 1, 1000000000, out.work, error);
}

// The -meta args handed to the in-process metachain, with --chain=<network>
// for this node's network; a --chain of another network is an error.
bool MetaArgs(const ArgsManager& args, const ChainParams& params, std::string& out, std::string& error)
{
    std::string given = args.Get("-meta");
    if (given == "1") given.clear();
    const std::string chain = "--chain=" + params.network;
    std::istringstream words(given);
    bool named = false;
    for (std::string word; words >> word;) {
        if (word.rfind("--chain=", 0) != 0) continue;
        if (word != chain) {
            error = "-meta: " + word + " is not this node's network; defid passes " + chain;
            return false;
        }
        named = true;
    }
    out = named ? given : (given.empty() ? chain : given + " " + chain);
    return true;
}

} // namespace

bool CheckServerArgs(const ArgsManager& args, std::string& error)
{
    if (args.IsSet("-meta") && args.IsSet("-meta_rpc")) {
        error = "-meta and -meta_rpc exclude each other; give one";
        return false;
    }
    std::optional<std::chrono::milliseconds> timeout;
    RPCOptions rpc{};
    CConnman::Options net;
    return ParseMetaRpcTimeout(args, timeout, error) && ReadRPCOptions(args, 1, rpc, error) &&
           ReadNetOptions(args, 1, net, error);
}

Node::Node() = default;
Node::~Node() { Stop(); }

bool Node::Start(const ArgsManager& args, const ChainParams& params, const std::filesystem::path& datadir,
                 std::atomic<bool>& shutdown, std::string& error)
{
    const auto fail = [&](const std::string& message) {
        error = message;
        Stop();
        return false;
    };
    std::optional<std::chrono::milliseconds> meta_rpc_timeout;
    if (!ParseMetaRpcTimeout(args, meta_rpc_timeout, error)) return fail(error);

    // 1. The metachain: the chain state connects every block through it.
    try {
        if (args.IsSet("-meta")) {
            std::string meta_args;
            if (!MetaArgs(args, params, meta_args, error)) return fail(error);
            m_meta = metachain::MakeFfiBackend((datadir / "metachain").string(), meta_args);
        } else if (args.IsSet("-meta_rpc")) {
            m_meta = metachain::MakeRpcBackend(args.Get("-meta_rpc"), args.Get("-meta_rpc_secret"), meta_rpc_timeout);
        }
        if (m_meta) {
            const auto tip = m_meta->GetTip();
            LogPrint("metachain (" + m_meta->Mode() + ") version " + m_meta->Version() + ", chain id " +
                     std::to_string(tip.chain_id) + ", tip height " + std::to_string(tip.number) + " hash " +
                     std::string(tip.hash));
            // A metachain of another network would take deposits this chain never made.
            const uint64_t want = metachain::ChainId(params.network);
            if (tip.chain_id != want) {
                return fail("the metachain's chain id is " + std::to_string(tip.chain_id) +
                            ", but this node's network (" + params.network + ") uses " + std::to_string(want) +
                            ": point -meta_rpc at a metachaind started with --chain=" + params.network);
            }
            if (const std::string urls(mc::ain_server_urls()); m_meta->Mode() == "ffi" && !urls.empty()) {
                LogPrint("embedded metachain serving " + urls);
            }
        } else {
            LogPrint("no metachain configured (-meta or -meta_rpc); running the native chain alone");
        }
    } catch (const std::exception& e) {
        return fail(std::string("metachain unavailable: ") + e.what());
    }

    // 2. The chain state and its mempool, then the metachain brought to its tip.
    m_signals = std::make_unique<ValidationSignals>();
    m_mempool = std::make_unique<Mempool>(params, m_signals.get());
    try {
        m_chain = std::make_unique<ChainState>(params, datadir.string(), *m_mempool, m_signals.get());
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    LogPrint("chain tip height " + std::to_string(m_chain->Tip()->height()) + " hash " + HexStr(m_chain->Tip()->hash));
    if (m_meta) {
        m_chain->SetMetachain(m_meta.get());
        m_mempool->SetMetachain(true);
        try {
            // After any crash: the metachain catches up or steps back to our tip.
            m_chain->SyncMetachain();
        } catch (const std::exception& e) {
            return fail(std::string("cannot bring the metachain to the chain tip: ") + e.what());
        }
    }
    try {
        m_chain->LoadMempool();
    } catch (const std::exception& e) {
        return fail(std::string("cannot reload the mempool: ") + e.what());
    }
    // Blocks stored but not connected before a crash (the metachain is at the
    // tip now, so they connect through it like any new block).
    m_chain->ActivateStoredBlocks();

    // 3. The wallet.
    try {
        m_wallet = std::make_unique<CWallet>((datadir / "wallet.json").string());
    } catch (const std::exception& e) {
        return fail(e.what());
    }

    // 4. The network: connections (net), and on them the protocol (net_processing).
    try {
        CConnman::Options net;
        std::string bad;
        if (!ReadNetOptions(args, params.default_p2p_port, net, bad)) throw std::runtime_error(bad);
        net.datadir = datadir;
        m_connman = std::make_unique<CConnman>(params, std::move(net));
    } catch (const std::exception& e) {
        return fail(std::string("cannot set up the network: ") + e.what());
    }
    m_connman->SetBestHeight([chain = m_chain.get()] {
        std::lock_guard<std::recursive_mutex> lock(chain->cs);
        return chain->Tip()->height();
    });
    // The protocol on the connections: it hears of new tips and txs, and the
    // connman hands it every message past the handshake.
    m_peerman = std::make_unique<PeerManager>(*m_chain, *m_mempool, *m_connman);
    m_signals->Register(m_peerman.get());
    m_connman->SetEvents(m_peerman.get());
    if (std::string net_error; !m_connman->Start(net_error)) return fail("cannot start the network: " + net_error);

    // 5. The RPC server, last: from here callers reach everything above.
    context.params = &params;
    context.chain = m_chain.get();
    context.mempool = m_mempool.get();
    context.wallet = m_wallet.get();
    context.meta = m_meta.get();
    context.connman = m_connman.get();
    context.shutdown = &shutdown;
    m_table = std::make_unique<RPCTable>();
    RegisterBlockchainRPCCommands(*m_table);
    RegisterMiningRPCCommands(*m_table);
    RegisterRawTransactionRPCCommands(*m_table);
    RegisterWalletRPCCommands(*m_table);
    RegisterNodeRPCCommands(*m_table);
    RegisterMetachainRPCCommands(*m_table);
    RegisterNetRPCCommands(*m_table);
    HTTPRPCConfig rpc;
    rpc.bind = args.Get("-rpcbind", "127.0.0.1");
    try {
        RPCOptions o{};
        std::string bad;
        if (!ReadRPCOptions(args, params.default_rpc_port, o, bad)) throw std::runtime_error(bad);
        rpc.port = static_cast<uint16_t>(o.port);
        rpc.threads = static_cast<size_t>(o.threads);
        rpc.work_queue = static_cast<size_t>(o.queue);
        rpc.limits.max_batch = static_cast<size_t>(o.batch);
        rpc.limits.max_work = static_cast<uint64_t>(o.work);
        m_cookie = datadir / ".cookie";
        if (args.IsSet("-rpcpassword")) {
            rpc.user = args.Get("-rpcuser");
            rpc.password = args.Get("-rpcpassword");
            m_cookie.clear();
        } else {
            rpc.user = "__cookie__";
            rpc.password = WriteCookie(m_cookie);
        }
        m_rpc = std::make_unique<HTTPRPCServer>(context, *m_table, rpc);
        m_rpc->Start();
    } catch (const std::exception& e) {
        return fail(std::string("cannot start the RPC server: ") + e.what());
    }
    return true;
}

void Node::Stop()
{
    // The reverse of Start: first no new callers, then what they used.
    if (m_rpc) m_rpc->Stop();
    m_rpc.reset();
    if (!m_cookie.empty()) {
        std::error_code ec;
        std::filesystem::remove(m_cookie, ec);
        m_cookie.clear();
    }
    m_table.reset();
    // The network, right after the RPC server: no peer reaches what follows.
    if (m_connman) m_connman->Stop();
    // The PeerManager goes after the connman stopped calling it, and before
    // the connman it sends through.
    if (m_peerman && m_signals) m_signals->Unregister(m_peerman.get());
    m_peerman.reset();
    m_connman.reset();
    m_wallet.reset();
    if (m_chain) {
        // Waits for any call still holding the chain.
        std::lock_guard<std::recursive_mutex> lock(m_chain->cs);
    }
    m_chain.reset();
    m_mempool.reset();
    m_signals.reset();
    m_meta.reset();
    context = NodeContext{};
}
