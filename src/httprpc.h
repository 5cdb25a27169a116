// The JSON-RPC server over HTTP (libevent), bitcoind-style: POST /, HTTP
// Basic auth against the cookie or -rpcuser/-rpcpassword, JSON-RPC 1.0 and
// 2.0 requests and batches, bodies over the limit refused with 413.
#ifndef DEFI_HTTPRPC_H
#define DEFI_HTTPRPC_H

#include <memory>
#include <string>

struct NodeContext;
class RPCTable;

struct HTTPRPCConfig {
    std::string bind{"127.0.0.1"};
    uint16_t port{0};
    std::string user, password; // accepted credentials (the cookie's or -rpcuser's)
    size_t max_body{4 << 20};
};

class HTTPRPCServer {
public:
    HTTPRPCServer(NodeContext& node, const RPCTable& table, HTTPRPCConfig config);
    ~HTTPRPCServer();
    // Binds and starts serving on its own thread; throws with the cause.
    void Start();
    void Stop();

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

// Handles one JSON-RPC body (single or batch); returns (HTTP status, body).
std::pair<int, std::string> HandleJSONRPC(NodeContext& node, const RPCTable& table, const std::string& body);

#endif // DEFI_HTTPRPC_H
