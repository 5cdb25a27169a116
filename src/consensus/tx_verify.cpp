#include <consensus/tx_verify.h>

#include <bech32.h>
#include <metachain/bridge.h>

namespace {
// Why `address` is not a 0x meta address, or "" if it is one.
std::string BadMetaAddress(const std::string& address)
{
    std::string why;
    if (metachain::ParseAddress(address, &why)) return "";
    return "invalid meta address " + address + ": " + why;
}
} // namespace

Account AccountView::Get(const KeyHash& key)
{
    if (auto it = m_now.find(key); it != m_now.end()) return it->second;
    const Account a = m_base(key);
    m_before.emplace(key, a);
    m_now.emplace(key, a);
    return a;
}

void AccountView::Set(const KeyHash& key, const Account& a)
{
    Get(key);
    m_now[key] = a;
}

const char* const LOCK_ADDRESS_PAID = "pays the lock address, which only a deposittometachain may pay";

bool ApplyTx(AccountView& view, const CTransaction& tx, const ChainParams& params, CAmount& fees,
             TxValidationState& state)
{
    using R = TxValidationResult;
    const auto bad = [&state](const std::string& why) { return state.Invalid(R::TX_CONSENSUS, why); };
    if (tx.type == TxType::Coinbase) return bad("coinbase outside the first position");
    if (!MoneyRange(tx.amount) || tx.amount == 0) return bad("amount out of range");
    if (!MoneyRange(tx.fee)) return bad("fee out of range");
    const auto to_native = DecodeAddress(tx.to, params.address_hrp);
    if (tx.type == TxType::WithdrawFromMetachain) {
        // The metachain checks the meta signature; here only the native effect.
        if (!to_native) return bad("invalid native address " + tx.to);
        if (*to_native == params.lock_address) return bad(LOCK_ADDRESS_PAID);
        if (const auto why = BadMetaAddress(tx.meta_from); !why.empty()) return bad(why);
        if (tx.meta_signature.size() != META_SIGNATURE_SIZE) {
            return bad("meta signature is " + std::to_string(tx.meta_signature.size()) + " bytes, not " +
                       std::to_string(META_SIGNATURE_SIZE));
        }
        if (tx.fee >= tx.amount) return bad("withdrawal does not cover its fee");
        Account lock = view.Get(params.lock_address);
        if (lock.balance < tx.amount) {
            return state.Invalid(R::TX_INSUFFICIENT_FUNDS, "lock balance too low for the withdrawal");
        }
        lock.balance -= tx.amount;
        view.Set(params.lock_address, lock);
        Account to = view.Get(*to_native);
        const auto credited = CheckedAdd(to.balance, tx.amount - tx.fee);
        if (!credited) return bad("balance overflow");
        to.balance = *credited;
        view.Set(*to_native, to);
    } else {
        KeyHash recipient;
        if (tx.type == TxType::Transfer) {
            if (!to_native) return bad("invalid native address " + tx.to);
            if (*to_native == params.lock_address) return bad(LOCK_ADDRESS_PAID);
            recipient = *to_native;
        } else if (tx.type == TxType::DepositToMetachain) {
            if (const auto why = BadMetaAddress(tx.to); !why.empty()) return bad(why);
            recipient = params.lock_address;
        } else {
            return bad("unknown tx type");
        }
        if (!VerifySignature(tx.from, tx.SignatureHash(), tx.signature)) return bad("bad signature");
        const KeyHash sender = HashPubKey(tx.from);
        Account from = view.Get(sender);
        if (tx.nonce != from.nonce) {
            return state.Invalid(R::TX_BAD_NONCE, "bad nonce: expected " + std::to_string(from.nonce) + ", got " +
                                                      std::to_string(tx.nonce));
        }
        const auto spend = CheckedAdd(tx.amount, tx.fee);
        if (!spend) return bad("amount plus fee overflows");
        if (from.balance < *spend) return state.Invalid(R::TX_INSUFFICIENT_FUNDS, "insufficient funds");
        from.balance -= *spend;
        from.nonce += 1;
        view.Set(sender, from);
        Account to = view.Get(recipient);
        const auto credited = CheckedAdd(to.balance, tx.amount);
        if (!credited) return bad("balance overflow");
        to.balance = *credited;
        view.Set(recipient, to);
    }
    const auto total = CheckedAdd(fees, tx.fee);
    if (!total) return bad("fees overflow");
    fees = *total;
    return true;
}
