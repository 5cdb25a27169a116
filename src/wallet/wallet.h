// The node's wallet: keys kept in <datadir>/wallet.json, surviving restarts
// and crashes. Balances come from the chain's account state.
//
// The file holds one JSON object per line, {"secret":"<hex>"}; a new key is
// appended and synced before it is returned, so making a key costs one small
// write whatever the wallet's size. A line cut short by a crash was never
// returned to anyone and is dropped on load. A file in the first format (one
// document, {"keys":[...]}) is rewritten in this one when loaded.
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
    // Loads the wallet file, or starts an empty one; throws if it is corrupt.
    explicit CWallet(const std::string& path);

    // A new key; returns it after it is on disk.
    CKey NewKey();
    std::optional<CKey> KeyFor(const KeyHash& hash) const;
    std::vector<KeyHash> KeyHashes() const;

private:
    void Append(const CKey& key) const;
    void Rewrite() const;
    std::string m_path;
    mutable std::mutex m_mutex;
    std::map<KeyHash, CKey> m_keys;
};

#endif // DEFI_WALLET_WALLET_H
