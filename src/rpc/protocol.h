// JSON-RPC error codes, as bitcoind uses them.
#ifndef DEFI_RPC_PROTOCOL_H
#define DEFI_RPC_PROTOCOL_H

#include <stdexcept>
#include <string>

enum RPCErrorCode {
    RPC_MISC_ERROR = -1,
    RPC_TYPE_ERROR = -3,
    RPC_INVALID_ADDRESS_OR_KEY = -5,
    RPC_WALLET_INSUFFICIENT_FUNDS = -6,
    RPC_INVALID_PARAMETER = -8,
    RPC_DESERIALIZATION_ERROR = -22,
    RPC_VERIFY_ERROR = -25,
    RPC_VERIFY_REJECTED = -26,
    RPC_VERIFY_ALREADY_IN_CHAIN = -27,
    // P2P client errors
    RPC_CLIENT_NODE_ALREADY_ADDED = -23,
    RPC_CLIENT_NODE_NOT_ADDED = -24,
    RPC_CLIENT_NODE_NOT_CONNECTED = -29,
    RPC_CLIENT_INVALID_IP_OR_SUBNET = -30,
    RPC_CLIENT_P2P_DISABLED = -31,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL_ERROR = -32603,
    RPC_PARSE_ERROR = -32700,
};

struct RPCError : std::runtime_error {
    RPCError(int c, const std::string& m) : std::runtime_error(m), code(c) {}
    int code;
};

#endif // DEFI_RPC_PROTOCOL_H
