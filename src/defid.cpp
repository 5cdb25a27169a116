// defid: the host node. At this stage it parses its options, opens the
// metachain (in-process with -meta, over the network with -meta_rpc), checks
// it answers, and runs until stopped. It exits non-zero with a clear message
// if the metachain cannot be opened or reached.
#include <metachain/backend.h>
#include <util/args.h>
#include <util/logging.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#ifndef DEFI_VERSION
#define DEFI_VERSION "0.0.0"
#endif

namespace {

std::atomic<bool> g_shutdown{false};

void HandleSignal(int) { g_shutdown = true; }

// How often a networked metachain is checked for liveness.
constexpr auto HEALTH_INTERVAL = std::chrono::seconds(2);

void SetupArgs(ArgsManager& args)
{
    args.AddArg("-help", "Print this help message and exit");
    args.AddArg("-version", "Print version (including the metachain library's) and exit");
    args.AddArg("-datadir=<dir>", "Data directory (default: ~/.defi)");
    args.AddArg("-regtest", "Use the regression-test chain (data under <datadir>/regtest)");
    args.AddArg("-printtoconsole", "Send log lines to the console as well as debug.log (default: 1)");
    args.AddArg("-meta=<args>", "Run the metachain in-process; <args> are handed to it (e.g. --datadir=<dir>)");
    args.AddArg("-meta_rpc=<url>", "Use a metachaind at grpc://host:port or http://host:port");
    args.AddArg("-meta_rpc_secret=<file>", "Secret for the metachaind control rpcs");
}

int Fail(const std::string& message)
{
    LogPrint("Error: " + message);
    std::fprintf(stderr, "Error: %s\n", message.c_str());
    return EXIT_FAILURE;
}

std::string DefaultDataDir()
{
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : ".") + "/.defi";
}

} // namespace

int main(int argc, char* argv[])
{
    ArgsManager args;
    SetupArgs(args);
    std::string error;
    if (!args.Parse(argc, argv, error)) {
        std::fprintf(stderr, "Error: %s\n", error.c_str());
        return EXIT_FAILURE;
    }
    if (args.IsSet("-help")) {
        std::printf("defid %s\n\nUsage: defid [options]\n\n%s", DEFI_VERSION, args.HelpText().c_str());
        return EXIT_SUCCESS;
    }
    if (args.IsSet("-version")) {
        std::printf("defid version %s\nmetachain library version %s\n", DEFI_VERSION,
                    std::string(mc::ain_version()).c_str());
        return EXIT_SUCCESS;
    }
    if (args.IsSet("-meta") && args.IsSet("-meta_rpc")) {
        std::fprintf(stderr, "Error: -meta and -meta_rpc exclude each other; give one\n");
        return EXIT_FAILURE;
    }

    std::filesystem::path datadir = args.Get("-datadir", DefaultDataDir());
    if (args.GetBool("-regtest", false)) datadir /= "regtest";
    std::error_code ec;
    std::filesystem::create_directories(datadir, ec);
    if (ec) {
        std::fprintf(stderr, "Error: cannot create data directory %s: %s\n", datadir.c_str(), ec.message().c_str());
        return EXIT_FAILURE;
    }
    if (!LogOpen((datadir / "debug.log").string(), args.GetBool("-printtoconsole", true))) {
        std::fprintf(stderr, "Error: cannot open %s\n", (datadir / "debug.log").c_str());
        return EXIT_FAILURE;
    }
    LogPrint(std::string("defid version ") + DEFI_VERSION + " starting, datadir " + datadir.string());

    std::unique_ptr<metachain::Backend> meta;
    try {
        if (args.IsSet("-meta")) {
            std::string meta_args = args.Get("-meta");
            if (meta_args == "1") meta_args.clear();
            meta = metachain::MakeFfiBackend((datadir / "metachain").string(), meta_args);
        } else if (args.IsSet("-meta_rpc")) {
            meta = metachain::MakeRpcBackend(args.Get("-meta_rpc"), args.Get("-meta_rpc_secret"));
        }
        if (meta) {
            const auto tip = meta->GetTip();
            LogPrint("metachain (" + meta->Mode() + ") version " + meta->Version() + ", tip height " +
                     std::to_string(tip.number) + " hash " + std::string(tip.hash));
        } else {
            LogPrint("no metachain configured (-meta or -meta_rpc); running the native chain alone");
        }
    } catch (const std::exception& e) {
        return Fail(std::string("metachain unavailable: ") + e.what());
    }

    std::signal(SIGINT, HandleSignal);
    std::signal(SIGTERM, HandleSignal);
    LogPrint("defid started; stop with SIGINT or SIGTERM");
    auto next_check = std::chrono::steady_clock::now() + HEALTH_INTERVAL;
    while (!g_shutdown) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (meta && meta->Mode() != "ffi" && std::chrono::steady_clock::now() >= next_check) {
            try {
                meta->GetTip();
            } catch (const std::exception& e) {
                return Fail(std::string("metachain unreachable, shutting down: ") + e.what());
            }
            next_check = std::chrono::steady_clock::now() + HEALTH_INTERVAL;
        }
    }
    LogPrint("shutdown requested");
    meta.reset();
    LogPrint("shutdown complete");
    return EXIT_SUCCESS;
}
