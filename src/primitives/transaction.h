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
    DepositToMetachain = 2,    // from -> lock address; the metachain mints to `to` (meta address)
    WithdrawFromMetachain = 3, // lock -> to (native), authorised by the meta signature
};

const char* TxTypeName(TxType t);

struct CTransaction {
    TxType type{TxType::Transfer};
    PubKey from{};  // unused for Coinbase and Withdraw
    std::string to; // native address, or meta address for a deposit
    CAmount amount{0};
    CAmount fee{0};
    uint64_t nonce{0}; // account nonce of `from`; the height for a coinbase
    // Withdraw only: the meta account, its nonce, key and signature.
    std::string meta_from;
    uint64_t meta_nonce{0};
    std::vector<uint8_t> meta_pubkey;
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
