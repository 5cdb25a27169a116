#include <consensus/pow.h>

#include <algorithm>

Target256 Target256::FromCompact(uint32_t bits)
{
    Target256 t;
    const int size = static_cast<int>(bits >> 24);
    uint64_t mantissa = bits & 0x007fffff;
    // value = mantissa * 256^(size - 3)
    if (size <= 3) {
        mantissa >>= 8 * (3 - size);
        t.m_limb[0] = mantissa;
        return t;
    }
    const int shift = 8 * (size - 3);
    if (shift >= 256) return t;
    const int limb = shift / 64, bit = shift % 64;
    t.m_limb[limb] = mantissa << bit;
    if (bit && limb + 1 < 4) t.m_limb[limb + 1] = mantissa >> (64 - bit);
    return t;
}

uint32_t Target256::ToCompact() const
{
    int bits_used = 0;
    for (int i = 3; i >= 0; --i) {
        if (m_limb[i]) {
            bits_used = 64 * i + 64 - __builtin_clzll(m_limb[i]);
            break;
        }
    }
    int size = (bits_used + 7) / 8;
    // The top three bytes of the number.
    uint64_t mantissa = 0;
    for (int byte = size - 1; byte >= size - 3; --byte) {
        mantissa <<= 8;
        if (byte >= 0) mantissa |= (m_limb[byte / 8] >> (8 * (byte % 8))) & 0xff;
    }
    // The sign bit of the compact form must stay clear.
    if (mantissa & 0x00800000) {
        mantissa >>= 8;
        ++size;
    }
    return static_cast<uint32_t>(size) << 24 | static_cast<uint32_t>(mantissa);
}

Target256& Target256::operator+=(const Target256& o)
{
    unsigned __int128 carry = 0;
    for (int i = 0; i < 4; ++i) {
        const unsigned __int128 sum = static_cast<unsigned __int128>(m_limb[i]) + o.m_limb[i] + carry;
        m_limb[i] = static_cast<uint64_t>(sum);
        carry = sum >> 64;
    }
    if (carry) m_limb.fill(UINT64_MAX);
    return *this;
}

Target256& Target256::operator/=(uint64_t d)
{
    unsigned __int128 rem = 0;
    for (int i = 3; i >= 0; --i) {
        const unsigned __int128 cur = rem << 64 | m_limb[i];
        m_limb[i] = static_cast<uint64_t>(cur / d);
        rem = cur % d;
    }
    return *this;
}

std::optional<Target256> Target256::Times(uint64_t m) const
{
    Target256 out;
    unsigned __int128 carry = 0;
    for (int i = 0; i < 4; ++i) {
        const unsigned __int128 p = static_cast<unsigned __int128>(m_limb[i]) * m + carry;
        out.m_limb[i] = static_cast<uint64_t>(p);
        carry = p >> 64;
    }
    if (carry) return std::nullopt;
    return out;
}

bool Target256::operator<(const Target256& o) const
{
    for (int i = 3; i >= 0; --i) {
        if (m_limb[i] != o.m_limb[i]) return m_limb[i] < o.m_limb[i];
    }
    return false;
}

uint32_t NextWorkRequired(const std::vector<PowSample>& window, const ChainParams& params)
{
    const int64_t n = LWMA_WINDOW;
    if (!params.retarget || static_cast<int64_t>(window.size()) < n + 1) return params.pow_bits;
    const int64_t spacing = params.target_spacing;
    // k makes the weighted sum of solve times equal to k when every block
    // took `spacing`: then the next target is the window's average.
    const uint64_t k = static_cast<uint64_t>(n * (n + 1) / 2 * spacing);
    Target256 average;
    uint64_t weighted = 0;
    int64_t previous = window[window.size() - n - 1].time;
    for (int64_t j = 1; j <= n; ++j) {
        const PowSample& s = window[window.size() - n - 1 + j];
        const int64_t time = std::max(s.time, previous + 1);
        const int64_t solve = std::min(6 * spacing, time - previous);
        previous = time;
        weighted += static_cast<uint64_t>(solve * j);
        Target256 t = Target256::FromCompact(s.bits);
        t /= static_cast<uint64_t>(n) * k;
        average += t;
    }
    const Target256 limit = Target256::FromCompact(params.pow_bits);
    const auto next = average.Times(weighted);
    if (!next || limit < *next) return params.pow_bits;
    return next->ToCompact();
}
