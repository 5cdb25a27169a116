// Median cost of one get-tip call: in-process over FFI, and over gRPC and
// JSON-RPC on loopback against a real metachaind. Prints figures; asserts nothing.
#include <libain_rpc.h>
#include <libmc.h>
#include <test/test_util.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

namespace {

double MedianMicros(size_t n, const std::function<void()>& call)
{
    for (size_t i = 0; i < n / 10 + 1; ++i) call(); // warm up
    std::vector<double> samples;
    samples.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const auto start = std::chrono::steady_clock::now();
        call();
        samples.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
}

} // namespace

int main()
{
    test::TempDir dir;
    mc::ain_init((dir.path() / "metachain").string(), "");
    std::printf("get_tip ffi      median %8.2f us  (target <= 2 us)\n",
                MedianMicros(200000, [] { mc::get_tip(); }));
    mc::ain_shutdown();

    if (std::string(METACHAIND_PATH).empty()) {
        std::printf("no metachaind configured; network figures skipped\n");
        return 0;
    }
    test::Metachaind server(METACHAIND_PATH);
    for (const auto& [name, url] : {std::pair{"grpc", server.grpc_url()}, std::pair{"jsonrpc", server.http_url()}}) {
        auto client = ain_rpc::NewClient(url, "");
        std::printf("get_tip %-8s median %8.2f us  (target <= 200 us)\n", name,
                    MedianMicros(5000, [&] { ain_rpc::CallMetaGetTip(*client); }));
    }
    return 0;
}
