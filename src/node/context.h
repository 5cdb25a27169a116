// Everything an RPC handler may reach.
#ifndef DEFI_NODE_CONTEXT_H
#define DEFI_NODE_CONTEXT_H

#include <atomic>
#include <chrono>
#include <memory>

struct ChainParams;
class CConnman;
class ChainState;
class Mempool;
class CWallet;
namespace metachain {
class Backend;
}

struct NodeContext {
    const ChainParams* params{nullptr};
    ChainState* chain{nullptr};
    Mempool* mempool{nullptr};
    CWallet* wallet{nullptr};
    metachain::Backend* meta{nullptr}; // null without -meta / -meta_rpc
    CConnman* connman{nullptr};        // null when the network is off
    std::atomic<bool>* shutdown{nullptr};
    std::chrono::steady_clock::time_point started{std::chrono::steady_clock::now()};
};

#endif // DEFI_NODE_CONTEXT_H
