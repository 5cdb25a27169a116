// Helpers for the C++ tests: temp directories and a real metachaind child.
#ifndef DEFI_TEST_TEST_UTIL_H
#define DEFI_TEST_TEST_UTIL_H

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <signal.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace test {

class TempDir {
public:
    TempDir()
    {
        std::string tmpl = (std::filesystem::temp_directory_path() / "defi-test-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        m_path = tmpl;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    const std::filesystem::path& path() const { return m_path; }

private:
    std::filesystem::path m_path;
};

// Starts metachaind on free loopback ports and reads the URLs it prints.
class Metachaind {
public:
    explicit Metachaind(const std::string& binary)
    {
        const auto out = m_dir.path() / "stdout";
        const auto log = m_dir.path() / "stderr";
        std::fflush(nullptr); // a buffered parent line must not be flushed twice
        m_pid = fork();
        if (m_pid < 0) throw std::runtime_error("fork failed");
        if (m_pid == 0) {
            const std::string datadir = (m_dir.path() / "data").string();
            if (!freopen(out.c_str(), "w", stdout) || !freopen(log.c_str(), "w", stderr)) _exit(126);
            execl(binary.c_str(), binary.c_str(), "--datadir", datadir.c_str(), "--grpc-addr", "127.0.0.1:0",
                  "--rpc-addr", "127.0.0.1:0", static_cast<char*>(nullptr));
            _exit(127);
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            std::ifstream f(out);
            std::string word;
            if (f >> word && word == "listening" && f >> m_grpc_url >> m_http_url) {
                m_secret_path = (m_dir.path() / "data" / "jwt.hex").string();
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        Stop();
        throw std::runtime_error("metachaind did not start: " + binary);
    }
    ~Metachaind() { Stop(); }

    // SIGTERM, then the wait status (-1 if it was not running).
    int Stop()
    {
        int status = -1;
        if (m_pid > 0) {
            kill(m_pid, SIGTERM);
            waitpid(m_pid, &status, 0);
            m_pid = -1;
        }
        return status;
    }
    // What it logged (tracing, to stderr).
    std::string Log() const
    {
        std::ifstream f(m_dir.path() / "stderr");
        return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    const std::string& grpc_url() const { return m_grpc_url; }
    const std::string& http_url() const { return m_http_url; }
    // The JWT secret metachaind generated for its control rpcs.
    const std::string& secret_path() const { return m_secret_path; }

private:
    TempDir m_dir;
    pid_t m_pid{-1};
    std::string m_grpc_url, m_http_url, m_secret_path;
};

} // namespace test

#endif // DEFI_TEST_TEST_UTIL_H
