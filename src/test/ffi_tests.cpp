// The in-process bridge (libmc.h): calls, balances, errors and panics.
#include <libmc.h>
#include <rust/cxx.h>
#include <metachain/backend.h>
#include <test/test_util.h>

#include <gtest/gtest.h>

#include <string>

namespace {

// Meta addresses of key hashes [1;20] and [2;20] (bech32m, prefix dmc).
const char* const ALICE = "dmc1qyqszqgpqyqszqgpqyqszqgpqyqszqgpt29jqg";
const char* const BOB = "dmc1qgpqyqszqgpqyqszqgpqyqszqgpqyqsz6wrht7";

mc::NativeTx Deposit(const std::string& to, int64_t amount, const std::string& txid)
{
    mc::NativeTx tx{};
    tx.kind = mc::TxKind::Deposit;
    tx.from = "bcrt1nativefrom";
    tx.to = to;
    tx.amount = amount;
    tx.native_txid = metachain::ToRustBytes(txid);
    return tx;
}

mc::NativeContext Context(uint64_t height)
{
    mc::NativeContext ctx{};
    ctx.height = height;
    ctx.time = 1700000000 + static_cast<int64_t>(height);
    return ctx;
}

class FfiTest : public ::testing::Test {
protected:
    void SetUp() override { mc::ain_init((m_dir.path() / "metachain").string(), ""); }
    void TearDown() override { mc::ain_shutdown(); }
    test::TempDir m_dir;
};

TEST(FfiLifecycle, VersionIsReported) { EXPECT_FALSE(std::string(mc::ain_version()).empty()); }

// defid's first call: glibc accepts the heap settings (ain-rs tests their effect).
TEST(FfiLifecycle, AllocatorKeepsFreedBuffers) { EXPECT_TRUE(mc::ain_keep_freed_buffers()); }

TEST(FfiLifecycle, CallsBeforeInitFailCleanly)
{
    ASSERT_FALSE(mc::ain_is_initialized());
    try {
        mc::get_tip();
        FAIL() << "expected an exception";
    } catch (const rust::Error& e) {
        EXPECT_NE(std::string(e.what()).find("not initialized"), std::string::npos) << e.what();
    }
}

TEST(FfiLifecycle, UnknownMetaArgumentIsAnError)
{
    test::TempDir dir;
    EXPECT_THROW(mc::ain_init(dir.path().string(), "--bogus=1"), rust::Error);
    EXPECT_FALSE(mc::ain_is_initialized());
}

TEST(FfiLifecycle, PanicBecomesACatchableException)
{
    try {
        mc::ain_debug_panic("boom from the test");
        FAIL() << "expected an exception";
    } catch (const rust::Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("panic"), std::string::npos) << what;
        EXPECT_NE(what.find("boom from the test"), std::string::npos) << what;
    }
    // The process is still healthy: the bridge keeps working.
    EXPECT_FALSE(std::string(mc::ain_version()).empty());
}

TEST_F(FfiTest, MintThenConnectMovesBalances)
{
    const auto genesis = mc::get_tip();
    EXPECT_EQ(genesis.number, 0u);
    EXPECT_EQ(genesis.total_supply, 0);

    mc::MetaMintBlockInput in{};
    in.txs.push_back(Deposit(ALICE, 150000000, "aa01"));
    in.txs.push_back(Deposit(BOB, 25, "aa02"));
    in.context = Context(1);
    const auto minted = mc::mint_block(in);
    EXPECT_TRUE(minted.refused.empty());
    EXPECT_EQ(mc::get_tip().number, 0u) << "mint must not commit";

    mc::MetaConnectBlockInput cin{};
    cin.payload = minted.payload;
    cin.context = Context(1);
    cin.native_txs_hash = mc::ain_native_txs_hash(in.txs);
    const auto connected = mc::connect_block(cin);
    EXPECT_EQ(std::string(connected.block_hash), std::string(minted.block_hash));
    EXPECT_EQ(connected.number, 1u);

    mc::MetaGetBalanceInput bal{};
    bal.address = ALICE;
    EXPECT_EQ(mc::get_balance(bal).balance, 150000000);
    bal.address = BOB;
    EXPECT_EQ(mc::get_balance(bal).balance, 25);
    EXPECT_EQ(mc::get_tip().total_supply, 150000025);

    // Connecting the tip again is idempotent.
    EXPECT_EQ(std::string(mc::connect_block(cin).block_hash), std::string(minted.block_hash));
    EXPECT_EQ(mc::get_tip().total_supply, 150000025);

    mc::MetaGetBlockInput bin{};
    bin.block_id = "1";
    const auto block = mc::get_block(bin);
    EXPECT_EQ(std::string(block.hash), std::string(minted.block_hash));
    EXPECT_EQ(block.block.txs.size(), 2u);
}

