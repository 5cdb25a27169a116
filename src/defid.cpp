// defid: the host node. Parses options and defi.conf, opens the chain, the
// wallet and the metachain (in-process with -meta, over the network with
// -meta_rpc), serves JSON-RPC, and runs until `stop`, SIGINT or SIGTERM.
// It exits non-zero with a clear message if anything it needs fails.
#include <chainparams.h>
#include <init.h>
#include <metachain/backend.h>
#include <util/args.h>
#include <util/logging.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <thread>
#include <unistd.h>

#ifndef DEFI_VERSION
#define DEFI_VERSION "0.0.0"
#endif

namespace {

std::atomic<bool> g_shutdown{false};

void HandleSignal(int) { g_shutdown = true; }

// How often a networked metachain is checked for liveness.
constexpr auto HEALTH_INTERVAL = std::chrono::seconds(2);

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
    // Before any block payload is allocated; a refusal only costs speed.
    mc::ain_keep_freed_buffers();
    ArgsManager args;
    SetupServerArgs(args);
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
    std::filesystem::path base = args.Get("-datadir", DefaultDataDir());
    const std::string conf = args.Get("-conf", (base / "defi.conf").string());
    if (!args.ReadConfigFile(conf, error)) {
        std::fprintf(stderr, "Error: %s\n", error.c_str());
        return EXIT_FAILURE;
    }
    if (!CheckServerArgs(args, error)) {
        std::fprintf(stderr, "Error: %s\n", error.c_str());
        return EXIT_FAILURE;
    }
    const ChainParams* selected = SelectParams(args.GetBool("-regtest", false), args.GetBool("-testnet", false), error);
    if (!selected) {
        std::fprintf(stderr, "Error: %s\n", error.c_str());
        return EXIT_FAILURE;
    }
    const ChainParams& params = *selected;
    std::filesystem::path datadir = params.network == "main" ? base : base / params.network;
    std::error_code ec;
    std::filesystem::create_directories(datadir, ec);
    if (ec) {
        std::fprintf(stderr, "Error: cannot create data directory %s: %s\n", datadir.c_str(), ec.message().c_str());
        return EXIT_FAILURE;
    }
    const bool daemon = args.GetBool("-daemon", false);
    if (daemon) {
        const pid_t pid = fork();
        if (pid < 0) return Fail("cannot fork for -daemon");
        if (pid > 0) return EXIT_SUCCESS;
        setsid();
        const int null = ::open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    if (!LogOpen((datadir / "debug.log").string(), args.GetBool("-printtoconsole", !daemon))) {
        std::fprintf(stderr, "Error: cannot open %s\n", (datadir / "debug.log").c_str());
        return EXIT_FAILURE;
    }
    // From here a stop signal is only noted: startup finishes, then the node
    // shuts down cleanly.
    std::signal(SIGINT, HandleSignal);
    std::signal(SIGTERM, HandleSignal);
    std::signal(SIGPIPE, SIG_IGN);
    LogPrint(std::string("defid version ") + DEFI_VERSION + " starting, network " + params.network + ", datadir " +
             datadir.string());

    Node node;
    if (!node.Start(args, params, datadir, g_shutdown, error)) return Fail(error);

    LogPrint("defid started; stop with the stop RPC, SIGINT or SIGTERM");
    int code = EXIT_SUCCESS;
    auto next_check = std::chrono::steady_clock::now() + HEALTH_INTERVAL;
    while (!g_shutdown) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        metachain::Backend* meta = node.Metachain();
        if (meta && meta->Mode() != "ffi" && std::chrono::steady_clock::now() >= next_check) {
            try {
                meta->GetTip();
            } catch (const std::exception& e) {
                code = Fail(std::string("metachain unreachable, shutting down: ") + e.what());
                break;
            }
            next_check = std::chrono::steady_clock::now() + HEALTH_INTERVAL;
        }
    }
    LogPrint("shutdown requested");
    node.Stop();
    LogPrint("shutdown complete");
    return code;
}
