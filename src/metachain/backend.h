// The metachain as defid sees it: one interface, two implementations.
// FFI calls the engine linked into this process (libmc.h); RPC calls a
// metachaind over gRPC or JSON-RPC (libain_rpc.h). Errors are thrown as
// std::exception (rust::Error derives from it) with a message naming the cause.
#ifndef DEFI_METACHAIN_BACKEND_H
#define DEFI_METACHAIN_BACKEND_H

#include <libmc.h>
#include <rust/cxx.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace metachain {

// An error from the metachain. A rejection means the request itself was
// refused (a bad payload, a failed withdrawal): the caller treats the block
// or tx as invalid. Anything else means the metachain failed or is gone.
class Error : public std::runtime_error {
public:
    Error(const std::string& message, bool rejection, std::string code = "")
        : std::runtime_error(message), m_rejection(rejection), m_code(std::move(code))
    {
    }
    bool IsRejection() const { return m_rejection; }
    // The engine's error code ("invalid-argument", "already-exists",
    // "not-found", ...), or "" when it gave none.
    const std::string& Code() const { return m_code; }

private:
    bool m_rejection;
    std::string m_code;
};

// Every method throws metachain::Error.
class Backend {
public:
    virtual ~Backend() = default;
    // "ffi", "grpc" or "jsonrpc".
    virtual std::string Mode() const = 0;
    virtual std::string Version() = 0;
    virtual mc::MetaMintBlockResult MintBlock(const mc::MetaMintBlockInput& in) = 0;
    virtual mc::MetaConnectBlockResult ConnectBlock(const mc::MetaConnectBlockInput& in) = 0;
    virtual mc::MetaDisconnectBlockResult DisconnectBlock(const mc::MetaDisconnectBlockInput& in) = 0;
    virtual mc::MetaGetTipResult GetTip() = 0;
    virtual mc::MetaGetBalanceResult GetBalance(const mc::MetaGetBalanceInput& in) = 0;
    virtual mc::MetaGetBlockResult GetBlock(const mc::MetaGetBlockInput& in) = 0;
    virtual mc::MetaSendTransactionResult SendTransaction(const mc::MetaSendTransactionInput& in) = 0;
    virtual mc::MetaGetReceiptResult GetReceipt(const mc::MetaGetReceiptInput& in) = 0;
    // The relay feed: txs admitted to the txpool since a sequence number.
    virtual mc::MetaGetPendingTxsResult GetPendingTxs(const mc::MetaGetPendingTxsInput& in) = 0;
    // Tells the metachain the native node's view of the network.
    virtual void SetNetworkStatus(const mc::MetaNetworkStatus& in) = 0;
    virtual mc::MetaGetStorageAtResult GetStorageAt(const mc::MetaGetStorageAtInput& in) = 0;
    virtual mc::MetaGetCodeResult GetCode(const mc::MetaGetCodeInput& in) = 0;
};

// Opens the in-process metachain in `datadir`; `args` are the -meta args.
// Only one FFI backend can exist per process.
std::unique_ptr<Backend> MakeFfiBackend(const std::string& datadir, const std::string& args);

// Connects to a metachain server: grpc://host:port or http://host:port. Each
// call gives up after `timeout` (the client's 30 s when not given).
std::unique_ptr<Backend> MakeRpcBackend(const std::string& url, const std::string& secret_path,
                                        std::optional<std::chrono::milliseconds> timeout = std::nullopt);

// Bytes for a message field (from a vector, an array or a string), copied in
// one call.
template <typename Bytes> rust::Vec<uint8_t> ToRustBytes(const Bytes& bytes)
{
    return mc::ain_bytes(rust::Slice<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

} // namespace metachain

#endif // DEFI_METACHAIN_BACKEND_H
