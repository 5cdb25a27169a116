// The address book: peers' addresses learnt from `addr` messages and from
// outbound connections that completed the handshake. It answers `getaddr`
// and picks addresses for automatic outbound connections. Kept in
// <datadir>/peers.json (written atomically at shutdown and every 15 minutes).
#ifndef DEFI_ADDRMAN_H
#define DEFI_ADDRMAN_H

#include <protocol.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

struct AddrInfo {
    p2p::NetAddress addr;
    uint32_t time{0};        // last seen active, as announced (Unix seconds)
    int64_t last_try{0};     // our last connection attempt
    int64_t last_success{0}; // our last completed handshake with it
    int attempts{0};         // failed attempts since the last success
};

class AddrMan {
public:
    // Most addresses kept; past it a random entry makes room for a new one.
    static constexpr size_t MAX_ENTRIES = 10000;
    // An address failing this many attempts in a row, with no success in the
    // last week, is forgotten.
    static constexpr int MAX_FAILURES = 10;

    // `file` empty: kept in memory only. With `only_routable` (main and
    // testnet), announced addresses that are not publicly routable (loopback,
    // private, link-local, documentation ranges) are not kept, so a stranger
    // cannot point the node at services on its own network.
    explicit AddrMan(std::filesystem::path file = {}, bool only_routable = false);

    // Reads the file (missing: empty). A file that is not an address book is
    // moved aside to <file>.bad; false with `error` saying so.
    bool Load(std::string& error);
    bool Save(std::string& error) const;

    // Whether `a` may be kept at all: a port, a unicast address (not
    // unspecified, multicast or broadcast).
    static bool IsUsable(const p2p::NetAddress& a);
    static bool IsRoutable(const p2p::NetAddress& a);

    // Adds or refreshes announced addresses (usable ones; routable ones only
    // with `only_routable`); a time more than 10 minutes in
    // the future is taken as 5 days ago. Returns how many were new.
    size_t Add(const std::vector<p2p::TimedAddress>& addrs, int64_t now);
    // A handshake with `a` completed (adds it if new).
    void Good(const p2p::NetAddress& a, int64_t now);
    // A connection attempt to `a` started; failing ones are retried after a
    // delay doubling per failure (1 minute to 1 hour).
    void Attempt(const p2p::NetAddress& a, int64_t now);
    void Remove(const p2p::NetAddress& a);

    // A random address due for an attempt for which `usable` holds.
    std::optional<p2p::NetAddress> Select(int64_t now, const std::function<bool(const p2p::NetAddress&)>& usable);
    // Up to `max` random entries, for a `getaddr` answer.
    std::vector<p2p::TimedAddress> GetAddr(size_t max);
    std::optional<AddrInfo> Find(const p2p::NetAddress& a) const;
    size_t Size() const;

private:
    using Key = std::pair<p2p::IPv6Bytes, uint16_t>;
    static Key KeyOf(const p2p::NetAddress& a) { return {a.ip, a.port}; }
    AddrInfo* FindLocked(const p2p::NetAddress& a);
    void InsertLocked(const AddrInfo& info);
    void RemoveLocked(const Key& key);

    std::filesystem::path m_file;
    const bool m_only_routable;
    mutable std::mutex m_mutex;
    std::vector<AddrInfo> m_entries; // random access for selection and eviction
    std::map<Key, size_t> m_index;   // into m_entries
    std::mt19937_64 m_rng{std::random_device{}()};
};

#endif // DEFI_ADDRMAN_H
