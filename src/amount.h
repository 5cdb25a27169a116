// Amounts: int64 base units inside, 8-decimal coins in JSON.
#ifndef DEFI_AMOUNT_H
#define DEFI_AMOUNT_H

#include <cstdint>
#include <optional>
#include <string>

using CAmount = int64_t;
constexpr CAmount COIN = 100000000;
// No amount or balance may exceed this; every sum is checked against it.
constexpr CAmount MAX_MONEY = 1200000000LL * COIN;

inline bool MoneyRange(CAmount v) { return v >= 0 && v <= MAX_MONEY; }
// a + b within [0, MAX_MONEY], or nullopt.
std::optional<CAmount> CheckedAdd(CAmount a, CAmount b);

// "12.34500000"
std::string FormatMoney(CAmount v);
// Exact parse of a decimal coin amount ("0.1", "5", "1e-8", "1.5E+3") in
// [0, MAX_MONEY] with no non-zero digit past the 8th decimal; never through
// a double. On failure `why` (if given) says what is wrong.
std::optional<CAmount> ParseMoney(const std::string& text, std::string* why = nullptr);

#endif // DEFI_AMOUNT_H
