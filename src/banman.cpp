#include <banman.h>

#include <protocol.h>
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
            const auto ip = NormalizeIP(e["address"].get<std::string>());
            if (!ip) throw std::runtime_error("not an IP address: " + QuoteForError(e["address"]));
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
    const auto it = m_banned.find(ip);
    return it != m_banned.end() && now < it->second.until;
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
