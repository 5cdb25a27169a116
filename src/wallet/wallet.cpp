#include <wallet/wallet.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

CWallet::CWallet(const std::string& path) : m_path(path)
{
    std::ifstream in(path);
    if (!in) return;
    nlohmann::json doc;
    try {
        in >> doc;
        for (const auto& k : doc.at("keys")) {
            const auto secret = ParseHash(k.at("secret").get<std::string>());
            const auto key = secret ? CKey::FromSecret(*secret) : std::nullopt;
            if (!key) throw std::runtime_error("bad key");
            m_keys.emplace(HashPubKey(key->GetPubKey()), *key);
        }
    } catch (const std::exception& e) {
        throw std::runtime_error("wallet file " + path + " is corrupt: " + e.what());
    }
}

void CWallet::Save() const
{
    nlohmann::json doc;
    doc["keys"] = nlohmann::json::array();
    for (const auto& [hash, key] : m_keys)
        doc["keys"].push_back({{"secret", HexStr(key.secret())}});
    const std::string tmp = m_path + ".tmp";
    const std::string text = doc.dump(1);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) throw std::runtime_error("cannot write wallet " + tmp);
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    // rename is atomic: a crash leaves the old or the new file, never half of one.
    if (!ok || std::rename(tmp.c_str(), m_path.c_str()) != 0) throw std::runtime_error("cannot write wallet " + m_path);
}

CKey CWallet::NewKey()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const CKey key = CKey::Generate();
    m_keys.emplace(HashPubKey(key.GetPubKey()), key);
    Save();
    return key;
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
