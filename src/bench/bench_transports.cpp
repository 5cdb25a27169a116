// Per-call cost over each transport, side by side: median and p99 of get-tip
// and of mint+connect for 0-tx and 10,000-tx blocks, in-process (FFI) and
// over gRPC and JSON-RPC on loopback against a real metachaind.
// Mint+connect rounds alternate between the transports, so a noisy machine
// slows all of them alike and the ratios to FFI stay comparable; the paired
// ratio compares each round with the FFI round beside it.
// Prints figures; asserts nothing. Optional argument: one mode to run alone.
#include <metachain/backend.h>
#include <test/test_util.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Stats {
    double median, p99;
};

Stats Summarize(std::vector<double> us)
{
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

template <typename F> double TimeUs(F&& call)
{
    const auto start = std::chrono::steady_clock::now();
    call();
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
}

// The meta (0x) address of secret key 1.
const char* const ALICE = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
// A regtest native address, the sender defid records on a deposit.
const char* const DEPOSITOR = "dfrt19afet3nqxd0frqa3f7ux0zaayjav8xp4femlxh";

// A distinct 32-byte txid, as defid passes.
rust::Vec<uint8_t> Txid(uint64_t height, uint64_t i)
{
    std::array<uint8_t, 32> id{};
    for (size_t b = 0; b < 8; ++b) {
        id[b] = static_cast<uint8_t>(height >> (8 * b));
        id[8 + b] = static_cast<uint8_t>(i >> (8 * b));
    }
    return metachain::ToRustBytes(id);
}

// Time spent in each of the two control calls of a round.
struct Phases {
    double mint_us, connect_us;
};

// Mints and connects the next block with `txs` deposits, as the miner and
// ConnectTip do.
Phases MintConnect(metachain::Backend& meta, size_t txs)
{
    const auto tip = meta.GetTip();
    mc::MetaMintBlockInput in{};
    in.context.height = tip.number + 1;
    in.context.time = static_cast<int64_t>(tip.number + 1);
    for (size_t i = 0; i < txs; ++i) {
        mc::NativeTx tx{};
        tx.kind = mc::TxKind::Deposit;
        tx.from = DEPOSITOR;
        tx.to = ALICE;
        tx.amount = 1;
        tx.native_txid = Txid(tip.number, i);
        in.txs.push_back(std::move(tx));
    }
    Phases phases{};
    mc::MetaMintBlockResult minted;
    phases.mint_us = TimeUs([&] { minted = meta.MintBlock(in); });
    mc::MetaConnectBlockInput cin{};
    cin.payload = std::move(minted.payload);
    cin.context = in.context;
    cin.native_txs_hash = mc::ain_native_txs_hash(std::move(in.txs));
    phases.connect_us = TimeUs([&] { meta.ConnectBlock(cin); });
    return phases;
}

// Median of the per-round ratios of `us` to `ffi_us`: each network round is
// paired with the FFI round next to it, so the machine's drift cancels.
double PairedRatio(const std::vector<double>& us, const std::vector<double>& ffi_us)
{
    std::vector<double> r;
    for (size_t i = 0; i < us.size() && i < ffi_us.size(); ++i)
        r.push_back(us[i] / ffi_us[i]);
    return Summarize(r).median;
}

void Row(const char* what, const std::string& mode, Stats s, const Stats* ffi, double paired)
{
    std::printf("%-22s %-8s median %10.1f us   p99 %10.1f us", what, mode.c_str(), s.median, s.p99);
    if (ffi && mode != "ffi") std::printf("   %.2fx ffi (paired %.2fx)", s.median / ffi->median, paired);
    std::printf("\n");
}

// Alternates rounds of `per_round` calls across the backends; prints each
// one's figures, and with `vs_ffi` its median as a multiple of FFI's.
template <typename Call>
void Interleaved(const char* what, const std::vector<metachain::Backend*>& metas, size_t rounds, size_t warmup,
                 size_t per_round, bool vs_ffi, Call call)
{
    std::vector<std::vector<double>> us(metas.size());
    for (size_t r = 0; r < warmup + rounds; ++r) {
        for (size_t m = 0; m < metas.size(); ++m) {
            for (size_t i = 0; i < per_round; ++i) {
                const double t = TimeUs([&] { call(*metas[m]); });
                if (r >= warmup) us[m].push_back(t);
            }
        }
    }
    const Stats* ffi = nullptr;
    const std::vector<double>* ffi_us = nullptr;
    std::vector<Stats> stats;
    for (auto& u : us)
        stats.push_back(Summarize(u));
    for (size_t m = 0; m < metas.size(); ++m) {
        if (metas[m]->Mode() == "ffi") {
            ffi = &stats[m];
            ffi_us = &us[m];
        }
    }
    for (size_t m = 0; m < metas.size(); ++m)
        Row(what, metas[m]->Mode(), stats[m], vs_ffi ? ffi : nullptr, ffi_us ? PairedRatio(us[m], *ffi_us) : 0);
}

} // namespace

