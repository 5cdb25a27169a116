#include <httprpc.h>

#include <node/context.h>
#include <rpc/server.h>
#include <util/logging.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include <future>
#include <memory>
#include <thread>

namespace {

json ErrorReply(const json& id, int code, const std::string& message, bool v2)
{
    json reply = {{"error", {{"code", code}, {"message", message}}}, {"id", id}};
    if (v2) {
        reply["jsonrpc"] = "2.0";
    } else {
        reply["result"] = nullptr;
    }
    return reply;
}

// One request object; `status` gets bitcoind's legacy HTTP status for errors.
json HandleOne(NodeContext& node, const RPCTable& table, const json& req, int& status)
{
    const bool v2 = req.is_object() && req.value("jsonrpc", "") == "2.0";
    const json id = req.is_object() && req.contains("id") ? req["id"] : json(nullptr);
    if (!req.is_object() || !req.contains("method") || !req["method"].is_string()) {
        status = 400;
        return ErrorReply(id, RPC_INVALID_REQUEST, "Invalid Request object", v2);
    }
    const std::string method = req["method"].get<std::string>();
    try {
        const json result = table.Execute(node, method, req.contains("params") ? req["params"] : json::array());
        json reply = {{"result", result}, {"id", id}};
        if (v2) {
            reply["jsonrpc"] = "2.0";
        } else {
            reply["error"] = nullptr;
        }
        return reply;
    } catch (const RPCError& e) {
        status = e.code == RPC_METHOD_NOT_FOUND ? 404 : 500;
        return ErrorReply(id, e.code, e.what(), v2);
    } catch (const std::exception& e) {
        status = 500;
        return ErrorReply(id, RPC_MISC_ERROR, e.what(), v2);
    }
}

std::string Base64Decode(const std::string& in)
{
    static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        const auto pos = chars.find(c);
        if (pos == std::string::npos) return "";
        acc = acc << 6 | static_cast<uint32_t>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

bool ConstantTimeEqual(const std::string& a, const std::string& b)
{
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

} // namespace

std::pair<int, std::string> HandleJSONRPC(NodeContext& node, const RPCTable& table, const std::string& body)
{
    json req;
    try {
        req = json::parse(body);
    } catch (const json::parse_error&) {
        return {500, ErrorReply(nullptr, RPC_PARSE_ERROR, "Parse error", false).dump()};
    }
    if (req.is_array()) {
        json replies = json::array();
        for (const auto& one : req) {
            int ignored = 200;
            replies.push_back(HandleOne(node, table, one, ignored));
        }
        return {200, WriteJSON(replies)};
    }
    int status = 200;
    json reply = HandleOne(node, table, req, status);
    if (req.is_object() && req.value("jsonrpc", "") == "2.0") status = 200;
    return {status, WriteJSON(reply)};
}

struct HTTPRPCServer::Impl {
    NodeContext& node;
    const RPCTable& table;
    HTTPRPCConfig config;
    event_base* base{nullptr};
    evhttp* http{nullptr};
    std::thread thread;

    static void OnRequest(evhttp_request* req, void* arg)
    {
        auto* self = static_cast<Impl*>(arg);
        evkeyvalq* out_headers = evhttp_request_get_output_headers(req);
        if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
            evhttp_send_reply(req, 405, "Method Not Allowed", nullptr);
            return;
        }
        const char* auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
        const std::string expected = self->config.user + ":" + self->config.password;
        if (!auth || std::string(auth).rfind("Basic ", 0) != 0 ||
            !ConstantTimeEqual(Base64Decode(std::string(auth).substr(6)), expected)) {
            LogPrint("RPC: incorrect password attempt");
            evhttp_add_header(out_headers, "WWW-Authenticate", "Basic realm=\"jsonrpc\"");
            evhttp_send_reply(req, 401, "Unauthorized", nullptr);
            return;
        }
        evbuffer* in = evhttp_request_get_input_buffer(req);
        std::string body(evbuffer_get_length(in), '\0');
        evbuffer_copyout(in, body.data(), body.size());
        const auto [status, reply] = HandleJSONRPC(self->node, self->table, body);
        evhttp_add_header(out_headers, "Content-Type", "application/json");
        evbuffer* out = evbuffer_new();
        evbuffer_add(out, reply.data(), reply.size());
        evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", out);
        evbuffer_free(out);
    }
};

HTTPRPCServer::HTTPRPCServer(NodeContext& node, const RPCTable& table, HTTPRPCConfig config)
    : m_impl(std::make_unique<Impl>(Impl{node, table, std::move(config)}))
{
}

HTTPRPCServer::~HTTPRPCServer() { Stop(); }

void HTTPRPCServer::Start()
{
    evthread_use_pthreads();
    m_impl->base = event_base_new();
    m_impl->http = evhttp_new(m_impl->base);
    if (!m_impl->base || !m_impl->http) throw std::runtime_error("cannot create the HTTP server");
    evhttp_set_max_body_size(m_impl->http, m_impl->config.max_body);
    evhttp_set_allowed_methods(m_impl->http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
    evhttp_set_gencb(m_impl->http, &Impl::OnRequest, m_impl.get());
    if (evhttp_bind_socket(m_impl->http, m_impl->config.bind.c_str(), m_impl->config.port) != 0) {
        throw std::runtime_error("cannot bind RPC to " + m_impl->config.bind + ":" +
                                 std::to_string(m_impl->config.port) + " (in use, or not a local address)");
    }
    // Returns once the loop runs: libevent forgets a break that comes before.
    // The thread also settles the promise if the loop ends without running.
    auto running = std::make_shared<std::promise<void>>();
    const auto settle = [](std::promise<void>& p) {
        try {
            p.set_value();
        } catch (const std::future_error&) {
        }
    };
    const timeval now{0, 0};
    const auto on_run = [](evutil_socket_t, short, void* p) { static_cast<std::promise<void>*>(p)->set_value(); };
    if (event_base_once(m_impl->base, -1, EV_TIMEOUT, on_run, running.get(), &now) != 0) {
        throw std::runtime_error("cannot start the HTTP server loop");
    }
    m_impl->thread = std::thread([base = m_impl->base, running, settle] {
        event_base_dispatch(base);
        settle(*running);
    });
    running->get_future().wait();
    LogPrint("RPC server listening on " + m_impl->config.bind + ":" + std::to_string(m_impl->config.port));
}

void HTTPRPCServer::Stop()
{
    if (!m_impl || !m_impl->base) return;
    event_base_loopbreak(m_impl->base);
    if (m_impl->thread.joinable()) m_impl->thread.join();
    evhttp_free(m_impl->http);
    event_base_free(m_impl->base);
    m_impl->base = nullptr;
    m_impl->http = nullptr;
}
