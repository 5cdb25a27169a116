// Difficulty: the target a block's bits must name. Regtest keeps its fixed
// easiest target; main and testnet retarget every block with LWMA (a linearly
// weighted moving average of the last LWMA_WINDOW solve times, the newest
// weighing most), which follows hash-rate changes within a few blocks, as
// short block times need. Each solve time is clamped to [1, 6 x spacing] and
// timestamps are taken as non-decreasing, so a forged time moves the target
// by a bounded step.
#ifndef DEFI_CONSENSUS_POW_H
#define DEFI_CONSENSUS_POW_H

#include <chainparams.h>

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

constexpr int64_t LWMA_WINDOW = 45;

// An unsigned 256-bit number, just what targets need.
class Target256 {
public:
    Target256() = default;
    static Target256 FromCompact(uint32_t bits);
    uint32_t ToCompact() const;
    Target256& operator+=(const Target256& o); // saturates at 2^256 - 1
    Target256& operator/=(uint64_t d);
    // Multiplies; nullopt on overflow.
    std::optional<Target256> Times(uint64_t m) const;
    bool operator<(const Target256& o) const;
    bool operator==(const Target256& o) const { return m_limb == o.m_limb; }

private:
    std::array<uint64_t, 4> m_limb{}; // little-endian limbs
};

// One block of the window: its time and bits.
struct PowSample {
    int64_t time;
    uint32_t bits;
};

// The bits the block after `window` must carry. `window` is the chain's last
// blocks, oldest first, ending with the new block's parent; with fewer than
// LWMA_WINDOW + 1 of them (or without retargeting) the answer is the limit.
uint32_t NextWorkRequired(const std::vector<PowSample>& window, const ChainParams& params);

#endif // DEFI_CONSENSUS_POW_H
