// Difficulty: compact targets, and LWMA retargeting as consensus and as the
// miner apply it.
#include <bech32.h>
#include <consensus/pow.h>
#include <node/miner.h>
#include <test/test_util.h>
#include <txmempool.h>
#include <validation.h>

#include <gtest/gtest.h>

namespace {

// Regtest with retargeting on: easy to mine, and every rule in play.
const ChainParams& Retargeting()
{
    static const ChainParams p = [] {
        ChainParams c = RegtestParams();
        c.network = "lwma-test";
        c.retarget = true;
        return c;
    }();
    return p;
}

std::vector<PowSample> Steady(uint32_t bits, int64_t spacing, size_t count)
{
    std::vector<PowSample> w;
    for (size_t i = 0; i < count; ++i)
        w.push_back({1700000000 + static_cast<int64_t>(i) * spacing, bits});
    return w;
}

// The mantissa of `bits` at exponent `of`'s, for comparing targets.
int64_t Mantissa(uint32_t bits, uint32_t of)
{
    int64_t m = bits & 0x7fffff;
    for (uint32_t e = bits >> 24; e < (of >> 24); ++e)
        m /= 256;
    for (uint32_t e = bits >> 24; e > (of >> 24); --e)
        m *= 256;
    return m;
}

} // namespace

TEST(Pow, CompactTargetsRoundTrip)
{
    for (uint32_t bits : {0x1f00ffffu, 0x207fffffu, 0x1d00ffffu, 0x1b0404cbu, 0x03123456u, 0x1e7fffffu})
        EXPECT_EQ(Target256::FromCompact(bits).ToCompact(), bits) << std::hex << bits;
    EXPECT_TRUE(Target256::FromCompact(0x1d00ffff) < Target256::FromCompact(0x1f00ffff));
    EXPECT_FALSE(Target256::FromCompact(0x2000ffff).Times(1u << 20));
    EXPECT_TRUE(Target256::FromCompact(0x2000ffff).Times(2));
}

TEST(Pow, LwmaFollowsSolveTimes)
{
    const ChainParams& p = Retargeting();
    const uint32_t start = 0x1f00ffff; // well under regtest's limit
    const int64_t t = p.target_spacing;
    // Too few blocks: the limit.
    EXPECT_EQ(NextWorkRequired(Steady(start, t, LWMA_WINDOW), p), p.pow_bits);
    // On time: the same target, to the last bit the division keeps.
    const uint32_t steady = NextWorkRequired(Steady(start, t, LWMA_WINDOW + 1), p);
    EXPECT_LE(std::llabs(Mantissa(steady, start) - Mantissa(start, start)), 1);
    // Twice as fast: about half the target; twice as slow: about double.
    const uint32_t fast = NextWorkRequired(Steady(start, t / 2, LWMA_WINDOW + 1), p);
    const uint32_t slow = NextWorkRequired(Steady(start, t * 2, LWMA_WINDOW + 1), p);
    EXPECT_NEAR(static_cast<double>(Mantissa(fast, start)) / Mantissa(start, start), 0.5, 0.01);
    EXPECT_NEAR(static_cast<double>(Mantissa(slow, start)) / Mantissa(start, start), 2.0, 0.01);
    // Hours between blocks: never easier than the limit.
    EXPECT_EQ(NextWorkRequired(Steady(p.pow_bits, 3600, LWMA_WINDOW + 1), p), p.pow_bits);
    // A timestamp far in the past counts as one second, not negative.
    auto forged = Steady(start, t, LWMA_WINDOW + 1);
    forged[30].time = 0;
    EXPECT_NE(NextWorkRequired(forged, p), 0u);
    // Without retargeting: always the fixed bits.
    EXPECT_EQ(NextWorkRequired(Steady(start, 1, 100), RegtestParams()), RegtestParams().pow_bits);
}

TEST(Pow, FastBlocksGetHarderAndWrongBitsAreRefused)
{
    test::TempDir dir;
    Mempool mempool(Retargeting());
    ChainState chain(Retargeting(), dir.path().string(), mempool);
    const std::string to = EncodeAddress("dfrt", KeyHash{1});
    for (int i = 1; i <= 60; ++i) {
        const CBlock b = CreateNewBlock(chain, mempool, to, Retargeting().genesis_time + 5 * i);
        BlockValidationState state;
        ASSERT_TRUE(chain.ProcessNewBlock(b, state)) << i << ": " << state.ToString();
    }
    const uint32_t bits = chain.Tip()->header.bits;
    EXPECT_TRUE(Target256::FromCompact(bits) < Target256::FromCompact(Retargeting().pow_bits));
    // A block claiming the easiest target where a harder one is due.
    CBlock wrong = CreateNewBlock(chain, mempool, to, Retargeting().genesis_time + 5 * 61);
    wrong.header.bits = Retargeting().pow_bits;
    while (!CheckProofOfWork(wrong.GetHash(), wrong.header.bits))
        ++wrong.header.nonce;
    BlockValidationState state;
    EXPECT_FALSE(chain.ProcessNewBlock(wrong, state));
    EXPECT_EQ(state.GetRejectReason(), "bad-diffbits");
    EXPECT_FALSE(chain.AcceptBlockHeader(wrong.header, state));
    EXPECT_EQ(chain.Tip()->height(), 60u);
}
