// The bridge's pure functions (mc::meta_* in libmc.h), wrapped for defid.
// Meta address, key and signature code exists only in Rust (lib/metachain);
// defid asks it. None of these needs the engine: they work with or without
// -meta/-meta_rpc, and they are deterministic, so consensus may call them.
#ifndef DEFI_METACHAIN_BRIDGE_H
#define DEFI_METACHAIN_BRIDGE_H

#include <amount.h>
#include <key.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace metachain {

// The EIP-55 form of a 0x address (all-lowercase, all-uppercase or a valid
// checksum), or nullopt with the reason in `why` ("bad EIP-55 checksum ...").
std::optional<std::string> ParseAddress(const std::string& address, std::string* why = nullptr);
// `address` with its ASCII letters lowercased: every accepted spelling of one
// address gives the same key. No bridge call.
std::string AddressKey(const std::string& address);
// The metachain's chain id for a native network ("main", "testnet" or
// "regtest"); throws std::runtime_error for another name.
uint64_t ChainId(const std::string& network);
// The metachain block hash of a payload: keccak256 of it, 0x-hex.
std::string BlockHash(const std::vector<uint8_t>& payload);
// The 0x address (EIP-55) of a secp256k1 key used as an Ethereum key.
std::string AddressOfKey(const CKey& key);
// The 65-byte EIP-712 signature by `key` of a withdrawal of `amount` native
// units to the native address `to` at the account nonce `nonce`.
std::vector<uint8_t> SignWithdrawal(const CKey& key, uint64_t chain_id, const std::string& to, CAmount amount,
                                    uint64_t nonce);
// A raw signed EIP-1559 tx (EIP-2718 encoded) by `key` sending `value_wei`
// (decimal) to the 0x address `to`.
std::vector<uint8_t> SignTransfer(const CKey& key, uint64_t chain_id, uint64_t nonce, const std::string& to,
                                  const std::string& value_wei, uint64_t max_fee_per_gas,
                                  uint64_t max_priority_fee_per_gas, uint64_t gas_limit);
// The hash of a raw EVM tx: keccak256, 0x-hex.
std::string TxHash(const std::vector<uint8_t>& raw);
// Whether two hex hashes are equal, ignoring a 0x prefix and case.
bool SameHash(const std::string& a, const std::string& b);
// Native units (10^-8 coin) as wei (10^-18 coin): `amount` followed by ten
// zeros, as a decimal string. `amount` must not be negative.
std::string WeiOf(CAmount amount);
// Wei (a decimal string) as coins with 18 decimals ("1.500000000000000000").
std::string FormatWei(const std::string& wei);
// The message of an exception from the bridge, without the "[code] " prefix
// the engine's errors carry.
std::string BridgeMessage(const std::exception& e);

} // namespace metachain

#endif // DEFI_METACHAIN_BRIDGE_H
