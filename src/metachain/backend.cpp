#include <metachain/backend.h>

#include <libain_rpc.h>

#include <stdexcept>

namespace metachain {
namespace {

class FfiBackend final : public Backend {
public:
    FfiBackend(const std::string& datadir, const std::string& args) { mc::ain_init(datadir, args); }
    ~FfiBackend() override { mc::ain_shutdown(); }

    std::string Mode() const override { return "ffi"; }
    std::string Version() override { return std::string(mc::ain_version()); }
    mc::MetaMintBlockResult MintBlock(const mc::MetaMintBlockInput& in) override { return mc::mint_block(in); }
    mc::MetaConnectBlockResult ConnectBlock(const mc::MetaConnectBlockInput& in) override
    {
        return mc::connect_block(in);
    }
    mc::MetaDisconnectBlockResult DisconnectBlock(const mc::MetaDisconnectBlockInput& in) override
    {
        return mc::disconnect_block(in);
    }
    mc::MetaGetTipResult GetTip() override { return mc::get_tip(); }
    mc::MetaGetBalanceResult GetBalance(const mc::MetaGetBalanceInput& in) override { return mc::get_balance(in); }
    mc::MetaGetBlockResult GetBlock(const mc::MetaGetBlockInput& in) override { return mc::get_block(in); }
    mc::MetaSendTransactionResult SendTransaction(const mc::MetaSendTransactionInput& in) override
    {
        return mc::send_transaction(in);
    }
};

class RpcBackend final : public Backend {
public:
    RpcBackend(const std::string& url, const std::string& secret_path)
        : m_client(ain_rpc::NewClient(url, secret_path)), m_mode(url.rfind("grpc://", 0) == 0 ? "grpc" : "jsonrpc")
    {
    }

    std::string Mode() const override { return m_mode; }
    std::string Version() override { return std::string(ain_rpc::CallMetaGetVersion(*m_client).version); }
    mc::MetaMintBlockResult MintBlock(const mc::MetaMintBlockInput& in) override
    {
        return ain_rpc::CallMetaMintBlock(*m_client, in);
    }
    mc::MetaConnectBlockResult ConnectBlock(const mc::MetaConnectBlockInput& in) override
    {
        return ain_rpc::CallMetaConnectBlock(*m_client, in);
    }
    mc::MetaDisconnectBlockResult DisconnectBlock(const mc::MetaDisconnectBlockInput& in) override
    {
        return ain_rpc::CallMetaDisconnectBlock(*m_client, in);
    }
    mc::MetaGetTipResult GetTip() override { return ain_rpc::CallMetaGetTip(*m_client); }
    mc::MetaGetBalanceResult GetBalance(const mc::MetaGetBalanceInput& in) override
    {
        return ain_rpc::CallMetaGetBalance(*m_client, in);
    }
    mc::MetaGetBlockResult GetBlock(const mc::MetaGetBlockInput& in) override
    {
        return ain_rpc::CallMetaGetBlock(*m_client, in);
    }
    mc::MetaSendTransactionResult SendTransaction(const mc::MetaSendTransactionInput& in) override
    {
        return ain_rpc::CallMetaSendTransaction(*m_client, in);
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

std::unique_ptr<Backend> MakeRpcBackend(const std::string& url, const std::string& secret_path)
{
    return std::make_unique<RpcBackend>(url, secret_path);
}

} // namespace metachain
