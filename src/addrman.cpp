#include <addrman.h>

#include <util/file.h>
#include <util/json.h>

#include <algorithm>

namespace {

constexpr size_t MAX_PEERS_FILE = 64 << 20;
constexpr int64_t FUTURE_SLACK = 10 * 60;
constexpr int64_t FIVE_DAYS = 5 * 24 * 3600;
constexpr int64_t WEEK = 7 * 24 * 3600;

int64_t RetryDelay(int attempts)
{
    if (attempts <= 0) return 0;
    return std::min<int64_t>(int64_t{60} << std::min(attempts - 1, 6), 3600);
}

} // namespace

AddrMan::AddrMan(std::filesystem::path file, bool only_routable)
    : m_file(std::move(file)), m_only_routable(only_routable)
{
}

bool AddrMan::IsUsable(const p2p::NetAddress& a)
{
    if (a.port == 0) return false;
    if (a.IsIPv4()) {
        const auto v4 = a.GetIPv4();
        if (v4[0] == 0) return false;   // 0.0.0.0/8
        if (v4[0] >= 224) return false; // multicast, reserved, broadcast
        return true;
    }
    if (std::all_of(a.ip.begin(), a.ip.end(), [](uint8_t b) { return b == 0; })) return false; // ::
    if (a.ip[0] == 0xff) return false;                                                         // multicast
    return true;
}

bool AddrMan::IsRoutable(const p2p::NetAddress& a)
{
    if (!IsUsable(a)) return false;
    if (a.IsIPv4()) {
        const auto v = a.GetIPv4();
        return !(v[0] == 127 || v[0] == 10 || (v[0] == 172 && (v[1] & 0xf0) == 16) || (v[0] == 192 && v[1] == 168) ||
                 (v[0] == 169 && v[1] == 254) || (v[0] == 100 && (v[1] & 0xc0) == 64) ||
                 (v[0] == 198 && (v[1] & 0xfe) == 18) || (v[0] == 192 && v[1] == 0 && v[2] == 2) ||
                 (v[0] == 198 && v[1] == 51 && v[2] == 100) || (v[0] == 203 && v[1] == 0 && v[2] == 113));
    }
    const auto& ip = a.ip;
    const bool loopback = std::all_of(ip.begin(), ip.end() - 1, [](uint8_t b) { return b == 0; }) && ip[15] == 1;
    const bool unique_local = (ip[0] & 0xfe) == 0xfc;                                            // fc00::/7
    const bool link_local = ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80;                             // fe80::/10
    const bool documentation = ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0x0d && ip[3] == 0xb8; // 2001:db8::/32
    return !(loopback || unique_local || link_local || documentation);
}

AddrInfo* AddrMan::FindLocked(const p2p::NetAddress& a)
{
    const auto it = m_index.find(KeyOf(a));
    return it == m_index.end() ? nullptr : &m_entries[it->second];
}

void AddrMan::InsertLocked(const AddrInfo& info)
{
    if (m_entries.size() >= MAX_ENTRIES) {
        std::uniform_int_distribution<size_t> pick(0, m_entries.size() - 1);
        RemoveLocked(KeyOf(m_entries[pick(m_rng)].addr));
    }
    m_index[KeyOf(info.addr)] = m_entries.size();
    m_entries.push_back(info);
}

void AddrMan::RemoveLocked(const Key& key)
{
    const auto it = m_index.find(key);
    if (it == m_index.end()) return;
    const size_t pos = it->second;
    m_index.erase(it);
    if (pos != m_entries.size() - 1) {
        m_entries[pos] = std::move(m_entries.back());
        m_index[KeyOf(m_entries[pos].addr)] = pos;
    }
    m_entries.pop_back();
}

size_t AddrMan::Add(const std::vector<p2p::TimedAddress>& addrs, int64_t now)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    size_t added = 0;
    for (const auto& t : addrs) {
        if (m_only_routable ? !IsRoutable(t.addr) : !IsUsable(t.addr)) continue;
        int64_t time = t.time;
        if (time > now + FUTURE_SLACK) time = std::max<int64_t>(now - FIVE_DAYS, 0);
        if (AddrInfo* e = FindLocked(t.addr)) {
            e->time = std::max<uint32_t>(e->time, static_cast<uint32_t>(time));
            e->addr.services |= t.addr.services;
            continue;
        }
        AddrInfo info;
        info.addr = t.addr;
        info.time = static_cast<uint32_t>(time);
        InsertLocked(info);
        ++added;
    }
    return added;
}

void AddrMan::Good(const p2p::NetAddress& a, int64_t now)
{
    if (!IsUsable(a)) return;
    std::lock_guard<std::mutex> lock(m_mutex);
    AddrInfo* e = FindLocked(a);
    if (!e) {
        AddrInfo info;
        info.addr = a;
        InsertLocked(info);
        e = FindLocked(a);
    }
    e->addr.services = a.services ? a.services : e->addr.services;
    e->time = static_cast<uint32_t>(now);
    e->last_success = now;
    e->last_try = now;
    e->attempts = 0;
}

void AddrMan::Attempt(const p2p::NetAddress& a, int64_t now)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    AddrInfo* e = FindLocked(a);
    if (!e) return;
    e->last_try = now;
    ++e->attempts;
    if (e->attempts >= MAX_FAILURES && now - e->last_success > WEEK) RemoveLocked(KeyOf(a));
}

