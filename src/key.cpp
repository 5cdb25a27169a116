#include <key.h>

#include <secp256k1.h>

#include <fstream>
#include <stdexcept>

namespace {
secp256k1_context* Context()
{
    static secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    return ctx;
}
} // namespace

KeyHash HashPubKey(const PubKey& pubkey)
{
    const uint256 h = Sha256(pubkey.data(), pubkey.size());
    KeyHash out;
    std::copy(h.begin(), h.begin() + 20, out.begin());
    return out;
}

CKey CKey::Generate()
{
    std::ifstream urandom("/dev/urandom", std::ios::binary);
    for (int attempt = 0; attempt < 16; ++attempt) {
        std::array<uint8_t, 32> secret;
        if (!urandom.read(reinterpret_cast<char*>(secret.data()), secret.size())) break;
        if (auto key = FromSecret(secret)) return *key;
    }
    throw std::runtime_error("cannot generate a key: /dev/urandom unavailable");
}

std::optional<CKey> CKey::FromSecret(const std::array<uint8_t, 32>& secret)
{
    if (!secp256k1_ec_seckey_verify(Context(), secret.data())) return std::nullopt;
    CKey key;
    key.m_secret = secret;
    return key;
}

PubKey CKey::GetPubKey() const
{
    secp256k1_pubkey pk;
    PubKey out{};
    if (!secp256k1_ec_pubkey_create(Context(), &pk, m_secret.data())) return out;
    size_t len = out.size();
    secp256k1_ec_pubkey_serialize(Context(), out.data(), &len, &pk, SECP256K1_EC_COMPRESSED);
    return out;
}

std::vector<uint8_t> CKey::Sign(const uint256& hash) const
{
    secp256k1_ecdsa_signature sig;
    std::vector<uint8_t> out(64);
    if (!secp256k1_ecdsa_sign(Context(), &sig, hash.data(), m_secret.data(), nullptr, nullptr)) {
        throw std::runtime_error("signing failed");
    }
    secp256k1_ecdsa_signature_serialize_compact(Context(), out.data(), &sig);
    return out;
}

bool VerifySignature(const PubKey& pubkey, const uint256& hash, const std::vector<uint8_t>& sig)
{
    secp256k1_pubkey pk;
    secp256k1_ecdsa_signature s;
    if (sig.size() != 64) return false;
    if (!secp256k1_ec_pubkey_parse(Context(), &pk, pubkey.data(), pubkey.size())) return false;
    if (!secp256k1_ecdsa_signature_parse_compact(Context(), &s, sig.data())) return false;
    // verify rejects high-S signatures, so signatures are not malleable.
    return secp256k1_ecdsa_verify(Context(), &s, hash.data(), &pk) == 1;
}
