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

std::optional<CAmount> ParseMoney(const std::string& text, std::string* why)
{
    const auto fail = [why](const char* reason) -> std::optional<CAmount> {
        if (why) *why = reason;
        return std::nullopt;
    };
    if (text.size() > 100) return fail("too long");
    size_t i = 0;
    if (i < text.size() && text[i] == '-') return fail("negative");
    // The significant digits of mantissa `digits` x 10^`scale` base units.
    std::string digits;
    int64_t scale = 8;
    bool any = false;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, any = true)
        digits += text[i];
    if (i < text.size() && text[i] == '.') {
        for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, any = true) {
            digits += text[i];
            --scale;
        }
    }
    if (!any) return fail("not a decimal number");
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        bool neg = false;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) neg = text[i++] == '-';
        int64_t exp = 0;
        bool exp_digits = false;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, exp_digits = true) {
            if (exp > 1000000) return fail("exponent out of range");
            exp = exp * 10 + (text[i] - '0');
        }
        if (!exp_digits) return fail("not a decimal number");
        scale += neg ? -exp : exp;
    }
    if (i != text.size()) return fail("not a decimal number");
    digits.erase(0, digits.find_first_not_of('0'));
    if (digits.empty()) return CAmount{0}; // any zero, whatever its exponent
    while (digits.back() == '0') {
        digits.pop_back();
        ++scale;
    }
    if (scale < 0) return fail("more than 8 decimals");
    // MAX_MONEY has 18 digits.
    if (static_cast<int64_t>(digits.size()) + scale > 18) return fail("over the maximum of 1200000000");
    uint64_t v = 0;
    for (char c : digits)
        v = v * 10 + static_cast<uint64_t>(c - '0');
    for (int64_t k = 0; k < scale; ++k)
        v *= 10;
    if (v > static_cast<uint64_t>(MAX_MONEY)) return fail("over the maximum of 1200000000");
    return static_cast<CAmount>(v);
}
