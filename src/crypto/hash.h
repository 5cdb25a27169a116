// SHA-256 (OpenSSL) and the 32-byte hash type used for txids and block hashes.
#ifndef DEFI_CRYPTO_HASH_H
#define DEFI_CRYPTO_HASH_H

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

using uint256 = std::array<uint8_t, 32>;

uint256 Sha256(const uint8_t* data, size_t len);
inline uint256 Sha256(const std::vector<uint8_t>& v) { return Sha256(v.data(), v.size()); }
// sha256(sha256(data)), as Bitcoin hashes headers and transactions.
uint256 Sha256d(const std::vector<uint8_t>& v);

std::string HexStr(const uint8_t* data, size_t len);
template <typename T> std::string HexStr(const T& bytes) { return HexStr(bytes.data(), bytes.size()); }
// Bytes of an even-length hex string, or nullopt.
std::optional<std::vector<uint8_t>> ParseHex(const std::string& hex);
// A 64-hex-digit hash, or nullopt.
std::optional<uint256> ParseHash(const std::string& hex);

#endif // DEFI_CRYPTO_HASH_H
