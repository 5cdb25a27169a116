#include <banman.h>

#include <protocol.h>

#include <algorithm>
#include <util/file.h>
#include <util/json.h>
#include <util/logging.h>

namespace {

constexpr size_t MAX_BANLIST_FILE = 64 << 20;

} // namespace

BanMan::BanMan(std::filesystem::path file) : m_file(std::move(file)) {}

std::optional<std::string> BanMan::NormalizeIP(const std::string& text)
{
    const auto ip = p2p::NetAddress::ParseIP(text);
    if (!ip) return std::nullopt;
    p2p::NetAddress a;
    a.ip = *ip;
    return a.ToStringIP();
}

namespace {
// The address and prefix length of an "ip" or "ip/bits" text, the prefix
// counted on the IPv4-mapped IPv6 form.
std::optional<std::pair<p2p::IPv6Bytes, int>> ParseSubnet(const std::string& text)
{
    const auto slash = text.find('/');
    const auto ip = p2p::NetAddress::ParseIP(text.substr(0, slash));
    if (!ip) return std::nullopt;
    p2p::NetAddress a;
    a.ip = *ip;
    const bool v4 = a.IsIPv4();
    int bits = 128;
    if (slash != std::string::npos) {
        const std::string len = text.substr(slash + 1);
        if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos)
            return std::nullopt;
        const int n = std::stoi(len);
        if (n > (v4 ? 32 : 128)) return std::nullopt;
        bits = v4 ? 96 + n : n;
    }
    return std::make_pair(*ip, bits);
}

bool SamePrefix(const p2p::IPv6Bytes& a, const p2p::IPv6Bytes& b, int bits)
{
    for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
        const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
        if ((a[i] & mask) != (b[i] & mask)) return false;
    }
    return true;
}
} // namespace

std::optional<std::string> BanMan::NormalizeSubnet(const std::string& text)
{
    const auto parsed = ParseSubnet(text);
    if (!parsed) return std::nullopt;
    auto [ip, bits] = *parsed;
    for (int i = 0; i < 16; ++i) {
        const int keep = std::clamp(bits - 8 * i, 0, 8);
        ip[i] &= static_cast<uint8_t>(0xff << (8 - keep));
    }
    p2p::NetAddress a;
    a.ip = ip;
    if (bits == 128) return a.ToStringIP();
    return a.ToStringIP() + "/" + std::to_string(a.IsIPv4() ? bits - 96 : bits);
}

bool BanMan::Covers(const std::string& subnet, const std::string& ip)
{
    if (subnet == ip) return true;
    if (subnet.find('/') == std::string::npos) return false;
    const auto net = ParseSubnet(subnet);
    const auto host = p2p::NetAddress::ParseIP(ip);
    return net && host && SamePrefix(net->first, *host, net->second);
}

bool BanMan::Load(int64_t now, std::string& error)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_banned.clear();
    if (m_file.empty()) return true;
    try {
        const auto text = ReadSmallFile(m_file, MAX_BANLIST_FILE);
        if (!text) return true;
        const json doc = ParseJSON(*text);
        if (!doc.is_object() || !doc.contains("banned") || !doc["banned"].is_array())
            throw std::runtime_error("no \"banned\" list");
        std::map<std::string, BanEntry> loaded;
        for (const auto& e : doc["banned"]) {
            if (!e.is_object() || !e.contains("address") || !e["address"].is_string() || !e.contains("created") ||
                !e["created"].is_number_integer() || !e.contains("until") || !e["until"].is_number_integer())
                throw std::runtime_error("an entry lacks address, created or until: " + QuoteForError(e));
            const auto ip = NormalizeSubnet(e["address"].get<std::string>());
            if (!ip) throw std::runtime_error("not an IP address or subnet: " + QuoteForError(e["address"]));
            BanEntry b;
            b.created = e["created"].get<int64_t>();
            b.until = e["until"].get<int64_t>();
            if (e.contains("reason") && e["reason"].is_string()) b.reason = e["reason"].get<std::string>();
            loaded[*ip] = b;
        }
        m_banned = std::move(loaded);
    } catch (const std::exception& e) {
        const std::filesystem::path bad = m_file.string() + ".bad";
        std::error_code ec;
        std::filesystem::rename(m_file, bad, ec);
        error = m_file.string() + " is not a ban list (" + e.what() + "); moved to " + bad.string() +
                ", starting with no bans";
        m_banned.clear();
        return false;
    }
    if (SweepLocked(now)) SaveLocked();
    return true;
}

void BanMan::Ban(const std::string& ip, int64_t now, int64_t until, const std::string& reason)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    auto& e = m_banned[ip];
    if (e.until > now && e.until >= until) return; // already banned for longer
    e.created = now;
    e.until = until;
    e.reason = reason;
    SaveLocked();
}

bool BanMan::Unban(const std::string& ip)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_banned.erase(ip) == 0) return false;
    SaveLocked();
    return true;
}

bool BanMan::IsBanned(const std::string& ip, int64_t now) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (const auto it = m_banned.find(ip); it != m_banned.end() && now < it->second.until) return true;
    for (const auto& [key, e] : m_banned) {
        if (now < e.until && Covers(key, ip)) return true;
    }
    return false;
}

void BanMan::Clear()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_banned.clear();
    SaveLocked();
}

std::map<std::string, BanEntry> BanMan::List(int64_t now)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (SweepLocked(now)) SaveLocked();
    return m_banned;
}

bool BanMan::SweepLocked(int64_t now)
{
    bool changed = false;
    for (auto it = m_banned.begin(); it != m_banned.end();) {
        if (it->second.until <= now) {
            it = m_banned.erase(it);
            changed = true;
        } else {
            ++it;
        }
    }
    return changed;
}

void BanMan::SaveLocked()
{
    if (m_file.empty()) return;
    json list = json::array();
    for (const auto& [ip, e] : m_banned) {
        list.push_back({{"address", ip}, {"created", e.created}, {"until", e.until}, {"reason", e.reason}});
    }
    const json doc = {{"version", 1}, {"banned", list}};
    std::string error;
    if (!WriteFileAtomic(m_file, WriteJSON(doc, 1) + "\n", error)) LogPrint("Error: ban list not saved: " + error);
}
