// An account of the native chain: its balance and the nonce its next tx uses.
#ifndef DEFI_PRIMITIVES_ACCOUNT_H
#define DEFI_PRIMITIVES_ACCOUNT_H

#include <amount.h>

#include <cstdint>

struct Account {
    CAmount balance{0};
    uint64_t nonce{0};
    bool operator==(const Account& o) const { return balance == o.balance && nonce == o.nonce; }
};

#endif // DEFI_PRIMITIVES_ACCOUNT_H
