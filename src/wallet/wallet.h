// The node's wallet: keys kept in <datadir>/wallet.json, surviving restarts
// and crashes. Balances come from the chain's account state.
//
// The file holds one JSON object per line: {"secret":"<hex>"} for a native
// key, {"secret":"<hex>","meta":"0x<address>"} for a meta (Ethereum) key, and
// {"secret":"<hex>","meta":"0x<address>","miner":true} for the meta key the
// miner names as its blocks' beneficiary. A new key is appended and synced
// before it is returned, so making a key costs one small write whatever the
// wallet's size. A line cut short by a crash was never returned to anyone and
// is dropped on load. A file in the first format (one document,
// {"keys":[...]}) is rewritten in this one when loaded.
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

    // A new native key; returns it after it is on disk.
    CKey NewKey();
    std::optional<CKey> KeyFor(const KeyHash& hash) const;
    // The native keys' hashes.
    std::vector<KeyHash> KeyHashes() const;

    // A new meta key; returns its 0x address (EIP-55) after it is on disk.
    std::string NewMetaKey();
    // The key of a 0x meta address, in any spelling (case-insensitive).
    std::optional<CKey> MetaKeyFor(const std::string& address) const;
    // The meta addresses (EIP-55), oldest first.
    std::vector<std::string> MetaAddresses() const;
    // The meta address that receives the priority fees of the blocks this
    // node mines: one meta key, made on the first call and kept.
    std::string MinerMetaAddress();

private:
    struct MetaKey {
        CKey key;
        std::string address; // EIP-55
        bool miner{false};
    };
    void Load(const std::string& text);
    void Add(const CKey& key, const std::optional<MetaKey>& meta);
    std::string MakeMetaKey(bool miner);
    void Append(const std::string& line) const;
    void Rewrite() const;
    std::string m_path;
    mutable std::mutex m_mutex;
    std::map<KeyHash, CKey> m_keys;
    std::vector<MetaKey> m_meta;                 // in file order
    std::map<std::string, size_t> m_meta_by_key; // lowercase address -> index in m_meta
};

#endif // DEFI_WALLET_WALLET_H