void AddrMan::Remove(const p2p::NetAddress& a)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    RemoveLocked(KeyOf(a));
}

std::optional<p2p::NetAddress> AddrMan::Select(int64_t now, const std::function<bool(const p2p::NetAddress&)>& usable)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    std::vector<size_t> due;
    for (size_t i = 0; i < m_entries.size(); ++i) {
        const AddrInfo& e = m_entries[i];
        if (now < e.last_try + RetryDelay(e.attempts)) continue;
        if (usable && !usable(e.addr)) continue;
        due.push_back(i);
    }
    if (due.empty()) return std::nullopt;
    std::uniform_int_distribution<size_t> pick(0, due.size() - 1);
    return m_entries[due[pick(m_rng)]].addr;
}

std::vector<p2p::TimedAddress> AddrMan::GetAddr(size_t max)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    std::vector<size_t> order(m_entries.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::shuffle(order.begin(), order.end(), m_rng);
    if (order.size() > max) order.resize(max);
    std::vector<p2p::TimedAddress> out;
    out.reserve(order.size());
    for (size_t i : order)
        out.push_back({m_entries[i].time, m_entries[i].addr});
    return out;
}

std::optional<AddrInfo> AddrMan::Find(const p2p::NetAddress& a) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_index.find(KeyOf(a));
    if (it == m_index.end()) return std::nullopt;
    return m_entries[it->second];
}

size_t AddrMan::Size() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_entries.size();
}

bool AddrMan::Save(std::string& error) const
{
    if (m_file.empty()) return true;
    json list = json::array();
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (const auto& e : m_entries) {
            list.push_back({{"address", e.addr.ToString()},
                            {"services", e.addr.services},
                            {"time", e.time},
                            {"last_try", e.last_try},
                            {"last_success", e.last_success},
                            {"attempts", e.attempts}});
        }
    }
    const json doc = {{"version", 1}, {"addresses", list}};
    return WriteFileAtomic(m_file, WriteJSON(doc, 1) + "\n", error);
}

// "1.2.3.4:8555" or "[2001:db8::1]:8555", numeric only.
static std::optional<p2p::NetAddress> ParseAddrPort(const std::string& text)
{
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 >= text.size() || colon + 6 < text.size()) return std::nullopt;
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const auto ip = p2p::NetAddress::ParseIP(host);
    if (!ip) return std::nullopt;
    uint32_t port = 0;
    for (size_t i = colon + 1; i < text.size(); ++i) {
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
        port = port * 10 + static_cast<uint32_t>(text[i] - '0');
    }
    if (port == 0 || port > 65535) return std::nullopt;
    p2p::NetAddress a;
    a.ip = *ip;
    a.port = static_cast<uint16_t>(port);
    return a;
}

bool AddrMan::Load(std::string& error)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_entries.clear();
    m_index.clear();
    if (m_file.empty()) return true;
    try {
        const auto text = ReadSmallFile(m_file, MAX_PEERS_FILE);
        if (!text) return true;
        const json doc = ParseJSON(*text);
        if (!doc.is_object() || !doc.contains("addresses") || !doc["addresses"].is_array())
            throw std::runtime_error("no \"addresses\" list");
        for (const auto& e : doc["addresses"]) {
            const auto int_field = [&](const char* name) -> int64_t {
                if (!e.is_object() || !e.contains(name) || !e[name].is_number_integer())
                    throw std::runtime_error(std::string("an entry lacks ") + name + ": " + QuoteForError(e));
                return e[name].get<int64_t>();
            };
            if (!e.is_object() || !e.contains("address") || !e["address"].is_string())
                throw std::runtime_error("an entry lacks address: " + QuoteForError(e));
            const auto addr = ParseAddrPort(e["address"].get<std::string>());
            if (!addr) throw std::runtime_error("not an address: " + QuoteForError(e["address"]));
            AddrInfo info;
            info.addr = *addr;
            if (!e.contains("services") || !e["services"].is_number_integer() ||
                (!e["services"].is_number_unsigned() && e["services"].get<int64_t>() < 0))
                throw std::runtime_error("an entry lacks services: " + QuoteForError(e));
            info.addr.services = e["services"].get<uint64_t>();
            info.time = static_cast<uint32_t>(std::clamp<int64_t>(int_field("time"), 0, UINT32_MAX));
            info.last_try = int_field("last_try");
            info.last_success = int_field("last_success");
            info.attempts = static_cast<int>(std::clamp<int64_t>(int_field("attempts"), 0, MAX_FAILURES));
            if (!IsUsable(info.addr) || m_index.count(KeyOf(info.addr)) || m_entries.size() >= MAX_ENTRIES) continue;
            m_index[KeyOf(info.addr)] = m_entries.size();
            m_entries.push_back(info);
        }
    } catch (const std::exception& e) {
        const std::filesystem::path bad = m_file.string() + ".bad";
        std::error_code ec;
        std::filesystem::rename(m_file, bad, ec);
        error = m_file.string() + " is not an address book (" + e.what() + "); moved to " + bad.string() +
                ", starting empty";
        m_entries.clear();
        m_index.clear();
        return false;
    }
    return true;
}