int main(int argc, char** argv)
{
    // As defid does at start.
    mc::ain_keep_freed_buffers();
    const std::string only = argc > 1 ? argv[1] : "";
    std::printf("targets: get_tip ffi <= 2 us, network <= 150 us; 10k-tx mint+connect over the network <= 1.5x ffi\n");
    test::TempDir dir;
    std::vector<std::unique_ptr<metachain::Backend>> backends;
    backends.push_back(metachain::MakeFfiBackend((dir.path() / "metachain").string(), ""));
    // One metachaind per transport, so each backend's chain grows one block
    // per round, as FFI's does: a longer chain makes the engine slower.
    std::vector<std::unique_ptr<test::Metachaind>> servers;
    if (std::string(METACHAIND_PATH).empty()) {
        std::printf("no metachaind configured; network figures skipped\n");
    } else {
        for (const bool grpc : {true, false}) {
            const auto& server = *servers.emplace_back(std::make_unique<test::Metachaind>(METACHAIND_PATH));
            const auto& url = grpc ? server.grpc_url() : server.http_url();
            backends.push_back(metachain::MakeRpcBackend(url, server.secret_path()));
        }
    }
    std::vector<metachain::Backend*> metas;
    for (auto& b : backends)
        if (only.empty() || b->Mode() == only) metas.push_back(b.get());

    Interleaved("get_tip", metas, 50, 5, 200, false, [](metachain::Backend& meta) { meta.GetTip(); });
    Interleaved("mint+connect 0 tx", metas, 300, 30, 1, true, [](metachain::Backend& meta) { MintConnect(meta, 0); });
    // The two calls apart: MintBlock carries the txs in and the payload out,
    // ConnectBlock the payload in, so each shows what its messages cost.
    const size_t warmup = 3;
    std::map<const metachain::Backend*, std::vector<Phases>> phases;
    Interleaved("mint+connect 10000 tx", metas, 30, warmup, 1, true,
                [&](metachain::Backend& meta) { phases[&meta].push_back(MintConnect(meta, 10000)); });
    const auto median_of = [&](const metachain::Backend* b, double Phases::*part) {
        std::vector<double> us;
        for (size_t r = warmup; r < phases[b].size(); ++r)
            us.push_back(phases[b][r].*part);
        return Summarize(us).median;
    };
    const metachain::Backend* ffi = nullptr;
    for (const auto* m : metas)
        if (m->Mode() == "ffi") ffi = m;
    for (const auto* m : metas) {
        std::printf("  of which %-8s mint %9.1f us   connect %9.1f us", m->Mode().c_str(),
                    median_of(m, &Phases::mint_us), median_of(m, &Phases::connect_us));
        if (ffi && m != ffi)
            std::printf("   (%.2fx / %.2fx ffi)", median_of(m, &Phases::mint_us) / median_of(ffi, &Phases::mint_us),
                        median_of(m, &Phases::connect_us) / median_of(ffi, &Phases::connect_us));
        std::printf("\n");
    }
    return 0;
}
