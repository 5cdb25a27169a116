// The peer RPCs, as bitcoind's: getpeerinfo, getconnectioncount,
// getnetworkinfo, getnettotals, addnode, getaddednodeinfo, disconnectnode,
// setban, listbanned, clearbanned, setnetworkactive, ping.
#include <chainparams.h>
#include <net.h>
#include <node/context.h>
#include <rpc/server.h>
#include <util/time.h>

#include <chrono>
#include <cstdio>

namespace {

CConnman& Connman(const NodeContext& node)
{
    if (!node.connman) throw RPCError(RPC_CLIENT_P2P_DISABLED, "Error: Peer-to-peer functionality missing or disabled");
    return *node.connman;
}

int64_t UnixMillis()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Milliseconds as seconds with 6 decimals (bitcoind's pingtime), exactly.
json SecondsFromMillis(double ms)
{
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.6f", ms / 1000.0);
    return RawNumber(buf);
}

std::string ServicesHex(uint64_t services)
{
    static const char* hex = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, services >>= 4)
        out[i] = hex[services & 15];
    return out;
}

// A host:port argument for addnode add/onetry.
void CheckNodeArg(const json& v, const NodeContext& node)
{
    std::string host;
    uint16_t port = 0;
    if (!SplitHostPort(v.get<std::string>(), node.params ? node.params->default_p2p_port : 1, host, port)) {
        throw RPCError(RPC_INVALID_PARAMETER, "node must be host or host:port (port 1 to 65535): " + QuoteForError(v));
    }
}

} // namespace

