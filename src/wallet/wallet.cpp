#include <wallet/wallet.h>

#include <metachain/bridge.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <unistd.h>

namespace {
std::string Line(const CKey& key) { return nlohmann::json{{"secret", HexStr(key.secret())}}.dump() + "\n"; }

std::string MetaLine(const CKey& key, const std::string& address, bool miner)
{
    nlohmann::json record{{"secret", HexStr(key.secret())}, {"meta", address}};
    if (miner) record["miner"] = true;
    return record.dump() + "\n";
}

CKey KeyFromRecord(const nlohmann::json& record)
{
    const auto secret = ParseHash(record.at("secret").get<std::string>());
    const auto key = secret ? CKey::FromSecret(*secret) : std::nullopt;
    if (!key) throw std::runtime_error("bad key");
    return *key;
}

// Writes all of `text` to `fd` and syncs it.
bool WriteSynced(int fd, const std::string& text)
{
    for (size_t done = 0; done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return ::fdatasync(fd) == 0;
}

// Makes a new directory entry durable.
void SyncDir(const std::string& file)
{
    const auto dir = std::filesystem::path(file).parent_path();
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}
} // namespace

CWallet::CWallet(const std::string& path) : m_path(path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
        const auto whole = nlohmann::json::parse(text, nullptr, false);
        if (whole.is_object() && whole.contains("keys")) {
            for (const auto& k : whole.at("keys"))
                Add(KeyFromRecord(k), std::nullopt);
            Rewrite();
            return;
        }
        Load(text);
    } catch (const std::exception& e) {
        throw std::runtime_error("wallet file " + path + " is corrupt: " + e.what());
    }
    // A last line without its newline was cut short by a crash before its key
    // was handed out: drop it, so the next append starts on a line of its own.
    if (text.size() && text.back() != '\n') Rewrite();
}

void CWallet::Load(const std::string& text)
{
    size_t pos = 0;
    for (size_t end; (end = text.find('\n', pos)) != std::string::npos; pos = end + 1) {
        if (end == pos) continue;
        const auto record = nlohmann::json::parse(text.substr(pos, end - pos));
        const CKey key = KeyFromRecord(record);
        if (!record.contains("meta")) {
            Add(key, std::nullopt);
            continue;
        }
        // A meta key: its address is derived again, and must be the one written.
        const std::string written = record.at("meta").get<std::string>();
        MetaKey meta{key, metachain::AddressOfKey(key), false};
        if (metachain::AddressKey(written) != metachain::AddressKey(meta.address)) {
            throw std::runtime_error("meta address " + written + " is not its key's (" + meta.address + ")");
        }
        if (record.contains("miner")) meta.miner = record.at("miner").get<bool>();
        Add(key, meta);
    }
}

void CWallet::Add(const CKey& key, const std::optional<MetaKey>& meta)
{
    if (!meta) {
        m_keys.emplace(HashPubKey(key.GetPubKey()), key);
        return;
    }
    if (m_meta_by_key.emplace(metachain::AddressKey(meta->address), m_meta.size()).second) m_meta.push_back(*meta);
}

void CWallet::Rewrite() const
{
    std::string text;
    for (const auto& [hash, key] : m_keys)
        text += Line(key);
    for (const auto& meta : m_meta)
        text += MetaLine(meta.key, meta.address, meta.miner);
    const std::string tmp = m_path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) throw std::runtime_error("cannot write wallet " + tmp);
    const bool ok = WriteSynced(fd, text);
    ::close(fd);
    // rename is atomic: a crash leaves the old or the new file, never half of one.
    if (!ok || std::rename(tmp.c_str(), m_path.c_str()) != 0) throw std::runtime_error("cannot write wallet " + m_path);
    SyncDir(m_path);
}

void CWallet::Append(const std::string& line) const
{
    const bool existed = std::filesystem::exists(m_path);
    const int fd = ::open(m_path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0) throw std::runtime_error("cannot write wallet " + m_path);
    const bool ok = WriteSynced(fd, line);
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot write wallet " + m_path);
    if (!existed) SyncDir(m_path);
}

CKey CWallet::NewKey()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const CKey key = CKey::Generate();
    Append(Line(key));
    Add(key, std::nullopt);
    return key;
}

std::string CWallet::MakeMetaKey(bool miner)
{
    const CKey key = CKey::Generate();
    const MetaKey meta{key, metachain::AddressOfKey(key), miner};
    Append(MetaLine(key, meta.address, miner));
    Add(key, meta);
    return meta.address;
}

std::string CWallet::NewMetaKey()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return MakeMetaKey(false);
}

std::string CWallet::MinerMetaAddress()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    for (const auto& meta : m_meta) {
        if (meta.miner) return meta.address;
    }
    return MakeMetaKey(true);
}

std::optional<CKey> CWallet::MetaKeyFor(const std::string& address) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_meta_by_key.find(metachain::AddressKey(address));
    if (it == m_meta_by_key.end()) return std::nullopt;
    return m_meta[it->second].key;
}

std::vector<std::string> CWallet::MetaAddresses() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    std::vector<std::string> out;
    for (const auto& meta : m_meta)
        out.push_back(meta.address);
    return out;
}

std::optional<CKey> CWallet::KeyFor(const KeyHash& hash) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_keys.find(hash);
    if (it == m_keys.end()) return std::nullopt;
    return it->second;
}

std::vector<KeyHash> CWallet::KeyHashes() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    std::vector<KeyHash> out;
    for (const auto& [hash, key] : m_keys)
        out.push_back(hash);
    return out;
}
