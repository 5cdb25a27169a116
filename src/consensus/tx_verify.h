// The consensus rules of a native tx against account state. No I/O: accounts
// are read through an AccountView whose base the caller supplies.
#ifndef DEFI_CONSENSUS_TX_VERIFY_H
#define DEFI_CONSENSUS_TX_VERIFY_H

#include <chainparams.h>
#include <consensus/validation.h>
#include <primitives/account.h>
#include <primitives/transaction.h>

#include <functional>
#include <map>

using AccountLookup = std::function<Account(const KeyHash&)>;

// Accounts as seen while applying txs: reads fall through to the base,
// writes stay here, and the first value of every touched account is kept
// for the undo data.
class AccountView {
public:
    explicit AccountView(AccountLookup base) : m_base(std::move(base)) {}
    Account Get(const KeyHash& key);
    void Set(const KeyHash& key, const Account& a);
    const std::map<KeyHash, Account>& changes() const { return m_now; }
    const std::map<KeyHash, Account>& before() const { return m_before; }

private:
    AccountLookup m_base;
    std::map<KeyHash, Account> m_now, m_before;
};

// Why a tx or coinbase that pays the lock address is invalid: only a
// DepositToMetachain may, so its balance x 10^10 always equals the metachain's
// supply plus the base fees it burned (in wei).
extern const char* const LOCK_ADDRESS_PAID;

// Applies one non-coinbase tx to `view`, adding its fee to `fees`. On failure
// returns false with `state` saying why, and `view` and `fees` may hold part
// of the tx: apply to a copy when the caller keeps going.
bool ApplyTx(AccountView& view, const CTransaction& tx, const ChainParams& params, CAmount& fees,
             TxValidationState& state);

#endif // DEFI_CONSENSUS_TX_VERIFY_H
