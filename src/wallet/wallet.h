// The node's wallet: keys kept in <datadir>/wallet.json, written atomically,
// surviving restarts. Balances come from the chain's account state.
#ifndef DEFI_WALLET_WALLET_H
#define DEFI_WALLET_WALLET_H

#include <key.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

class CWallet {
public:
    // Loads the wallet file, or starts an empty one.
    explicit CWallet(const std::string& path);

    // A new key; returns it after it is on disk.
    CKey NewKey();
    std::optional<CKey> KeyFor(const KeyHash& hash) const;
    std::vector<KeyHash> KeyHashes() const;

private:
    void Save() const;
    std::string m_path;
    mutable std::mutex m_mutex;
    std::map<KeyHash, CKey> m_keys;
};

#endif // DEFI_WALLET_WALLET_H
