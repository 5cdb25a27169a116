// Banned peer addresses: a peer that misbehaves (docs/p2p.md, Violations) or
// that the operator bans (setban) is refused at accept until its ban ends.
// Kept in <datadir>/banlist.json, rewritten atomically on every change, so
// bans survive restarts and crashes.
#ifndef DEFI_BANMAN_H
#define DEFI_BANMAN_H

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

struct BanEntry {
    int64_t created{0}; // Unix seconds
    int64_t until{0};   // Unix seconds; banned while now < until
    std::string reason;
};

class BanMan {
public:
    // `file` empty: kept in memory only.
    explicit BanMan(std::filesystem::path file = {});

    // Reads the file (a missing one is an empty list). A file that is not a
    // valid ban list is moved aside to <file>.bad and the list starts empty;
    // false with `error` saying so. Entries already expired are dropped.
    bool Load(int64_t now, std::string& error);

    // The canonical text of an IP address ("1.2.3.4", "2001:db8::1"; an
    // IPv4-mapped IPv6 address is shown as IPv4), nullopt if `text` is not one.
    static std::optional<std::string> NormalizeIP(const std::string& text);
    // An IP address, or a subnet "ip/bits" (bits up to 32 for IPv4, 128 for
    // IPv6), as a ban key: a subnet as its network address ("10.1.0.0/16"),
    // a full-length one as the plain address; nullopt for anything else.
    static std::optional<std::string> NormalizeSubnet(const std::string& text);
    // Whether the ban key `subnet` covers the canonical address `ip`.
    static bool Covers(const std::string& subnet, const std::string& ip);

    // Bans `ip` (a canonical address or subnet) until `until`; a longer
    // existing ban is kept.
    void Ban(const std::string& ip, int64_t now, int64_t until, const std::string& reason);
    // False if `ip` was not banned.
    bool Unban(const std::string& ip);
    // Whether a ban in force covers the canonical address `ip`.
    bool IsBanned(const std::string& ip, int64_t now) const;
    void Clear();
    // The bans still in force (expired ones are dropped).
    std::map<std::string, BanEntry> List(int64_t now);

private:
    void SaveLocked();
    bool SweepLocked(int64_t now);

    std::filesystem::path m_file;
    mutable std::mutex m_mutex;
    std::map<std::string, BanEntry> m_banned;
};

#endif // DEFI_BANMAN_H
