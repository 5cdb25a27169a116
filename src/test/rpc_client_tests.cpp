// The network bridge (libain_rpc.h) against a real metachaind over gRPC and
// JSON-RPC, and its error paths.
#include <libain_rpc.h>
#include <metachain/backend.h>
#include <test/test_util.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <string>

namespace {

// The address of secret key 1.
const char* const ALICE = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";

std::string ErrorOf(const std::function<void()>& f)
{
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

TEST(RpcClient, UnknownSchemeIsAClearError)
{
    const auto what = ErrorOf([] { ain_rpc::NewClient("ftp://127.0.0.1:1", ""); });
    EXPECT_NE(what.find("unsupported URL scheme"), std::string::npos) << what;
}

TEST(RpcClient, UnreachableGrpcServerIsAClearError)
{
    const auto what = ErrorOf([] { ain_rpc::NewClient("grpc://127.0.0.1:1", ""); });
    EXPECT_NE(what.find("cannot connect to grpc://127.0.0.1:1"), std::string::npos) << what;
}

TEST(RpcClient, UnreachableHttpServerFailsOnFirstCallNamingTheUrl)
{
    auto client = ain_rpc::NewClient("http://127.0.0.1:1", "");
    const auto what = ErrorOf([&] { ain_rpc::CallMetaGetTip(*client); });
    EXPECT_NE(what.find("http://127.0.0.1:1"), std::string::npos) << what;
}

// A loopback port that takes connections (the kernel's backlog completes
// the handshake) and never answers: a hung server.
class SilentServer {
public:
    SilentServer()
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(addr);
        if (m_fd < 0 || ::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(m_fd, 16) != 0 ||
            ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            throw std::runtime_error("cannot open a listening socket");
        }
        m_port = ntohs(addr.sin_port);
    }
    ~SilentServer() { ::close(m_fd); }
    std::string Url(const std::string& scheme) const { return scheme + "://127.0.0.1:" + std::to_string(m_port); }

private:
    int m_fd{-1};
    uint16_t m_port{0};
};

TEST(RpcClient, ACallToAHungServerFailsAtItsTimeoutNamingTheUrl)
{
    SilentServer server;
    for (const std::string scheme : {"grpc", "http"}) {
        const std::string url = server.Url(scheme);
        const auto what = ErrorOf([&] {
            auto client = ain_rpc::NewClientWithTimeout(url, "", 200);
            ain_rpc::CallMetaGetTip(*client);
        });
        EXPECT_NE(what.find(url), std::string::npos) << what;
        // The configured limit, not the 30 s default, is the one that fired.
        EXPECT_NE(what.find("timed out after 200ms"), std::string::npos) << what;
    }
}

TEST(RpcClient, AZeroOrHugeTimeoutIsRefused)
{
    for (const uint64_t ms : {uint64_t{0}, uint64_t{24} * 3600 * 1000 + 1}) {
        const auto what = ErrorOf([&] { ain_rpc::NewClientWithTimeout("http://127.0.0.1:1", "", ms); });
        EXPECT_NE(what.find("out of range"), std::string::npos) << what;
    }
}

class RpcAgainstMetachaind : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override
    {
        if (std::string(METACHAIND_PATH).empty()) GTEST_SKIP() << "no metachaind binary configured";
        m_server = std::make_unique<test::Metachaind>(METACHAIND_PATH);
    }
    std::string Url() const { return GetParam() == "grpc" ? m_server->grpc_url() : m_server->http_url(); }
    std::unique_ptr<test::Metachaind> m_server;
};

TEST_P(RpcAgainstMetachaind, ControlRpcsNeedTheSecret)
{
    auto open = metachain::MakeRpcBackend(Url(), "");
    EXPECT_EQ(open->GetTip().number, 0u) << "queries stay open";
    mc::MetaMintBlockInput in{};
    auto what = ErrorOf([&] { open->MintBlock(in); });
    EXPECT_NE(what.find("control rpc"), std::string::npos) << what;

    test::TempDir dir;
    const auto wrong = (dir.path() / "wrong.hex").string();
    std::ofstream(wrong) << std::string(64, 'a') << "\n";
    auto bad = metachain::MakeRpcBackend(Url(), wrong);
    what = ErrorOf([&] { bad->MintBlock(in); });
    EXPECT_NE(what.find("does not verify"), std::string::npos) << what;

    what = ErrorOf([&] { metachain::MakeRpcBackend(Url(), (dir.path() / "missing.hex").string()); });
    EXPECT_NE(what.find("cannot read auth secret"), std::string::npos) << what;
}

