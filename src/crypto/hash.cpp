#include <crypto/hash.h>

#include <openssl/sha.h>

uint256 Sha256(const uint8_t* data, size_t len)
{
    uint256 out;
    SHA256(data, len, out.data());
    return out;
}

uint256 Sha256d(const std::vector<uint8_t>& v)
{
    const uint256 once = Sha256(v);
    return Sha256(once.data(), once.size());
}

std::string HexStr(const uint8_t* data, size_t len)
{
    static const char* digits = "0123456789abcdef";
    std::string out(len * 2, '0');
    for (size_t i = 0; i < len; ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    return out;
}

static int HexValue(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::vector<uint8_t>> ParseHex(const std::string& hex)
{
    if (hex.size() % 2) return std::nullopt;
    std::vector<uint8_t> out(hex.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        const int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return out;
}

std::optional<uint256> ParseHash(const std::string& hex)
{
    const auto bytes = ParseHex(hex);
    if (!bytes || bytes->size() != 32) return std::nullopt;
    uint256 h;
    std::copy(bytes->begin(), bytes->end(), h.begin());
    return h;
}