TEST_F(FfiTest, CorruptPayloadIsRejectedAndChangesNothing)
{
    mc::MetaMintBlockInput in{};
    in.txs.push_back(Deposit(ALICE, 10, "bb01"));
    in.context = Context(1);
    const auto minted = mc::mint_block(in);
    const auto before = mc::get_tip();

    mc::MetaConnectBlockInput cin{};
    cin.context = Context(1);
    for (uint8_t b : {0xffu, 0xffu, 0x01u, 0x02u})
        cin.payload.push_back(b);
    try {
        mc::connect_block(cin);
        FAIL() << "expected an exception";
    } catch (const rust::Error& e) {
        EXPECT_NE(std::string(e.what()).find("corrupt payload"), std::string::npos) << e.what();
    }

    // A valid payload with a commitment to other native txs.
    cin.payload = minted.payload;
    rust::Vec<mc::NativeTx> other;
    other.push_back(Deposit(ALICE, 11, "bb01"));
    cin.native_txs_hash = mc::ain_native_txs_hash(std::move(other));
    try {
        mc::connect_block(cin);
        FAIL() << "expected an exception";
    } catch (const rust::Error& e) {
        EXPECT_NE(std::string(e.what()).find("does not match the native block"), std::string::npos) << e.what();
    }

    // A flipped byte inside a valid payload: decodes or not, it must not connect.
    cin.native_txs_hash = mc::ain_native_txs_hash(in.txs);
    cin.payload[cin.payload.size() - 1] ^= 0x01;
    EXPECT_THROW(mc::connect_block(cin), rust::Error);

    const auto after = mc::get_tip();
    EXPECT_EQ(after.number, before.number);
    EXPECT_EQ(std::string(after.hash), std::string(before.hash));
    mc::MetaGetBalanceInput bal{};
    bal.address = ALICE;
    EXPECT_EQ(mc::get_balance(bal).balance, 0);
}

TEST_F(FfiTest, RefusedDepositsAreListedWithTheirReason)
{
    mc::MetaMintBlockInput in{};
    in.txs.push_back(Deposit(ALICE, 10, "ee01"));
    in.txs.push_back(Deposit("dmc1notanaddress", 10, "ee02"));
    in.context = Context(1);
    const auto minted = mc::mint_block(in);
    ASSERT_EQ(minted.refused.size(), 1u);
    EXPECT_EQ(std::string(minted.refused[0].native_txid.begin(), minted.refused[0].native_txid.end()), "ee02");
    EXPECT_NE(std::string(minted.refused[0].reason).find("invalid meta address"), std::string::npos);
}

TEST_F(FfiTest, DisconnectRollsBack)
{
    mc::MetaMintBlockInput in{};
    in.txs.push_back(Deposit(ALICE, 10, "cc01"));
    in.context = Context(1);
    const auto minted = mc::mint_block(in);
    mc::MetaConnectBlockInput cin{};
    cin.payload = minted.payload;
    cin.context = Context(1);
    cin.native_txs_hash = mc::ain_native_txs_hash(in.txs);
    mc::connect_block(cin);

    mc::MetaDisconnectBlockInput din{};
    din.block_hash = minted.block_hash;
    const auto res = mc::disconnect_block(din);
    EXPECT_EQ(res.number, 0u);
    EXPECT_EQ(mc::get_tip().total_supply, 0);
    EXPECT_THROW(mc::disconnect_block(din), rust::Error);
}

TEST_F(FfiTest, BadAddressIsAClearError)
{
    mc::MetaGetBalanceInput bal{};
    bal.address = "bcrt1notameta";
    try {
        mc::get_balance(bal);
        FAIL() << "expected an exception";
    } catch (const rust::Error& e) {
        EXPECT_NE(std::string(e.what()).find("invalid meta address"), std::string::npos) << e.what();
    }
}

TEST_F(FfiTest, BackendInterfaceReachesTheSameEngine)
{
    // The FFI engine is process-wide: a second init is refused.
    EXPECT_THROW(metachain::MakeFfiBackend((m_dir.path() / "other").string(), ""), metachain::Error);
}

} // namespace
