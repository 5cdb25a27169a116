// defi-cli: bitcoin-cli style client for defid's JSON-RPC. Reads the cookie
// (or -rpcuser/-rpcpassword, also from defi.conf); arguments that parse as
// JSON are sent as JSON, the rest as strings.
#include <chainparams.h>
#include <util/args.h>

#include <util/json.h>

#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <netdb.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

std::string Base64(const std::string& in)
{
    static const char* chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        acc = acc << 8 | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += chars[(acc >> bits) & 63];
        }
    }
    if (bits) out += chars[(acc << (6 - bits)) & 63];
    while (out.size() % 4)
        out += '=';
    return out;
}

// POSTs `body`; returns (HTTP status, response body) or throws.
std::pair<int, std::string> Post(const std::string& host, const std::string& port, const std::string& auth,
                                 const std::string& body)
{
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) throw std::runtime_error("cannot resolve");
    const int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    const bool ok = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0;
    freeaddrinfo(res);
    if (!ok) {
        if (fd >= 0) close(fd);
        throw std::runtime_error("connect");
    }
    const std::string req = "POST / HTTP/1.1\r\nHost: " + host +
                            "\r\nConnection: close\r\nContent-Type: application/json\r\n"
                            "Authorization: Basic " +
                            Base64(auth) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (size_t sent = 0; sent < req.size();) {
        const ssize_t n = send(fd, req.data() + sent, req.size() - sent, 0);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
    }
    std::string resp;
    char buf[65536];
    for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;)
        resp.append(buf, static_cast<size_t>(n));
    close(fd);
    const auto sp = resp.find(' ');
    const auto split = resp.find("\r\n\r\n");
    if (sp == std::string::npos || split == std::string::npos) throw std::runtime_error("bad HTTP response");
    return {std::atoi(resp.c_str() + sp + 1), resp.substr(split + 4)};
}

// Writes `text` and a newline whole, NULs included.
void Print(std::FILE* f, const std::string& text)
{
    std::fwrite(text.data(), 1, text.size(), f);
    std::fputc('\n', f);
}

} // namespace

int main(int argc, char* argv[])
{
    ArgsManager args;
    args.AddArg("-help", "Print this help message and exit");
    args.AddArg("-datadir=<dir>", "Data directory (default: ~/.defi)");
    args.AddArg("-conf=<file>", "Config file (default: <datadir>/defi.conf)");
    args.AddArg("-regtest", "Use the regression-test chain");
    args.AddArg("-testnet", "Use the test network");
    args.AddArg("-rpcconnect=<ip>", "Node address (default: 127.0.0.1)");
    args.AddArg("-rpcport=<port>", "Node JSON-RPC port");
    args.AddArg("-rpcuser=<user>", "JSON-RPC user");
    args.AddArg("-rpcpassword=<pw>", "JSON-RPC password");
    // Options come first; the first non-option is the method.
    int first = 1;
    while (first < argc && argv[first][0] == '-')
        ++first;
    std::string error;
    if (!args.Parse(first, argv, error)) {
        std::fprintf(stderr, "error: %s\n", error.c_str());
        return EXIT_FAILURE;
    }
    if (args.IsSet("-help") || first >= argc) {
        std::printf("Usage: defi-cli [options] <command> [params]\n\n%s", args.HelpText().c_str());
        return args.IsSet("-help") ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    const char* home = std::getenv("HOME");
    const std::filesystem::path base = args.Get("-datadir", std::string(home ? home : ".") + "/.defi");
    if (!args.ReadConfigFile(args.Get("-conf", (base / "defi.conf").string()), error)) {
        // defi.conf also holds node-only keys; the client ignores what it does not know.
        error.clear();
    }
    const ChainParams* selected = SelectParams(args.GetBool("-regtest", false), args.GetBool("-testnet", false), error);
    if (!selected) {
        std::fprintf(stderr, "Error: %s\n", error.c_str());
        return EXIT_FAILURE;
    }
    const ChainParams& params = *selected;
    const std::filesystem::path datadir = params.network == "main" ? base : base / params.network;
    std::string auth;
    if (args.IsSet("-rpcpassword")) {
        auth = args.Get("-rpcuser") + ":" + args.Get("-rpcpassword");
    } else {
        std::ifstream cookie(datadir / ".cookie");
        if (!std::getline(cookie, auth)) {
            std::fprintf(stderr,
                         "error: Could not locate RPC credentials. No authentication cookie could be found, "
                         "and -rpcpassword is not set (looked in %s)\n",
                         (datadir / ".cookie").c_str());
            return EXIT_FAILURE;
        }
    }
    json params_json = json::array();
    for (int i = first + 1; i < argc; ++i) {
        try {
            params_json.push_back(ParseJSON(argv[i]));
        } catch (const JSONError&) {
            // Not JSON (or a number no double holds): the server gets the text.
            params_json.push_back(std::string(argv[i]));
        }
    }
    const json req = {{"jsonrpc", "1.0"}, {"id", "defi-cli"}, {"method", argv[first]}, {"params", params_json}};
    const std::string host = args.Get("-rpcconnect", "127.0.0.1");
    const std::string port = args.Get("-rpcport", std::to_string(params.default_rpc_port));
    std::pair<int, std::string> resp;
    try {
        resp = Post(host, port, auth, WriteJSON(req));
    } catch (const std::exception&) {
        std::fprintf(stderr, "error: Could not connect to the server %s:%s\n\nMake sure the defid server is running.\n",
                     host.c_str(), port.c_str());
        return EXIT_FAILURE;
    }
    if (resp.first == 401) {
        std::fprintf(stderr, "error: Authorization failed: Incorrect rpcuser or rpcpassword\n");
        return EXIT_FAILURE;
    }
    json reply;
    try {
        reply = ParseJSON(resp.second);
    } catch (const JSONError&) {
    }
    if (!reply.is_object() || !reply.contains("result") || !reply.contains("error")) {
        std::fprintf(stderr, "error: server returned HTTP %d: ", resp.first);
        Print(stderr, resp.second);
        return EXIT_FAILURE;
    }
    const json& rpc_error = reply["error"];
    if (!rpc_error.is_null()) {
        const json code = rpc_error.is_object() && rpc_error.contains("code") ? rpc_error["code"] : json(nullptr);
        const json message = rpc_error.is_object() && rpc_error.contains("message") ? rpc_error["message"] : rpc_error;
        std::fprintf(stderr, "error code: ");
        Print(stderr, WriteJSON(code));
        std::fprintf(stderr, "error message:\n");
        Print(stderr, message.is_string() ? message.get<std::string>() : WriteJSON(message));
        return EXIT_FAILURE;
    }
    const json& result = reply["result"];
    if (result.is_string()) {
        Print(stdout, result.get<std::string>());
    } else if (!result.is_null()) {
        Print(stdout, WriteJSON(result, 2));
    }
    return EXIT_SUCCESS;
}