TEST_P(RpcAgainstMetachaind, MintConnectAndQueryThroughTheBackend)
{
    auto meta = metachain::MakeRpcBackend(Url(), m_server->secret_path());
    EXPECT_EQ(meta->Mode(), GetParam() == "grpc" ? "grpc" : "jsonrpc");
    EXPECT_FALSE(meta->Version().empty());
    EXPECT_EQ(meta->GetTip().number, 0u);

    mc::MetaMintBlockInput in{};
    mc::NativeTx tx{};
    tx.kind = mc::TxKind::Deposit;
    tx.from = "dfrt19afet3nqxd0frqa3f7ux0zaayjav8xp4femlxh";
    tx.to = ALICE;
    tx.amount = 4200;
    tx.native_txid = metachain::ToRustBytes(std::string(32, '\xdd'));
    in.txs.push_back(tx);
    in.context.height = 1;
    in.context.time = 1700000001;
    const auto minted = meta->MintBlock(in);
    EXPECT_TRUE(minted.refused.empty());

    mc::MetaConnectBlockInput cin{};
    cin.payload = minted.payload;
    cin.context = in.context;
    cin.native_txs_hash = mc::ain_native_txs_hash(in.txs);
    EXPECT_EQ(std::string(meta->ConnectBlock(cin).block_hash), std::string(minted.block_hash));

    mc::MetaGetBalanceInput bal{};
    bal.address = ALICE;
    EXPECT_EQ(std::string(meta->GetBalance(bal).balance_wei), "42000000000000");
    EXPECT_EQ(std::string(meta->GetTip().supply_wei), "42000000000000");
    EXPECT_EQ(meta->GetTip().chain_id, 1132u) << "metachaind is regtest unless --chain says otherwise";

    // The queries defid's RPCs make: a system tx's receipt, storage and code.
    mc::MetaGetBlockInput bin{};
    bin.block_id = "1";
    const auto block = meta->GetBlock(bin);
    ASSERT_EQ(block.block.system_txs.size(), 1u);
    mc::MetaGetCodeInput code{};
    code.address = ALICE;
    EXPECT_EQ(std::string(meta->GetCode(code).code), "0x");
    mc::MetaGetStorageAtInput slot{};
    slot.address = ALICE;
    slot.slot = "0x0";
    EXPECT_EQ(std::string(meta->GetStorageAt(slot).value), "0x" + std::string(64, '0'));
    mc::MetaGetReceiptInput rin{};
    rin.tx_hash = "0x" + std::string(64, '1');
    const auto missing = ErrorOf([&] { meta->GetReceipt(rin); });
    EXPECT_FALSE(missing.empty());
}

// Between calls the client's idle thread still answers the server, so a
// stopping metachaind never waits for it until the drain deadline.
TEST_P(RpcAgainstMetachaind, AnIdleClientLetsTheServerStopCleanly)
{
    auto meta = metachain::MakeRpcBackend(Url(), m_server->secret_path());
    EXPECT_EQ(meta->GetTip().number, 0u);
    const int status = m_server->Stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    const auto log = m_server->Log();
    EXPECT_NE(log.find("stopped"), std::string::npos) << log;
    EXPECT_EQ(log.find("drain deadline"), std::string::npos) << log;
}

TEST_P(RpcAgainstMetachaind, ServerErrorsArriveWithTheirMessage)
{
    auto meta = metachain::MakeRpcBackend(Url(), m_server->secret_path());
    mc::MetaConnectBlockInput cin{};
    cin.payload.push_back(0xff);
    cin.context.height = 1;
    const auto what = ErrorOf([&] { meta->ConnectBlock(cin); });
    EXPECT_NE(what.find("corrupt payload"), std::string::npos) << what;
    EXPECT_NE(what.find(Url()), std::string::npos) << what;
    EXPECT_EQ(meta->GetTip().number, 0u);
}

TEST_P(RpcAgainstMetachaind, StoppedServerIsReportedNotHung)
{
    auto meta = metachain::MakeRpcBackend(Url(), "");
    m_server->Stop();
    const auto what = ErrorOf([&] { meta->GetTip(); });
    EXPECT_FALSE(what.empty());
}

INSTANTIATE_TEST_SUITE_P(Transports, RpcAgainstMetachaind, ::testing::Values("grpc", "jsonrpc"));

} // namespace
