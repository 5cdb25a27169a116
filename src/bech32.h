// bech32m (BIP 350) for addresses: HRP + 20-byte key hash.
#ifndef DEFI_BECH32_H
#define DEFI_BECH32_H

#include <key.h>

#include <optional>
#include <string>

std::string EncodeAddress(const std::string& hrp, const KeyHash& hash);
// The key hash of a checksummed bech32m address with prefix `hrp`, or nullopt.
std::optional<KeyHash> DecodeAddress(const std::string& address, const std::string& hrp);

#endif // DEFI_BECH32_H
