// The JSON-RPC server over HTTP (libevent), bitcoind-style: POST /, HTTP
// Basic auth against the cookie or -rpcuser/-rpcpassword, JSON-RPC 1.0 and
// 2.0 requests and batches, bodies over the limit refused with 413. Every
// body gets a well-formed answer: -32700 for bad JSON (including numbers
// that overflow a double and nesting past MAX_JSON_DEPTH), -32600 for a bad
// envelope, nothing for a 2.0 notification, and -32603 for anything a
// handler throws that is not an RPCError.
#ifndef DEFI_HTTPRPC_H
#define DEFI_HTTPRPC_H

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

struct NodeContext;
class RPCTable;

// What one HTTP request may ask of the node.
struct JSONRPCLimits {
    size_t max_batch{1000}; // requests in one batch (-rpcbatchlimit)
    // Work units a request or batch may use (-rpcbatchwork); a call costs 1,
    // generatetoaddress one per block.
    uint64_t max_work{10000};
};

struct HTTPRPCConfig {
    std::string bind{"127.0.0.1"};
    uint16_t port{0};
    std::string user, password; // accepted credentials (the cookie's or -rpcuser's)
    size_t max_body{4 << 20};
    size_t threads{4};     // workers running calls (-rpcthreads)
    size_t work_queue{64}; // requests waiting for a worker; more get 503 (-rpcworkqueue)
    JSONRPCLimits limits;
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
// The body is empty (status 204) when every request was a notification.
std::pair<int, std::string> HandleJSONRPC(NodeContext& node, const RPCTable& table, const std::string& body,
                                          const JSONRPCLimits& limits = {});
// Strict base64 (RFC 4648, padded); nullopt for anything else.
std::optional<std::string> DecodeBase64(const std::string& in);

#endif // DEFI_HTTPRPC_H
