// secp256k1 keys (libsecp256k1): ECDSA signatures, 64-byte compact, low-S.
#ifndef DEFI_KEY_H
#define DEFI_KEY_H

#include <crypto/hash.h>

#include <array>
#include <optional>
#include <vector>

using PubKey = std::array<uint8_t, 33>;
// First 20 bytes of sha256(compressed pubkey): what an address encodes.
using KeyHash = std::array<uint8_t, 20>;

KeyHash HashPubKey(const PubKey& pubkey);

class CKey {
public:
    // A fresh key from the OS's randomness.
    static CKey Generate();
    // A key from 32 secret bytes, or nullopt if they are not a valid key.
    static std::optional<CKey> FromSecret(const std::array<uint8_t, 32>& secret);

    const std::array<uint8_t, 32>& secret() const { return m_secret; }
    PubKey GetPubKey() const;
    std::vector<uint8_t> Sign(const uint256& hash) const;

private:
    std::array<uint8_t, 32> m_secret{};
};

// Checks a compact low-S signature of `hash` by `pubkey`.
bool VerifySignature(const PubKey& pubkey, const uint256& hash, const std::vector<uint8_t>& sig);

#endif // DEFI_KEY_H
