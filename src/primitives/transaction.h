// Native transactions. The account model: `from` is a public key whose
// address pays `amount + fee`, with `nonce` equal to its account nonce.
#ifndef DEFI_PRIMITIVES_TRANSACTION_H
#define DEFI_PRIMITIVES_TRANSACTION_H

#include <amount.h>
#include <crypto/hash.h>
#include <key.h>

#include <string>
#include <vector>

enum class TxType : uint8_t {
    Coinbase = 0,              // reward + fees to `to`; one per block, first
    Transfer = 1,              // from -> to (native address)
    DepositToMetachain = 2,    // from -> lock address; the metachain mints to `to` (a 0x address)
    WithdrawFromMetachain = 3, // lock -> to (native), authorised by the meta account's EIP-712 signature
};

const char* TxTypeName(TxType t);

// A 0x meta address: "0x" and 40 hex digits.
constexpr size_t MAX_META_ADDRESS_LENGTH = 42;
// An EIP-712 signature: r (32) || s (32) || v (1).
constexpr size_t META_SIGNATURE_SIZE = 65;

struct CTransaction {
    TxType type{TxType::Transfer};
    PubKey from{};  // unused for Coinbase and Withdraw
    std::string to; // native address, or 0x meta address for a deposit
    CAmount amount{0};
    CAmount fee{0};
    uint64_t nonce{0}; // account nonce of `from`; the height for a coinbase
    // Withdraw only: the 0x meta account, its account nonce and its 65-byte
    // EIP-712 signature (r || s || v) of the withdrawal (docs/metachain.md);
    // the metachain checks the signature.
    std::string meta_from;
    uint64_t meta_nonce{0};
    std::vector<uint8_t> meta_signature;
    std::vector<uint8_t> signature; // by `from` over SignatureHash()

    std::vector<uint8_t> Serialize() const;
    static CTransaction Deserialize(const std::vector<uint8_t>& bytes);
    // sha256d of everything but the signature.
    uint256 SignatureHash() const;
    // sha256d of the full serialization.
    uint256 GetHash() const;
    size_t Size() const { return Serialize().size(); }
};

void WriteTx(class Writer& w, const CTransaction& tx);
CTransaction ReadTx(class Reader& r);

#endif // DEFI_PRIMITIVES_TRANSACTION_H
