// The node's lifecycle: its components started in dependency order (the
// metachain, the chain state, the mempool, the wallet, the network, the RPC
// server) and stopped in the reverse order. defid.cpp parses options,
// daemonizes and waits; everything the node runs is started and stopped here.
#ifndef DEFI_INIT_H
#define DEFI_INIT_H

#include <node/context.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

class ArgsManager;
class CConnman;
class PeerManager;
class ChainState;
class CWallet;
class HTTPRPCServer;
class Mempool;
class RPCTable;
class ValidationSignals;
struct ChainParams;
namespace metachain {
class Backend;
}

// Declares every option defid takes.
void SetupServerArgs(ArgsManager& args);

// Checks every option's value before anything starts (no datadir is created
// for a node that cannot run); false with `error` naming the option.
bool CheckServerArgs(const ArgsManager& args, std::string& error);

// A running node: owns its components; `context` is what RPC handlers see.
class Node {
public:
    Node();
    ~Node();

    // Starts every component in dependency order. Returns false with `error`
    // (having stopped what had started) if one cannot start.
    bool Start(const ArgsManager& args, const ChainParams& params, const std::filesystem::path& datadir,
               std::atomic<bool>& shutdown, std::string& error);
    // Stops what runs, in the reverse order; safe to call twice.
    void Stop();

    NodeContext context;
    metachain::Backend* Metachain() const { return m_meta.get(); }

private:
    std::unique_ptr<metachain::Backend> m_meta;
    std::unique_ptr<ValidationSignals> m_signals;
    std::unique_ptr<Mempool> m_mempool;
    std::unique_ptr<ChainState> m_chain;
    std::unique_ptr<CWallet> m_wallet;
    std::unique_ptr<CConnman> m_connman;
    std::unique_ptr<PeerManager> m_peerman;
    std::unique_ptr<RPCTable> m_table;
    std::unique_ptr<HTTPRPCServer> m_rpc;
    std::filesystem::path m_cookie;
};

#endif // DEFI_INIT_H
