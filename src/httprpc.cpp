#include <httprpc.h>

#include <node/context.h>
#include <rpc/server.h>
#include <util/logging.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include <condition_variable>
#include <strings.h>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

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

// bitcoind's HTTP status for a legacy (1.0) error; 2.0 replies are all 200.
int LegacyStatus(int code)
{
    if (code == RPC_METHOD_NOT_FOUND) return 404;
    if (code == RPC_INVALID_REQUEST) return 400;
    return 500;
}

bool ValidId(const json& id)
{
    return id.is_null() || id.is_string() || id.is_number() || RawNumberText(id).has_value();
}

// One request object. Returns its reply, or nullopt for a notification;
// `status` gets the HTTP status a lone request would have.
std::optional<json> HandleOne(NodeContext& node, const RPCTable& table, const json& req, int& status, uint64_t& budget)
{
    status = 200;
    const auto refuse = [&status](const std::string& why) {
        status = 400;
        return ErrorReply(nullptr, RPC_INVALID_REQUEST, "Invalid Request: " + why, false);
    };
    if (!req.is_object()) return refuse("not an object");
    bool v2 = false;
    if (const auto it = req.find("jsonrpc"); it != req.end()) {
        if (!it->is_string() || (*it != "1.0" && *it != "2.0")) {
            return refuse("jsonrpc must be \"1.0\" or \"2.0\", got " + QuoteForError(*it));
        }
        v2 = *it == "2.0";
    }
    const auto id_it = req.find("id");
    // JSON-RPC 2.0: a request without an id is a notification and gets no reply.
    const bool notification = v2 && id_it == req.end();
    const json id = id_it == req.end() ? json(nullptr) : *id_it;
    if (!ValidId(id)) return refuse("id must be a string, a number or null");
    const auto method = req.find("method");
    if (method == req.end() || !method->is_string()) return refuse("method must be a string");
    const auto params = req.find("params");
    const auto fail = [&](int code, const std::string& message) -> std::optional<json> {
        status = v2 ? 200 : LegacyStatus(code);
        if (notification) return std::nullopt;
        return ErrorReply(id, code, message, v2);
    };
    try {
        json result =
            table.Execute(node, method->get<std::string>(), params == req.end() ? json::array() : *params, budget);
        if (notification) return std::nullopt;
        json reply = {{"result", std::move(result)}, {"id", id}};
        if (v2) {
            reply["jsonrpc"] = "2.0";
        } else {
            reply["error"] = nullptr;
        }
        return reply;
    } catch (const RPCError& e) {
        return fail(e.code, e.what());
    } catch (const std::exception& e) {
        // A handler's bug, not the caller's: logged, and the server goes on.
        LogPrint("RPC " + QuoteForError(*method) + " failed: " + e.what());
        return fail(RPC_INTERNAL_ERROR, std::string("Internal error: ") + e.what());
    } catch (...) {
        LogPrint("RPC " + QuoteForError(*method) + " failed with an unknown exception");
        return fail(RPC_INTERNAL_ERROR, "Internal error");
    }
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

std::optional<std::string> DecodeBase64(const std::string& in)
{
    static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (in.size() % 4 != 0) return std::nullopt;
    const size_t pad = in.size() >= 2 && in.compare(in.size() - 2, 2, "==") == 0 ? 2
                       : !in.empty() && in.back() == '='                         ? 1
                                                                                 : 0;
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < in.size() - pad; ++i) {
        const auto pos = chars.find(in[i]);
        if (pos == std::string::npos) return std::nullopt; // also '=' before the end
        acc = acc << 6 | static_cast<uint32_t>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    // The bits left over are padding and must be zero.
    if (acc & ((1u << bits) - 1)) return std::nullopt;
    return out;
}

std::pair<int, std::string> HandleJSONRPC(NodeContext& node, const RPCTable& table, const std::string& body,
                                          const JSONRPCLimits& limits)
{
    json req;
    try {
        req = ParseJSON(body);
    } catch (const JSONError& e) {
        return {500, WriteJSON(ErrorReply(nullptr, RPC_PARSE_ERROR, std::string("Parse error: ") + e.what(), false))};
    }
    uint64_t budget = limits.max_work;
    if (req.is_array()) {
        if (req.empty()) return {400, WriteJSON(ErrorReply(nullptr, RPC_INVALID_REQUEST, "Empty batch", false))};
        if (req.size() > limits.max_batch) {
            return {400,
                    WriteJSON(ErrorReply(nullptr, RPC_INVALID_REQUEST,
                                         "Batch of " + std::to_string(req.size()) + " requests is over the limit of " +
                                             std::to_string(limits.max_batch) + " (-rpcbatchlimit)",
                                         false))};
        }
        json replies = json::array();
        for (const auto& one : req) {
            int ignored = 200;
            if (auto reply = HandleOne(node, table, one, ignored, budget)) replies.push_back(std::move(*reply));
        }
        if (replies.empty()) return {204, ""};
        return {200, WriteJSON(replies)};
    }
    int status = 200;
    const auto reply = HandleOne(node, table, req, status, budget);
    if (!reply) return {204, ""};
    return {status, WriteJSON(*reply)};
}

// A reply computed on a worker, sent on the event thread (libevent's
// requests belong to it).
struct PendingReply {
    evhttp_request* req;
    int status;
    std::string body;
};

void SendReply(evutil_socket_t, short, void* arg)
{
    std::unique_ptr<PendingReply> r(static_cast<PendingReply*>(arg));
    if (r->status == 204) {
        evhttp_send_reply(r->req, 204, "No Content", nullptr);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type", "application/json");
    evbuffer* out = evbuffer_new();
    evbuffer_add(out, r->body.data(), r->body.size());
    evhttp_send_reply(r->req, r->status, r->status == 200 ? "OK" : "Error", out);
    evbuffer_free(out);
}

struct HTTPRPCServer::Impl {
    Impl(NodeContext& n, const RPCTable& t, HTTPRPCConfig c) : node(n), table(t), config(std::move(c)) {}
    NodeContext& node;
    const RPCTable& table;
    HTTPRPCConfig config;
    event_base* base{nullptr};
    evhttp* http{nullptr};
    std::thread thread;
    // Calls run on workers, so a slow one holds up only its own caller.
    std::vector<std::thread> workers;
    std::mutex queue_mutex;
    std::condition_variable queue_cv;
    std::deque<std::pair<evhttp_request*, std::string>> queue;
    bool stopping{false};

    void Work()
    {
        for (;;) {
            std::pair<evhttp_request*, std::string> job;
            {
                std::unique_lock<std::mutex> lock(queue_mutex);
                queue_cv.wait(lock, [this] { return stopping || !queue.empty(); });
                if (queue.empty()) return;
                job = std::move(queue.front());
                queue.pop_front();
            }
            auto reply = std::make_unique<PendingReply>(PendingReply{job.first, 500, ""});
            try {
                std::tie(reply->status, reply->body) = HandleJSONRPC(node, table, job.second, config.limits);
            } catch (const std::exception& e) {
                // Out of memory, say: the caller hears it and the server goes on.
                LogPrint(std::string("RPC request failed: ") + e.what());
                reply->status = 500;
                reply->body = WriteJSON(ErrorReply(nullptr, RPC_INTERNAL_ERROR, "Internal error", false));
            }
            const timeval now{0, 0};
            if (event_base_once(base, -1, EV_TIMEOUT, SendReply, reply.get(), &now) == 0) reply.release();
        }
    }

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
        // The scheme's name is case-insensitive (RFC 7617).
        const bool basic = auth && std::string(auth).size() >= 6 && strncasecmp(auth, "Basic ", 6) == 0;
        const auto given = basic ? DecodeBase64(std::string(auth).substr(6)) : std::nullopt;
        if (!given || !ConstantTimeEqual(*given, expected)) {
            LogPrint("RPC: incorrect password attempt");
            evhttp_add_header(out_headers, "WWW-Authenticate", "Basic realm=\"jsonrpc\"");
            evhttp_send_reply(req, 401, "Unauthorized", nullptr);
            return;
        }
        evbuffer* in = evhttp_request_get_input_buffer(req);
        std::string body(evbuffer_get_length(in), '\0');
        evbuffer_copyout(in, body.data(), body.size());
        {
            std::lock_guard<std::mutex> lock(self->queue_mutex);
            if (self->queue.size() < self->config.work_queue && !self->stopping) {
                self->queue.emplace_back(req, std::move(body));
                self->queue_cv.notify_one();
                return;
            }
        }
        // bitcoind's answer when every worker is busy and the queue is full.
        evhttp_send_reply(req, 503, "Work queue depth exceeded", nullptr);
    }
};

HTTPRPCServer::HTTPRPCServer(NodeContext& node, const RPCTable& table, HTTPRPCConfig config)
    : m_impl(std::make_unique<Impl>(node, table, std::move(config)))
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
    // As bitcoind: headers are small, and an idle or slow connection is closed.
    evhttp_set_max_headers_size(m_impl->http, 8192);
    evhttp_set_timeout(m_impl->http, 30);
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
    for (size_t i = 0; i < m_impl->config.threads; ++i)
        m_impl->workers.emplace_back([impl = m_impl.get()] { impl->Work(); });
    LogPrint("RPC server listening on " + m_impl->config.bind + ":" + std::to_string(m_impl->config.port));
}

void HTTPRPCServer::Stop()
{
    if (!m_impl || !m_impl->base) return;
    {
        std::lock_guard<std::mutex> lock(m_impl->queue_mutex);
        m_impl->stopping = true;
    }
    // Workers finish the calls they hold and the queued ones; the loop then
    // runs a moment longer to send their replies.
    m_impl->queue_cv.notify_all();
    for (auto& w : m_impl->workers)
        w.join();
    m_impl->workers.clear();
    const timeval flush{0, 100000};
    event_base_loopexit(m_impl->base, &flush);
    if (m_impl->thread.joinable()) m_impl->thread.join();
    evhttp_free(m_impl->http);
    event_base_free(m_impl->base);
    m_impl->base = nullptr;
    m_impl->http = nullptr;
}
