#include <util/logging.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace {
std::mutex g_log_mutex;
std::FILE* g_log_file = nullptr;
bool g_console = true;
} // namespace

bool LogOpen(const std::string& path, bool print_to_console)
{
    std::lock_guard<std::mutex> lock(g_log_mutex);
    g_console = print_to_console;
    g_log_file = std::fopen(path.c_str(), "a");
    return g_log_file != nullptr;
}

void LogPrint(const std::string& message)
{
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    char stamp[32];
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::lock_guard<std::mutex> lock(g_log_mutex);
    if (g_console) {
        std::fprintf(stdout, "%s %s\n", stamp, message.c_str());
        std::fflush(stdout);
    }
    if (g_log_file) {
        std::fprintf(g_log_file, "%s %s\n", stamp, message.c_str());
        std::fflush(g_log_file);
    }
}

void FatalError(const std::string& message)
{
    LogPrint("Fatal error: " + message);
    std::fprintf(stderr, "Error: %s\n", message.c_str());
    std::fflush(stderr);
    std::_Exit(EXIT_FAILURE);
}
