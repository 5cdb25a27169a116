// Metachain transaction signing, byte for byte as lib/metachain/src/tx.rs:
// sha256("dmc-tx-v1" || kind:i32le || len:u32le || from || len:u32le || to ||
// amount:i64le || nonce:u64le), signed ECDSA low-S compact by the meta key.
#ifndef DEFI_METACHAIN_TX_H
#define DEFI_METACHAIN_TX_H

#include <amount.h>
#include <crypto/hash.h>

#include <string>

uint256 MetaSignatureHash(int32_t kind, const std::string& from, const std::string& to, CAmount amount, uint64_t nonce);

#endif // DEFI_METACHAIN_TX_H
