#include <amount.h>

#include <cstdio>

std::optional<CAmount> CheckedAdd(CAmount a, CAmount b)
{
    if (!MoneyRange(a) || !MoneyRange(b) || a > MAX_MONEY - b) return std::nullopt;
    return a + b;
}

std::string FormatMoney(CAmount v)
{
    const bool neg = v < 0;
    const uint64_t abs = neg ? -static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%s%llu.%08llu", neg ? "-" : "", static_cast<unsigned long long>(abs / COIN),
                  static_cast<unsigned long long>(abs % COIN));
    return buf;
}

std::optional<CAmount> ParseMoney(const std::string& text)
{
    if (text.empty() || text.size() > 40) return std::nullopt;
    size_t i = 0;
    if (text[0] == '+' || text[0] == '-') return std::nullopt; // signs are not amounts
    uint64_t whole = 0;
    bool digits = false;
    for (; i < text.size() && text[i] != '.'; ++i) {
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
        whole = whole * 10 + static_cast<uint64_t>(text[i] - '0');
        digits = true;
        if (whole > static_cast<uint64_t>(MAX_MONEY / COIN)) return std::nullopt;
    }
    uint64_t frac = 0;
    int places = 0;
    if (i < text.size()) {
        for (++i; i < text.size(); ++i) {
            if (text[i] < '0' || text[i] > '9' || places == 8) return std::nullopt;
            frac = frac * 10 + static_cast<uint64_t>(text[i] - '0');
            ++places;
            digits = true;
        }
    }
    if (!digits) return std::nullopt;
    for (; places < 8; ++places)
        frac *= 10;
    const uint64_t total = whole * COIN + frac;
    if (total > static_cast<uint64_t>(MAX_MONEY)) return std::nullopt;
    return static_cast<CAmount>(total);
}
