// Per-call cost over each transport, side by side: median and p99 of get-tip
// and of mint+connect for 0-tx and 10,000-tx blocks, in-process (FFI) and
// over gRPC and JSON-RPC on loopback against a real metachaind.
// Prints figures; asserts nothing.
#include <metachain/backend.h>
#include <test/test_util.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Stats {
    double median, p99;
};

Stats Measure(size_t n, const std::function<void()>& call)
{
    for (size_t i = 0; i < std::min<size_t>(n / 10 + 1, 100); ++i)
        call(); // warm up
    std::vector<double> us;
    us.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const auto start = std::chrono::steady_clock::now();
        call();
        us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

// Meta address of key hash [1;20].
const char* const ALICE = "dmc1qyqszqgpqyqszqgpqyqszqgpqyqszqgpt29jqg";

// Mints and connects the next block with `txs` deposits.
void MintConnect(metachain::Backend& meta, size_t txs)
{
    const auto tip = meta.GetTip();
    mc::MetaMintBlockInput in{};
    in.context.height = tip.number + 1;
    in.context.time = static_cast<int64_t>(tip.number + 1);
    for (size_t i = 0; i < txs; ++i) {
        mc::NativeTx tx{};
        tx.kind = mc::TxKind::Deposit;
        tx.to = ALICE;
        tx.amount = 1;
        tx.native_txid = std::to_string(tip.number) + "-" + std::to_string(i);
        in.txs.push_back(std::move(tx));
    }
    const auto minted = meta.MintBlock(in);
    mc::MetaConnectBlockInput cin{};
    cin.payload = minted.payload;
    cin.context = in.context;
    cin.txs = in.txs;
    meta.ConnectBlock(cin);
}

void Row(const char* what, const std::string& mode, Stats s)
{
    std::printf("%-22s %-8s median %10.1f us   p99 %10.1f us\n", what, mode.c_str(), s.median, s.p99);
}

void Run(metachain::Backend& meta)
{
    Row("get_tip", meta.Mode(), Measure(meta.Mode() == "ffi" ? 200000 : 5000, [&] { meta.GetTip(); }));
    Row("mint+connect 0 tx", meta.Mode(), Measure(300, [&] { MintConnect(meta, 0); }));
    Row("mint+connect 10000 tx", meta.Mode(), Measure(30, [&] { MintConnect(meta, 10000); }));
}

} // namespace

int main()
{
    std::printf(
        "targets: get_tip ffi <= 2 us, network <= 150-200 us; 10k-tx mint+connect over the network <= 1.5x ffi\n");
    {
        test::TempDir dir;
        auto meta = metachain::MakeFfiBackend((dir.path() / "metachain").string(), "");
        Run(*meta);
    }
    if (std::string(METACHAIND_PATH).empty()) {
        std::printf("no metachaind configured; network figures skipped\n");
        return 0;
    }
    test::Metachaind server(METACHAIND_PATH);
    for (const auto& url : {server.grpc_url(), server.http_url()}) {
        auto meta = metachain::MakeRpcBackend(url, server.secret_path());
        Run(*meta);
    }
    return 0;
}
