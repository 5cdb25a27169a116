#include <bech32.h>

#include <vector>

namespace {
const char* CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr uint32_t BECH32M_CONST = 0x2bc830a3;

uint32_t PolyMod(const std::vector<uint8_t>& v)
{
    uint32_t c = 1;
    for (uint8_t d : v) {
        const uint8_t c0 = c >> 25;
        c = ((c & 0x1ffffff) << 5) ^ d;
        if (c0 & 1) c ^= 0x3b6a57b2;
        if (c0 & 2) c ^= 0x26508e6d;
        if (c0 & 4) c ^= 0x1ea119fa;
        if (c0 & 8) c ^= 0x3d4233dd;
        if (c0 & 16) c ^= 0x2a1462b3;
    }
    return c;
}

std::vector<uint8_t> ExpandHrp(const std::string& hrp)
{
    std::vector<uint8_t> out;
    for (char c : hrp)
        out.push_back(static_cast<uint8_t>(c) >> 5);
    out.push_back(0);
    for (char c : hrp)
        out.push_back(static_cast<uint8_t>(c) & 31);
    return out;
}

// Regroups bits; false if padding is invalid when not padding.
bool ConvertBits(const std::vector<uint8_t>& in, int from, int to, bool pad, std::vector<uint8_t>& out)
{
    uint32_t acc = 0;
    int bits = 0;
    const uint32_t maxv = (1u << to) - 1;
    for (uint8_t v : in) {
        acc = (acc << from) | v;
        bits += from;
        while (bits >= to) {
            bits -= to;
            out.push_back((acc >> bits) & maxv);
        }
    }
    if (pad) {
        if (bits) out.push_back((acc << (to - bits)) & maxv);
    } else if (bits >= from || ((acc << (to - bits)) & maxv)) {
        return false;
    }
    return true;
}
} // namespace

std::string EncodeAddress(const std::string& hrp, const KeyHash& hash)
{
    std::vector<uint8_t> data;
    ConvertBits(std::vector<uint8_t>(hash.begin(), hash.end()), 8, 5, true, data);
    auto values = ExpandHrp(hrp);
    values.insert(values.end(), data.begin(), data.end());
    values.resize(values.size() + 6, 0);
    const uint32_t mod = PolyMod(values) ^ BECH32M_CONST;
    std::string out = hrp + "1";
    for (uint8_t d : data)
        out += CHARSET[d];
    for (int i = 0; i < 6; ++i)
        out += CHARSET[(mod >> (5 * (5 - i))) & 31];
    return out;
}

std::optional<KeyHash> DecodeAddress(const std::string& address, const std::string& hrp)
{
    if (address.size() > 90 || address.size() < hrp.size() + 8) return std::nullopt;
    if (address.compare(0, hrp.size() + 1, hrp + "1") != 0) return std::nullopt;
    std::vector<uint8_t> data;
    for (size_t i = hrp.size() + 1; i < address.size(); ++i) {
        const char* p = nullptr;
        for (const char* c = CHARSET; *c; ++c) {
            if (*c == address[i]) p = c;
        }
        if (!p) return std::nullopt;
        data.push_back(static_cast<uint8_t>(p - CHARSET));
    }
    auto values = ExpandHrp(hrp);
    values.insert(values.end(), data.begin(), data.end());
    if (PolyMod(values) != BECH32M_CONST) return std::nullopt;
    data.resize(data.size() - 6);
    std::vector<uint8_t> bytes;
    if (!ConvertBits(data, 5, 8, false, bytes) || bytes.size() != 20) return std::nullopt;
    KeyHash out;
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return out;
}
