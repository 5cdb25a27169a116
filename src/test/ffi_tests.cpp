// The in-process bridge (libmc.h): the pure meta_* functions (keys,
// addresses, signatures, hashes), then the engine's calls, balances, errors
// and panics.
#include <libmc.h>
#include <rust/cxx.h>
#include <metachain/backend.h>
#include <metachain/bridge.h>
#include <test/test_util.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <string>

namespace {

// Keys 1 and 2 as Ethereum keys; ALICE is key 1's well-known address.
CKey KeyOf(uint8_t n)
{
    std::array<uint8_t, 32> secret{};
    secret[31] = n;
    return *CKey::FromSecret(secret);
}
const std::string ALICE = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
// A regtest native address: a deposit's sender and a withdrawal's recipient.
const char* const NATIVE = "dfrt19afet3nqxd0frqa3f7ux0zaayjav8xp4femlxh";
const uint64_t REGTEST_CHAIN_ID = 1132;

// A distinct 32-byte native txid.
rust::Vec<uint8_t> Txid(uint8_t n)
{
    std::array<uint8_t, 32> id{};
    id[0] = 0xaa;
    id[31] = n;
    return metachain::ToRustBytes(id);
}

mc::NativeTx Deposit(const std::string& to, int64_t amount, uint8_t txid)
{
    mc::NativeTx tx{};
    tx.kind = mc::TxKind::Deposit;
    tx.from = NATIVE;
    tx.to = to;
    tx.amount = amount;
    tx.native_txid = Txid(txid);
    return tx;
}

mc::NativeTx Withdrawal(const CKey& key, int64_t amount, uint64_t nonce, uint8_t txid)
{
    mc::NativeTx tx{};
    tx.kind = mc::TxKind::Withdraw;
    tx.from = metachain::AddressOfKey(key);
    tx.to = NATIVE;
    tx.amount = amount;
    tx.nonce = nonce;
    tx.native_txid = Txid(txid);
    tx.signature = metachain::ToRustBytes(metachain::SignWithdrawal(key, REGTEST_CHAIN_ID, NATIVE, amount, nonce));
    return tx;
}

mc::NativeContext Context(uint64_t height)
{
    mc::NativeContext ctx{};
    ctx.height = height;
    ctx.time = 1700000000 + static_cast<int64_t>(height);
    return ctx;
}

std::string What(const std::function<void()>& f)
{
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

// The pure functions need no engine.
TEST(FfiBridge, AddressesAndKeys)
{
    EXPECT_EQ(metachain::AddressOfKey(KeyOf(1)), ALICE);
    std::string lower = ALICE, upper = ALICE;
    for (size_t i = 2; i < lower.size(); ++i) {
        lower[i] = static_cast<char>(std::tolower(lower[i]));
        upper[i] = static_cast<char>(std::toupper(upper[i]));
    }
    EXPECT_EQ(metachain::ParseAddress(lower), ALICE);
    EXPECT_EQ(metachain::ParseAddress(upper), ALICE);
    EXPECT_EQ(metachain::ParseAddress(ALICE), ALICE);
    std::string why;
    std::string bad_checksum = ALICE;
    bad_checksum[3] = 'e'; // 7E5F -> 7e5F: the same address in mixed case, off its checksum
    EXPECT_FALSE(metachain::ParseAddress(bad_checksum, &why));
    EXPECT_NE(why.find("checksum"), std::string::npos) << why;
    for (const std::string& bad :
         {std::string("dmc1qyqszqgpqyqszqgpqyqszqgpqyqszqgpt29jqg"), ALICE.substr(0, 41), ALICE + "0", ALICE.substr(2),
          std::string("0x") + std::string(40, 'g'), std::string("0x\xff", 3), std::string()}) {
        EXPECT_FALSE(metachain::ParseAddress(bad, &why)) << bad;
        EXPECT_FALSE(why.empty());
    }
    EXPECT_EQ(metachain::AddressKey(ALICE), lower);
}

TEST(FfiBridge, ChainIdsHashesAndWei)
{
    EXPECT_EQ(metachain::ChainId("main"), 1130u);
    EXPECT_EQ(metachain::ChainId("testnet"), 1131u);
    EXPECT_EQ(metachain::ChainId("regtest"), REGTEST_CHAIN_ID);
    EXPECT_THROW(metachain::ChainId("mainnet"), std::runtime_error);
    // keccak256 of nothing.
    EXPECT_TRUE(metachain::SameHash(metachain::TxHash({}),
                                    "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"));
    EXPECT_TRUE(metachain::SameHash("0xABcd", "abcd"));
    EXPECT_FALSE(metachain::SameHash("0xabcd", "abce"));
    EXPECT_EQ(metachain::WeiOf(0), "0");
    EXPECT_EQ(metachain::WeiOf(150000000), "1500000000000000000");
    EXPECT_EQ(metachain::FormatWei("1500000000000000000"), "1.500000000000000000");
    EXPECT_EQ(metachain::FormatWei("1"), "0.000000000000000001");
    EXPECT_THROW(metachain::FormatWei("-1"), std::exception);
}

TEST(FfiBridge, SignaturesAndTransfers)
{
    const CKey alice = KeyOf(1);
    const auto sig = metachain::SignWithdrawal(alice, REGTEST_CHAIN_ID, NATIVE, 100, 0);
    ASSERT_EQ(sig.size(), 65u);
    EXPECT_TRUE(sig[64] == 27 || sig[64] == 28);
    // Deterministic (RFC 6979), and bound to every field.
    EXPECT_EQ(metachain::SignWithdrawal(alice, REGTEST_CHAIN_ID, NATIVE, 100, 0), sig);
    EXPECT_NE(metachain::SignWithdrawal(alice, REGTEST_CHAIN_ID, NATIVE, 100, 1), sig);
    EXPECT_NE(metachain::SignWithdrawal(alice, REGTEST_CHAIN_ID, NATIVE, 101, 0), sig);
    EXPECT_NE(metachain::SignWithdrawal(alice, 1130, NATIVE, 100, 0), sig);

    const auto raw = metachain::SignTransfer(alice, REGTEST_CHAIN_ID, 0, metachain::AddressOfKey(KeyOf(2)),
                                             "10000000000", 3000000000, 1000000000, 21000);
    ASSERT_FALSE(raw.empty());
    EXPECT_EQ(raw[0], 0x02) << "an EIP-1559 tx";
    const std::string hash = metachain::TxHash(raw);
    EXPECT_EQ(hash.size(), 66u);
    EXPECT_EQ(hash.rfind("0x", 0), 0u);
    EXPECT_NE(What([&] { metachain::SignTransfer(alice, REGTEST_CHAIN_ID, 0, "0xnope", "1", 1, 1, 21000); }), "");
    EXPECT_NE(What([&] { metachain::SignTransfer(alice, REGTEST_CHAIN_ID, 0, ALICE, "-1", 1, 1, 21000); }), "");
}

class FfiTest : public ::testing::Test {
protected:
    void SetUp() override { mc::ain_init((m_dir.path() / "metachain").string(), ""); }
    void TearDown() override { mc::ain_shutdown(); }

    // Mints a block at the next height with `txs` and connects it.
    mc::MetaMintBlockResult MintAndConnect(rust::Vec<mc::NativeTx> txs)
    {
        const uint64_t height = mc::get_tip().number + 1;
        mc::MetaMintBlockInput in{};
        in.txs = txs;
        in.context = Context(height);
        const auto minted = mc::mint_block(in);
        mc::MetaConnectBlockInput cin{};
        cin.payload = minted.payload;
        cin.context = Context(height);
        // The refused ones are left out, as the miner leaves them out.
        rust::Vec<mc::NativeTx> kept;
        for (const auto& tx : txs) {
            bool refused = false;
            for (const auto& r : minted.refused)
                refused = refused || std::equal(r.native_txid.begin(), r.native_txid.end(), tx.native_txid.begin(),
                                                tx.native_txid.end());
            if (!refused) kept.push_back(tx);
        }
        cin.native_txs_hash = mc::ain_native_txs_hash(kept);
        EXPECT_EQ(std::string(mc::connect_block(cin).block_hash), std::string(minted.block_hash));
        return minted;
    }
    std::string BalanceWei(const std::string& address)
    {
        mc::MetaGetBalanceInput in{};
        in.address = address;
        return std::string(mc::get_balance(in).balance_wei);
    }
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

// The chain id is fixed when the database is made: reopening it as another
// network's is refused.
TEST(FfiLifecycle, TheChainIsTheNetworks)
{
    test::TempDir dir;
    mc::ain_init(dir.path().string(), "--chain=main");
    EXPECT_EQ(mc::get_tip().chain_id, 1130u);
    mc::ain_shutdown();
    EXPECT_THROW(mc::ain_init(dir.path().string(), "--chain=regtest"), rust::Error);
    EXPECT_FALSE(mc::ain_is_initialized());
    mc::ain_init(dir.path().string(), "--chain=main");
    EXPECT_EQ(mc::get_tip().chain_id, 1130u);
    mc::ain_shutdown();
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
    EXPECT_EQ(std::string(genesis.supply_wei), "0");
    EXPECT_EQ(std::string(genesis.burned_wei), "0");
    EXPECT_EQ(genesis.chain_id, REGTEST_CHAIN_ID) << "regtest unless --chain says otherwise";

    const std::string bob = metachain::AddressOfKey(KeyOf(2));
    mc::MetaMintBlockInput in{};
    in.txs.push_back(Deposit(ALICE, 150000000, 1));
    in.txs.push_back(Deposit(bob, 25, 2));
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
    // The block hash is keccak256 of the payload, which defid computes too.
    const std::vector<uint8_t> payload(minted.payload.begin(), minted.payload.end());
    EXPECT_TRUE(metachain::SameHash(metachain::BlockHash(payload), std::string(minted.block_hash)));

    EXPECT_EQ(BalanceWei(ALICE), "1500000000000000000");
    EXPECT_EQ(BalanceWei(bob), "250000000000");
    EXPECT_EQ(std::string(mc::get_tip().supply_wei), "1500000250000000000");

    // Connecting the tip again is idempotent.
    EXPECT_EQ(std::string(mc::connect_block(cin).block_hash), std::string(minted.block_hash));
    EXPECT_EQ(std::string(mc::get_tip().supply_wei), "1500000250000000000");

    mc::MetaGetBlockInput bin{};
    bin.block_id = "1";
    const auto block = mc::get_block(bin);
    EXPECT_EQ(std::string(block.hash), std::string(minted.block_hash));
    ASSERT_EQ(block.block.system_txs.size(), 2u);
    EXPECT_EQ(std::string(block.block.system_txs[1].to), bob);
    EXPECT_TRUE(block.block.transactions.empty());
    EXPECT_EQ(block.block.header.beneficiary.size(), 20u);
    EXPECT_EQ(block.block.header.logs_bloom.size(), 256u);
}

TEST_F(FfiTest, WithdrawalsNeedTheAccountsEip712Signature)
{
    MintAndConnect([] {
        rust::Vec<mc::NativeTx> txs;
        txs.push_back(Deposit(ALICE, 1000, 1));
        return txs;
    }());
    mc::MetaMintBlockInput in{};
    in.context = Context(2);
    // A stranger's signature, a wrong nonce, a broken signature, too much.
    mc::NativeTx stranger = Withdrawal(KeyOf(2), 100, 0, 10);
    stranger.from = ALICE;
    in.txs.push_back(stranger);
    in.txs.push_back(Withdrawal(KeyOf(1), 100, 5, 11));
    mc::NativeTx broken = Withdrawal(KeyOf(1), 100, 0, 12);
    broken.signature[10] ^= 1;
    in.txs.push_back(broken);
    in.txs.push_back(Withdrawal(KeyOf(1), 1001, 0, 13));
    EXPECT_EQ(mc::mint_block(in).refused.size(), 4u);

    const auto minted = MintAndConnect([] {
        rust::Vec<mc::NativeTx> txs;
        txs.push_back(Withdrawal(KeyOf(1), 400, 0, 14));
        return txs;
    }());
    EXPECT_TRUE(minted.refused.empty());
    EXPECT_EQ(BalanceWei(ALICE), "6000000000000");
    mc::MetaGetBalanceInput bal{};
    bal.address = ALICE;
    EXPECT_EQ(mc::get_balance(bal).nonce, 1u);
    EXPECT_EQ(std::string(mc::get_tip().supply_wei), "6000000000000");
}

TEST_F(FfiTest, ASignedTransferIsMinedWithAReceipt)
{
    MintAndConnect([] {
        rust::Vec<mc::NativeTx> txs;
        txs.push_back(Deposit(ALICE, 100000000, 1)); // 1 coin
        return txs;
    }());
    const std::string bob = metachain::AddressOfKey(KeyOf(2));
    const uint64_t next_base_fee = mc::get_tip().next_base_fee;
    const auto raw = metachain::SignTransfer(KeyOf(1), REGTEST_CHAIN_ID, 0, bob, "250000000000000000",
                                             2 * next_base_fee + 1000000000, 1000000000, 21000);
    mc::MetaSendTransactionInput send{};
    send.raw = metachain::ToRustBytes(raw);
    const std::string hash(mc::send_transaction(send).tx_hash);
    EXPECT_TRUE(metachain::SameHash(hash, metachain::TxHash(raw)));
    mc::MetaGetBalanceInput bal{};
    bal.address = ALICE;
    EXPECT_EQ(mc::get_balance(bal).pending_nonce, 1u);
    // The same tx again is already known.
    EXPECT_NE(What([&] { mc::send_transaction(send); }).find("already"), std::string::npos);

    MintAndConnect({});
    EXPECT_EQ(BalanceWei(bob), "250000000000000000");
    mc::MetaGetReceiptInput rin{};
    rin.tx_hash = hash;
    const auto receipt = mc::get_receipt(rin);
    EXPECT_TRUE(receipt.success);
    EXPECT_EQ(receipt.gas_used, 21000u);
    EXPECT_EQ(receipt.block_number, 2u);
    EXPECT_EQ(receipt.tx_type, 2u);
    EXPECT_EQ(std::string(receipt.from), ALICE);
    EXPECT_EQ(std::string(receipt.to), bob);
    // The invariant: what was deposited is the supply plus the burned base fees.
    const auto tip = mc::get_tip();
    EXPECT_NE(std::string(tip.burned_wei), "0");
    EXPECT_EQ(mc::get_block([] {
                  mc::MetaGetBlockInput b{};
                  b.block_id = "2";
                  return b;
              }())
                  .block.transactions.size(),
              1u);
}

TEST_F(FfiTest, CorruptPayloadIsRejectedAndChangesNothing)
{
    mc::MetaMintBlockInput in{};
    in.txs.push_back(Deposit(ALICE, 10, 1));
    in.context = Context(1);
    const auto minted = mc::mint_block(in);
    const auto before = mc::get_tip();

    mc::MetaConnectBlockInput cin{};
    cin.context = Context(1);
    for (uint8_t b : {0xffu, 0xffu, 0x01u, 0x02u})
        cin.payload.push_back(b);
    cin.native_txs_hash = mc::ain_native_txs_hash(in.txs);
    EXPECT_THROW(mc::connect_block(cin), rust::Error);

    // A valid payload with a commitment to other native txs.
    cin.payload = minted.payload;
    rust::Vec<mc::NativeTx> other;
    other.push_back(Deposit(ALICE, 11, 1));
    cin.native_txs_hash = mc::ain_native_txs_hash(std::move(other));
    EXPECT_THROW(mc::connect_block(cin), rust::Error);

    // A flipped byte inside a valid payload: decodes or not, it must not connect.
    cin.native_txs_hash = mc::ain_native_txs_hash(in.txs);
    cin.payload[cin.payload.size() - 1] ^= 0x01;
    EXPECT_THROW(mc::connect_block(cin), rust::Error);

    const auto after = mc::get_tip();
    EXPECT_EQ(after.number, before.number);
    EXPECT_EQ(std::string(after.hash), std::string(before.hash));
    EXPECT_EQ(BalanceWei(ALICE), "0");
}

TEST_F(FfiTest, RefusedDepositsAreListedWithTheirReason)
{
    mc::MetaMintBlockInput in{};
    in.txs.push_back(Deposit(ALICE, 10, 1));
    in.txs.push_back(Deposit("dmc1notanaddress", 10, 2));
    in.context = Context(1);
    const auto minted = mc::mint_block(in);
    ASSERT_EQ(minted.refused.size(), 1u);
    const auto expected = Txid(2);
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), minted.refused[0].native_txid.begin(),
                           minted.refused[0].native_txid.end()));
    EXPECT_NE(std::string(minted.refused[0].reason).find("invalid meta address"), std::string::npos)
        << std::string(minted.refused[0].reason);
}

TEST_F(FfiTest, DisconnectRollsBack)
{
    const auto minted = MintAndConnect([] {
        rust::Vec<mc::NativeTx> txs;
        txs.push_back(Deposit(ALICE, 10, 1));
        return txs;
    }());
    mc::MetaDisconnectBlockInput din{};
    din.block_hash = minted.block_hash;
    const auto res = mc::disconnect_block(din);
    EXPECT_EQ(res.number, 0u);
    EXPECT_EQ(std::string(mc::get_tip().supply_wei), "0");
    EXPECT_EQ(BalanceWei(ALICE), "0");
    EXPECT_THROW(mc::disconnect_block(din), rust::Error);
}

TEST_F(FfiTest, BadAddressIsAClearError)
{
    mc::MetaGetBalanceInput bal{};
    bal.address = "bcrt1notameta";
    const auto what = What([&] { mc::get_balance(bal); });
    EXPECT_NE(what.find("invalid meta address"), std::string::npos) << what;
}

TEST_F(FfiTest, BackendInterfaceReachesTheSameEngine)
{
    // The FFI engine is process-wide: a second init is refused.
    EXPECT_THROW(metachain::MakeFfiBackend((m_dir.path() / "other").string(), ""), metachain::Error);
}

} // namespace