void RegisterNetRPCCommands(RPCTable& t)
{
    t.Register({"Network",
                "getpeerinfo",
                "Returns data about each connected peer.",
                {},
                "[{id, addr, inbound, connection_type, version, subver, startingheight, synced_headers, "
                "synced_blocks, inflight, bytessent, bytesrecv, conntime, lastsend, lastrecv, pingtime, minping}]",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    json out = json::array();
                    for (const auto& s : Connman(node).GetStats()) {
                        json p = {{"id", s.id},
                                  {"addr", s.addr},
                                  {"inbound", s.inbound},
                                  {"connection_type", s.inbound  ? "inbound"
                                                      : s.manual ? "manual"
                                                                 : "outbound"},
                                  {"version", s.version},
                                  {"subver", s.subver},
                                  {"startingheight", s.starting_height},
                                  {"synced_headers", s.synced_headers},
                                  {"synced_blocks", s.synced_blocks},
                                  {"inflight", s.inflight},
                                  {"bytessent", s.bytes_sent},
                                  {"bytesrecv", s.bytes_recv},
                                  {"conntime", s.conntime},
                                  {"lastsend", s.last_send},
                                  {"lastrecv", s.last_recv}};
                        if (s.ping_ms >= 0) p["pingtime"] = SecondsFromMillis(s.ping_ms);
                        if (s.min_ping_ms >= 0) p["minping"] = SecondsFromMillis(s.min_ping_ms);
                        out.push_back(std::move(p));
                    }
                    return out;
                }});
    t.Register({"Network",
                "getconnectioncount",
                "Returns the number of connections to other nodes.",
                {},
                "n (numeric)",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    return Connman(node).GetNodeCount(CConnman::Direction::All);
                }});
    t.Register({"Network",
                "getnetworkinfo",
                "Returns the state of the P2P network.",
                {},
                "{version, subversion, protocolversion, localservices, localservicesnames, networkactive, "
                "connections, connections_in, connections_out, listening, port}",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    CConnman& c = Connman(node);
                    return {{"version", c.ClientVersion()},
                            {"subversion", c.GetUserAgent()},
                            {"protocolversion", p2p::PROTOCOL_VERSION},
                            {"localservices", ServicesHex(c.GetLocalServices())},
                            {"localservicesnames", json::array({"NETWORK"})},
                            {"networkactive", c.GetNetworkActive()},
                            {"connections", c.GetNodeCount(CConnman::Direction::All)},
                            {"connections_in", c.GetNodeCount(CConnman::Direction::In)},
                            {"connections_out", c.GetNodeCount(CConnman::Direction::Out)},
                            {"listening", c.GetListenPort() != 0},
                            {"port", c.GetListenPort()}};
                }});
    t.Register({"Network",
                "getnettotals",
                "Returns the bytes sent and received over the P2P network since the node started.",
                {},
                "{totalbytesrecv, totalbytessent, timemillis}",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    CConnman& c = Connman(node);
                    return {{"totalbytesrecv", c.GetTotalBytesRecv()},
                            {"totalbytessent", c.GetTotalBytesSent()},
                            {"timemillis", UnixMillis()}};
                }});
    t.Register({"Network",
                "addnode",
                "Adds a node to keep connected to (reconnected when dropped), removes one, or tries a connection "
                "once.",
                {{"node", RPCArgType::Str, true, "host or host:port", 0, 0, 256},
                 {"command", RPCArgType::Str, true, "add, remove or onetry", 0, 0, 16}},
                "null",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    CConnman& c = Connman(node);
                    const std::string target = a[0].get<std::string>();
                    const std::string command = a[1].get<std::string>();
                    if (command == "add") {
                        CheckNodeArg(a[0], node);
                        if (!c.AddNode(target))
                            throw RPCError(RPC_CLIENT_NODE_ALREADY_ADDED, "Error: Node already added");
                    } else if (command == "remove") {
                        if (!c.RemoveAddedNode(target))
                            throw RPCError(RPC_CLIENT_NODE_NOT_ADDED, "Error: Node could not be removed. It has not "
                                                                      "been added previously.");
                    } else if (command == "onetry") {
                        CheckNodeArg(a[0], node);
                        c.OneTry(target);
                    } else {
                        throw RPCError(RPC_INVALID_PARAMETER,
                                       "command must be add, remove or onetry: " + QuoteForError(a[1]));
                    }
                    return nullptr;
                }});
    t.Register(
        {"Network",
         "getaddednodeinfo",
         "Returns the nodes added with addnode or -addnode, and whether each is connected.",
         {{"node", RPCArgType::Str, false, "Only this added node", 0, 0, 256}},
         "[{addednode, connected, addresses: [{address, connected}]}]",
         [](NodeContext& node, const std::vector<json>& a) -> json {
             json out = json::array();
             bool found = false;
             for (const auto& info : Connman(node).GetAddedNodeInfo()) {
                 if (!a[0].is_null() && info.added != a[0].get<std::string>()) continue;
                 found = true;
                 json addresses = json::array();
                 if (info.connected) addresses.push_back({{"address", info.address}, {"connected", "outbound"}});
                 out.push_back({{"addednode", info.added}, {"connected", info.connected}, {"addresses", addresses}});
             }
             if (!a[0].is_null() && !found)
                 throw RPCError(RPC_CLIENT_NODE_NOT_ADDED, "Error: Node has not been added.");
             return out;
         }});
    t.Register({"Network",
                "disconnectnode",
                "Disconnects a peer, given by its address (as getpeerinfo shows it) or by its id; give one.",
                {{"address", RPCArgType::Str, false, "The peer's address", 0, 0, 256},
                 {"nodeid", RPCArgType::Int, false, "The peer's id (getpeerinfo)", 0, INT64_MAX}},
                "null",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    CConnman& c = Connman(node);
                    const bool by_address = !a[0].is_null() && !a[0].get<std::string>().empty();
                    if (by_address == !a[1].is_null()) {
                        throw RPCError(RPC_INVALID_PARAMS, "Give exactly one of address and nodeid");
                    }
                    const bool found =
                        by_address ? c.DisconnectNode(a[0].get<std::string>()) : c.DisconnectNode(a[1].get<int64_t>());
                    if (!found) throw RPCError(RPC_CLIENT_NODE_NOT_CONNECTED, "Node not found in connected nodes");
                    return nullptr;
                }});
    t.Register({"Network",
                "setban",
                "Bans an IP address or subnet (refusing its connections and disconnecting its peers) or lifts a ban.",
                {{"subnet", RPCArgType::Str, true, "An IP address (IPv4 or IPv6), or a subnet as ip/bits (10.1.0.0/16)",
                  0, 0, 64},
                 {"command", RPCArgType::Str, true, "add or remove", 0, 0, 16},
                 {"bantime", RPCArgType::Int, false,
                  "Seconds the ban lasts (0 or absent: -bantime), or with absolute the Unix time it ends", 0,
                  int64_t{1} << 40},
                 {"absolute", RPCArgType::Bool, false, "bantime is a Unix time (default false)"}},
                "null",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    CConnman& c = Connman(node);
                    const auto ip = BanMan::NormalizeSubnet(a[0].get<std::string>());
                    if (!ip) {
                        throw RPCError(RPC_CLIENT_INVALID_IP_OR_SUBNET, "Error: Invalid IP/Subnet: subnet " +
                                                                            QuoteForError(a[0]) +
                                                                            " is not an IP address or ip/bits");
                    }
                    const std::string command = a[1].get<std::string>();
                    if (command == "add") {
                        if (c.IsBanned(*ip))
                            throw RPCError(RPC_CLIENT_NODE_ALREADY_ADDED, "Error: IP/Subnet already banned");
                        const int64_t now = GetTime();
                        const int64_t bantime = a[2].is_null() ? 0 : a[2].get<int64_t>();
                        const bool absolute = !a[3].is_null() && a[3].get<bool>();
                        int64_t until = now + (bantime > 0 ? bantime : c.BanTime());
                        if (absolute) {
                            if (bantime <= now)
                                throw RPCError(RPC_INVALID_PARAMETER, "bantime " + std::to_string(bantime) +
                                                                          " with absolute is not in the future");
                            until = bantime;
                        }
                        c.Ban(*ip, until, "manually added");
                    } else if (command == "remove") {
                        if (!c.Unban(*ip)) {
                            throw RPCError(RPC_CLIENT_INVALID_IP_OR_SUBNET,
                                           "Error: Unban failed. Requested address/subnet was not previously "
                                           "manually banned.");
                        }
                    } else {
                        throw RPCError(RPC_INVALID_PARAMETER, "command must be add or remove: " + QuoteForError(a[1]));
                    }
                    return nullptr;
                }});
    t.Register({"Network",
                "listbanned",
                "Lists the banned IP addresses.",
                {},
                "[{address, ban_created, banned_until, ban_duration, time_remaining, reason}]",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    const int64_t now = GetTime();
                    json out = json::array();
                    for (const auto& [ip, e] : Connman(node).ListBanned()) {
                        out.push_back({{"address", ip},
                                       {"ban_created", e.created},
                                       {"banned_until", e.until},
                                       {"ban_duration", e.until - e.created},
                                       {"time_remaining", e.until - now},
                                       {"reason", e.reason}});
                    }
                    return out;
                }});
    t.Register({"Network",
                "clearbanned",
                "Lifts every ban.",
                {},
                "null",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    Connman(node).ClearBanned();
                    return nullptr;
                }});
    t.Register({"Network",
                "setnetworkactive",
                "Turns all P2P network activity on or off (off disconnects every peer).",
                {{"state", RPCArgType::Bool, true, "true to turn it on, false to turn it off"}},
                "true|false (the state now)",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    CConnman& c = Connman(node);
                    c.SetNetworkActive(a[0].get<bool>());
                    return c.GetNetworkActive();
                }});
    t.Register({"Network",
                "ping",
                "Sends a ping to every peer; getpeerinfo shows the round trip in pingtime.",
                {},
                "null",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    Connman(node).PingAll();
                    return nullptr;
                }});
}
