#include <metachain/bridge.h>

#include <libmc.h>
#include <rust/cxx.h>

#include <stdexcept>

namespace metachain {
namespace {
rust::Slice<const uint8_t> SliceOf(const std::vector<uint8_t>& bytes) { return {bytes.data(), bytes.size()}; }
rust::Slice<const uint8_t> SecretOf(const CKey& key) { return {key.secret().data(), key.secret().size()}; }
std::vector<uint8_t> FromRust(const rust::Vec<uint8_t>& v) { return {v.begin(), v.end()}; }

std::string StripPrefix(const std::string& hash)
{
    return hash.rfind("0x", 0) == 0 || hash.rfind("0X", 0) == 0 ? hash.substr(2) : hash;
}
} // namespace

std::string BridgeMessage(const std::exception& e)
{
    std::string what = e.what();
    if (what.rfind("[", 0) == 0) {
        if (const size_t end = what.find("] "); end != std::string::npos) what = what.substr(end + 2);
    }
    return what;
}

std::optional<std::string> ParseAddress(const std::string& address, std::string* why)
{
    try {
        // rust::Str refuses bytes that are not UTF-8 (std::invalid_argument).
        return std::string(mc::meta_parse_address(rust::Str(address)));
    } catch (const std::exception& e) {
        // The engine says "invalid meta address <the input>: <why>"; the
        // caller names the input itself, so only the reason is kept.
        std::string message = BridgeMessage(e);
        const std::string prefix = "invalid meta address ";
        if (const size_t colon = message.rfind(": "); message.rfind(prefix, 0) == 0 && colon != std::string::npos) {
            message = message.substr(colon + 2);
        }
        if (why) *why = message;
        return std::nullopt;
    }
}

std::string AddressKey(const std::string& address)
{
    std::string out = address;
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

uint64_t ChainId(const std::string& network)
{
    try {
        return mc::meta_chain_id(rust::Str(network));
    } catch (const std::exception& e) {
        // The bridge has named the test network "test" as well as "testnet".
        if (network == "testnet") return ChainId("test");
        throw std::runtime_error("no metachain chain id for network " + network + ": " + BridgeMessage(e));
    }
}

std::string AddressOfKey(const CKey& key) { return std::string(mc::meta_address_of_key(SecretOf(key))); }

std::vector<uint8_t> SignWithdrawal(const CKey& key, uint64_t chain_id, const std::string& to, CAmount amount,
                                    uint64_t nonce)
{
    return FromRust(mc::meta_sign_withdrawal(SecretOf(key), chain_id, rust::Str(to), amount, nonce));
}

std::vector<uint8_t> SignTransfer(const CKey& key, uint64_t chain_id, uint64_t nonce, const std::string& to,
                                  const std::string& value_wei, uint64_t max_fee_per_gas,
                                  uint64_t max_priority_fee_per_gas, uint64_t gas_limit)
{
    return FromRust(mc::meta_sign_transfer(SecretOf(key), chain_id, nonce, rust::Str(to), rust::Str(value_wei),
                                           max_fee_per_gas, max_priority_fee_per_gas, gas_limit));
}

std::string TxHash(const std::vector<uint8_t>& raw) { return std::string(mc::meta_tx_hash(SliceOf(raw))); }

std::string BlockHash(const std::vector<uint8_t>& payload) { return std::string(mc::meta_tx_hash(SliceOf(payload))); }

bool SameHash(const std::string& a, const std::string& b)
{
    return AddressKey(StripPrefix(a)) == AddressKey(StripPrefix(b));
}

std::string WeiOf(CAmount amount)
{
    if (amount < 0) throw std::invalid_argument("negative amount");
    return amount == 0 ? "0" : std::to_string(amount) + "0000000000";
}

std::string FormatWei(const std::string& wei) { return std::string(mc::meta_format_wei(rust::Str(wei))); }

} // namespace metachain
