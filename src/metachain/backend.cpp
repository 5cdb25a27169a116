#include <metachain/backend.h>

#include <libain_rpc.h>

#include <stdexcept>

namespace metachain {
namespace {

// Turns the bridge's "[code] message" into a metachain::Error.
template <typename F> auto Guarded(F&& f) -> decltype(f())
{
    try {
        return f();
    } catch (const rust::Error& e) {
        std::string what = e.what();
        std::string code;
        if (what.rfind("[", 0) == 0 && what.find("] ") != std::string::npos) {
            code = what.substr(1, what.find("] ") - 1);
            what = what.substr(what.find("] ") + 2);
        }
        const bool rejection = code == "invalid-argument" || code == "failed-precondition" || code == "not-found" ||
                               code == "already-exists" || code == "resource-exhausted";
        throw Error(what, rejection, code);
    }
}

class FfiBackend final : public Backend {
public:
    FfiBackend(const std::string& datadir, const std::string& args)
    {
        Guarded([&] {
            mc::ain_init(datadir, args);
            return 0;
        });
    }
    ~FfiBackend() override { mc::ain_shutdown(); }

    std::string Mode() const override { return "ffi"; }
    std::string Version() override { return std::string(mc::ain_version()); }
    mc::MetaMintBlockResult MintBlock(const mc::MetaMintBlockInput& in) override
    {
        return Guarded([&] { return mc::mint_block(in); });
    }
    mc::MetaConnectBlockResult ConnectBlock(const mc::MetaConnectBlockInput& in) override
    {
        return Guarded([&] { return mc::connect_block(in); });
    }
    mc::MetaDisconnectBlockResult DisconnectBlock(const mc::MetaDisconnectBlockInput& in) override
    {
        return Guarded([&] { return mc::disconnect_block(in); });
    }
    mc::MetaGetTipResult GetTip() override
    {
        return Guarded([&] { return mc::get_tip(); });
    }
    mc::MetaGetBalanceResult GetBalance(const mc::MetaGetBalanceInput& in) override
    {
        return Guarded([&] { return mc::get_balance(in); });
    }
    mc::MetaGetBlockResult GetBlock(const mc::MetaGetBlockInput& in) override
    {
        return Guarded([&] { return mc::get_block(in); });
    }
    mc::MetaSendTransactionResult SendTransaction(const mc::MetaSendTransactionInput& in) override
    {
        return Guarded([&] { return mc::send_transaction(in); });
    }
    mc::MetaGetReceiptResult GetReceipt(const mc::MetaGetReceiptInput& in) override
    {
        return Guarded([&] { return mc::get_receipt(in); });
    }
    mc::MetaGetPendingTxsResult GetPendingTxs(const mc::MetaGetPendingTxsInput& in) override
    {
        return Guarded([&] { return mc::get_pending_txs(in); });
    }
    void SetNetworkStatus(const mc::MetaNetworkStatus& in) override
    {
        Guarded([&] { return mc::set_network_status(in); });
    }
    mc::MetaGetStorageAtResult GetStorageAt(const mc::MetaGetStorageAtInput& in) override
    {
        return Guarded([&] { return mc::get_storage_at(in); });
    }
    mc::MetaGetCodeResult GetCode(const mc::MetaGetCodeInput& in) override
    {
        return Guarded([&] { return mc::get_code(in); });
    }
};

class RpcBackend final : public Backend {
public:
    RpcBackend(const std::string& url, const std::string& secret_path, std::optional<std::chrono::milliseconds> timeout)
        : m_client(Guarded([&] {
              return timeout ? ain_rpc::NewClientWithTimeout(url, secret_path, timeout->count())
                             : ain_rpc::NewClient(url, secret_path);
          })),
          m_mode(url.rfind("grpc://", 0) == 0 ? "grpc" : "jsonrpc")
    {
    }

    std::string Mode() const override { return m_mode; }
    std::string Version() override
    {
        return Guarded([&] { return std::string(ain_rpc::CallMetaGetVersion(*m_client).version); });
    }
    mc::MetaMintBlockResult MintBlock(const mc::MetaMintBlockInput& in) override
    {
        return Guarded([&] { return ain_rpc::CallMetaMintBlock(*m_client, in); });
    }
    mc::MetaConnectBlockResult ConnectBlock(const mc::MetaConnectBlockInput& in) override
    {
        return Guarded([&] { return ain_rpc::CallMetaConnectBlock(*m_client, in); });
    }
    mc::MetaDisconnectBlockResult DisconnectBlock(const mc::MetaDisconnectBlockInput& in) override
    {
        return Guarded([&] { return ain_rpc::CallMetaDisconnectBlock(*m_client, in); });
    }
    mc::MetaGetTipResult GetTip() override
    {
        return Guarded([&] { return ain_rpc::CallMetaGetTip(*m_client); });
    }
    mc::MetaGetBalanceResult GetBalance(const mc::MetaGetBalanceInput& in) override
    {
        return Guarded([&] { return ain_rpc::CallMetaGetBalance(*m_client, in); });
    }
    mc::MetaGetBlockResult GetBlock(const mc::MetaGetBlockInput& in) override
    {
        return Guarded([&] { return ain_rpc::CallMetaGetBlock(*m_client, in); });
    }
    mc::MetaSendTransactionResult SendTransaction(const mc::MetaSendTransactionInput& in) override
    {
        return Guarded([&] { return ain_rpc::CallMetaSendTransaction(*m_client, in); });
    }
    mc::MetaGetReceiptResult GetReceipt(const mc::MetaGetReceiptInput& in) override
    {
        return Guarded([&] { return ain_rpc::CallMetaGetReceipt(*m_client, in); });
    }
    mc::MetaGetPendingTxsResult GetPendingTxs(const mc::MetaGetPendingTxsInput& in) override
    {
        return Guarded([&] { return ain_rpc::CallMetaGetPendingTxs(*m_client, in); });
    }
    void SetNetworkStatus(const mc::MetaNetworkStatus& in) override
    {
        Guarded([&] { return ain_rpc::CallMetaSetNetworkStatus(*m_client, in); });
    }
    mc::MetaGetStorageAtResult GetStorageAt(const mc::MetaGetStorageAtInput& in) override
    {
        return Guarded([&] { return ain_rpc::CallMetaGetStorageAt(*m_client, in); });
    }
    mc::MetaGetCodeResult GetCode(const mc::MetaGetCodeInput& in) override
    {
        return Guarded([&] { return ain_rpc::CallMetaGetCode(*m_client, in); });
    }

private:
    rust::Box<ain_rpc::MetaClient> m_client;
    std::string m_mode;
};

} // namespace

std::unique_ptr<Backend> MakeFfiBackend(const std::string& datadir, const std::string& args)
{
    return std::make_unique<FfiBackend>(datadir, args);
}

std::unique_ptr<Backend> MakeRpcBackend(const std::string& url, const std::string& secret_path,
                                        std::optional<std::chrono::milliseconds> timeout)
{
    return std::make_unique<RpcBackend>(url, secret_path, timeout);
}

} // namespace metachain
