// The native chain: serialization, signatures, block validation with every
// rejection leaving the state unchanged, connect/disconnect, reorgs, mempool.
#include <bech32.h>
#include <consensus/block.h>
#include <consensus/consensus.h>
#include <node/miner.h>
#include <serialize.h>
#include <test/test_util.h>
#include <txmempool.h>
#include <validation.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

namespace {

const ChainParams& P() { return RegtestParams(); }

std::string Addr(const CKey& k) { return EncodeAddress(P().address_hrp, HashPubKey(k.GetPubKey())); }

CTransaction Transfer(const CKey& from, const std::string& to, CAmount amount, uint64_t nonce, CAmount fee = 10000)
{
    CTransaction tx;
    tx.type = TxType::Transfer;
    tx.from = from.GetPubKey();
    tx.to = to;
    tx.amount = amount;
    tx.fee = fee;
    tx.nonce = nonce;
    tx.signature = from.Sign(tx.SignatureHash());
    return tx;
}

// ProcessNewBlock as submitblock reports it: "" or why not.
std::string Process(ChainState& chain, const CBlock& block)
{
    BlockValidationState state;
    return chain.ProcessNewBlock(block, state) ? "" : state.ToString();
}

// Re-mines a block after its content changed, so only the change is wrong.
void Remine(CBlock& b, bool fix_merkle = true)
{
    if (fix_merkle) b.header.merkle_root = b.ComputeMerkleRoot();
    b.header.nonce = 0;
    while (!CheckProofOfWork(b.GetHash(), b.header.bits))
        ++b.header.nonce;
}

class ChainTest : public ::testing::Test {
protected:
    ChainTest() : mempool(P()), chain(P(), dir.path().string(), mempool) {}

    CBlock Mine(const std::string& to) { return CreateNewBlock(chain, mempool, to, 1700000100); }
    void MineAndConnect(const std::string& to) { ASSERT_EQ(Process(chain, Mine(to)), ""); }
    AccountLookup Lookup()
    {
        return [this](const KeyHash& k) { return chain.GetAccount(k); };
    }
    // Checks that `block` is refused with `reason` and nothing changed.
    void ExpectRejected(const CBlock& block, const std::string& reason)
    {
        const uint256 tip = chain.Tip()->hash;
        const CAmount total = chain.TotalBalances();
        const auto err = Process(chain, block);
        EXPECT_NE(err, "");
        EXPECT_NE(err.find(reason) == std::string::npos ? std::string() : reason, "") << err;
        EXPECT_EQ(chain.Tip()->hash, tip);
        EXPECT_EQ(chain.TotalBalances(), total);
    }

    test::TempDir dir;
    Mempool mempool;
    ChainState chain;
    CKey alice = CKey::Generate(), bob = CKey::Generate();
};

TEST(Primitives, TxAndBlockRoundTrip)
{
    const CKey k = CKey::Generate();
    CTransaction tx = Transfer(k, Addr(k), 5 * COIN, 3);
    EXPECT_EQ(CTransaction::Deserialize(tx.Serialize()).GetHash(), tx.GetHash());
    CBlock b = P().Genesis();
    b.vtx.push_back(tx);
    b.payload = {1, 2, 3};
    const CBlock back = CBlock::Deserialize(b.Serialize());
    EXPECT_EQ(back.GetHash(), b.GetHash());
    EXPECT_EQ(back.vtx.size(), 2u);
    EXPECT_EQ(back.payload, b.payload);
    auto bytes = b.Serialize();
    bytes.pop_back();
    EXPECT_THROW(CBlock::Deserialize(bytes), SerializeError);
}

TEST(Primitives, SignaturesBindTheirTx)
{
    const CKey k = CKey::Generate();
    CTransaction tx = Transfer(k, Addr(k), COIN, 0);
    EXPECT_TRUE(VerifySignature(tx.from, tx.SignatureHash(), tx.signature));
    tx.amount += 1;
    EXPECT_FALSE(VerifySignature(tx.from, tx.SignatureHash(), tx.signature));
}

TEST(Primitives, AddressesAndAmounts)
{
    const CKey k = CKey::Generate();
    const std::string a = Addr(k);
    EXPECT_EQ(DecodeAddress(a, "dfrt"), HashPubKey(k.GetPubKey()));
    EXPECT_FALSE(DecodeAddress(a, "df")) << "another network's prefix";
    std::string flipped = a;
    flipped.back() = flipped.back() == 'q' ? 'p' : 'q';
    EXPECT_FALSE(DecodeAddress(flipped, "dfrt"));
    EXPECT_EQ(ParseMoney("0.1"), 10000000);
    EXPECT_EQ(ParseMoney("12"), 12 * COIN);
    EXPECT_FALSE(ParseMoney("0.123456789"));
    EXPECT_FALSE(ParseMoney("-1"));
    EXPECT_FALSE(ParseMoney("2000000000"));
    EXPECT_EQ(FormatMoney(150000000), "1.50000000");
    EXPECT_FALSE(CheckedAdd(MAX_MONEY, 1));
}

TEST_F(ChainTest, MiningPaysRewardAndTransfersMoveFunds)
{
    MineAndConnect(Addr(alice));
    EXPECT_EQ(chain.Tip()->height(), 1u);
    EXPECT_EQ(chain.GetAccount(HashPubKey(alice.GetPubKey())).balance, 50 * COIN);
    ASSERT_EQ(mempool.Accept(Transfer(alice, Addr(bob), 10 * COIN, 0), Lookup()).ToString(), "");
    MineAndConnect(Addr(bob));
    EXPECT_EQ(chain.GetAccount(HashPubKey(alice.GetPubKey())).balance, 40 * COIN - 10000);
    EXPECT_EQ(chain.GetAccount(HashPubKey(bob.GetPubKey())).balance, 10 * COIN + 50 * COIN + 10000);
    EXPECT_EQ(mempool.Size(), 0u);
    EXPECT_EQ(chain.TotalBalances(), 100 * COIN);
}

TEST_F(ChainTest, InvalidBlocksAreRejectedAndChangeNothing)
{
    MineAndConnect(Addr(alice));
    const CBlock good = [&] {
        EXPECT_EQ(mempool.Accept(Transfer(alice, Addr(bob), COIN, 0), Lookup()).ToString(), "");
        return Mine(Addr(bob));
    }();

    CBlock bad_sig = good;
    bad_sig.vtx[1].signature[5] ^= 1;
    Remine(bad_sig);
    ExpectRejected(bad_sig, "bad signature");

    CBlock bad_nonce = good;
    bad_nonce.vtx[1] = Transfer(alice, Addr(bob), COIN, 7);
    Remine(bad_nonce);
    ExpectRejected(bad_nonce, "bad nonce");

    CBlock overspend = good;
    overspend.vtx[1] = Transfer(alice, Addr(bob), 51 * COIN, 0);
    overspend.vtx[0].amount = P().block_reward + overspend.vtx[1].fee;
    Remine(overspend);
    ExpectRejected(overspend, "insufficient funds");

    CBlock overflow = good;
    overflow.vtx[1] = Transfer(alice, Addr(bob), MAX_MONEY, 0, MAX_MONEY);
    Remine(overflow);
    ExpectRejected(overflow, "overflows");

    CBlock bad_merkle = good;
    bad_merkle.vtx[1].amount += 1;
    Remine(bad_merkle, false);
    ExpectRejected(bad_merkle, "bad-txnmrklroot");

    CBlock bad_pow = good;
    while (CheckProofOfWork(bad_pow.GetHash(), bad_pow.header.bits))
        ++bad_pow.header.nonce;
    ExpectRejected(bad_pow, "high-hash");

    CBlock bad_prev = good;
    bad_prev.header.prev[0] ^= 1;
    Remine(bad_prev);
    ExpectRejected(bad_prev, "prev-blk-not-found");

    CBlock bad_reward = good;
    bad_reward.vtx[0].amount += 1;
    Remine(bad_reward);
    ExpectRejected(bad_reward, "bad-cb-amount");

    CBlock with_payload = good;
    with_payload.payload = {1};
    with_payload.header.payload_hash = PayloadHash(with_payload.payload);
    Remine(with_payload);
    ExpectRejected(with_payload, "no metachain");

    // The good block still connects afterwards.
    EXPECT_EQ(Process(chain, good), "");
    EXPECT_EQ(chain.Tip()->hash, good.GetHash());
}

TEST_F(ChainTest, InvalidateAndReconsiderRestoreBalancesExactly)
{
    MineAndConnect(Addr(alice));
    const CAmount after1 = chain.GetAccount(HashPubKey(alice.GetPubKey())).balance;
    ASSERT_EQ(mempool.Accept(Transfer(alice, Addr(bob), 3 * COIN, 0), Lookup()).ToString(), "");
    MineAndConnect(Addr(alice));
    MineAndConnect(Addr(alice));
    const uint256 h2 = chain.AtHeight(2)->hash, tip = chain.Tip()->hash;

    ASSERT_EQ(chain.InvalidateBlock(h2), "");
    EXPECT_EQ(chain.Tip()->height(), 1u);
    EXPECT_EQ(chain.GetAccount(HashPubKey(alice.GetPubKey())).balance, after1);
    EXPECT_EQ(chain.GetAccount(HashPubKey(bob.GetPubKey())).balance, 0);
    EXPECT_EQ(mempool.Size(), 1u) << "the disconnected transfer returns to the mempool";

    ASSERT_EQ(chain.ReconsiderBlock(h2), "");
    EXPECT_EQ(chain.Tip()->hash, tip);
    EXPECT_EQ(chain.GetAccount(HashPubKey(bob.GetPubKey())).balance, 3 * COIN);
    EXPECT_EQ(mempool.Size(), 0u);
}

TEST_F(ChainTest, TheChainWithMostWorkWins)
{
    MineAndConnect(Addr(alice));
    MineAndConnect(Addr(alice));
    const uint256 old_tip = chain.Tip()->hash;
    ASSERT_EQ(chain.InvalidateBlock(chain.AtHeight(1)->hash), "");
    // A heavier branch from genesis, paying bob.
    for (int i = 0; i < 3; ++i)
        MineAndConnect(Addr(bob));
    ASSERT_EQ(chain.ReconsiderBlock(old_tip), "");
    EXPECT_EQ(chain.Tip()->height(), 3u);
    EXPECT_EQ(chain.GetAccount(HashPubKey(bob.GetPubKey())).balance, 150 * COIN);
    EXPECT_EQ(chain.GetAccount(HashPubKey(alice.GetPubKey())).balance, 0);
}

TEST_F(ChainTest, StateSurvivesReopen)
{
    MineAndConnect(Addr(alice));
    MineAndConnect(Addr(alice));
    const uint256 tip = chain.Tip()->hash;
    Mempool other_pool(P());
    ChainState* reopened = nullptr;
    {
        // A second handle on the same database is refused while the first lives.
        EXPECT_THROW(ChainState(P(), dir.path().string(), other_pool), std::runtime_error);
    }
    (void)reopened;
    EXPECT_EQ(chain.Tip()->hash, tip);
}

TEST_F(ChainTest, MempoolRules)
{
    MineAndConnect(Addr(alice));
    EXPECT_NE(mempool.Accept(Transfer(alice, Addr(bob), COIN, 0, 1), Lookup()).ToString().find("min relay fee"),
              std::string::npos);
    EXPECT_NE(mempool.Accept(Transfer(alice, Addr(bob), COIN, 1), Lookup()).ToString().find("bad nonce"),
              std::string::npos);
    EXPECT_NE(mempool.Accept(Transfer(alice, Addr(bob), 60 * COIN, 0), Lookup()).ToString().find("insufficient"),
              std::string::npos);
    EXPECT_NE(mempool.Accept(Transfer(bob, Addr(alice), COIN, 0), Lookup()).ToString().find("insufficient"),
              std::string::npos);
    EXPECT_NE(mempool.Accept(Transfer(alice, "dfrt1nope", COIN, 0), Lookup()).ToString().find("invalid native address"),
              std::string::npos);
    const auto first = Transfer(alice, Addr(bob), COIN, 0);
    ASSERT_EQ(mempool.Accept(first, Lookup()).ToString(), "");
    EXPECT_EQ(mempool.Accept(first, Lookup()).ToString(), "txn-already-in-mempool");
    EXPECT_NE(mempool.Accept(Transfer(alice, Addr(bob), 2 * COIN, 0), Lookup()).ToString().find("nonce"),
              std::string::npos);
    ASSERT_EQ(mempool.Accept(Transfer(alice, Addr(bob), COIN, 1), Lookup()).ToString(), "") << "nonce order per sender";
    EXPECT_NE(mempool.Accept(Transfer(alice, Addr(bob), 48 * COIN, 2), Lookup()).ToString().find("insufficient"),
              std::string::npos)
        << "pending spends count";
    EXPECT_EQ(mempool.Size(), 2u);
    MineAndConnect(Addr(bob));
    EXPECT_EQ(mempool.Size(), 0u);
}

// The pool is on disk: each step below reopens the node on the same datadir,
// as a restart after a crash does, and checks what the pool reloads.
TEST(MempoolStore, SurvivesRestartsAndFollowsBlocks)
{
    test::TempDir dir;
    const CKey alice = CKey::Generate(), bob = CKey::Generate();
    const CTransaction t0 = Transfer(alice, Addr(bob), COIN, 0), t1 = Transfer(alice, Addr(bob), COIN, 1);
    struct Node {
        Mempool pool{P()};
        ChainState chain;
        explicit Node(const test::TempDir& d) : chain(P(), d.path().string(), pool) {}
        AccountLookup Lookup()
        {
            return [this](const KeyHash& k) { return chain.GetAccount(k); };
        }
        std::string Mine(const std::string& to) { return Process(chain, CreateNewBlock(chain, pool, to, 1700000100)); }
    };
    {
        Node n(dir);
        EXPECT_EQ(n.chain.LoadMempool(), 0u);
        ASSERT_EQ(n.Mine(Addr(alice)), "");
        ASSERT_EQ(n.pool.Accept(t0, n.Lookup()).ToString(), "");
    }
    {
        Node n(dir);
        EXPECT_EQ(n.chain.LoadMempool(), 1u) << "an accepted tx survives a restart";
        EXPECT_TRUE(n.pool.Contains(t0.GetHash()));
        ASSERT_EQ(n.Mine(Addr(bob)), "");
        EXPECT_EQ(n.pool.Size(), 0u);
        ASSERT_EQ(n.pool.Accept(t1, n.Lookup()).ToString(), "");
    }
    uint256 h1, h2;
    {
        Node n(dir);
        EXPECT_EQ(n.chain.LoadMempool(), 1u) << "the tx the block included is not reloaded";
        EXPECT_TRUE(n.pool.Contains(t1.GetHash()));
        h1 = n.chain.AtHeight(1)->hash;
        h2 = n.chain.AtHeight(2)->hash;
        ASSERT_EQ(n.chain.InvalidateBlock(h2), "");
        EXPECT_EQ(n.pool.Size(), 2u) << "the disconnected tx is back, before t1";
    }
    {
        Node n(dir);
        EXPECT_EQ(n.chain.LoadMempool(), 2u) << "the disconnect stored its txs";
        // Without block 1 alice has nothing: both txs are dropped, from disk too.
        ASSERT_EQ(n.chain.InvalidateBlock(h1), "");
        EXPECT_EQ(n.pool.Size(), 0u);
        ASSERT_EQ(n.chain.ReconsiderBlock(h1), "");
        EXPECT_EQ(n.chain.Tip()->hash, h2);
    }
    {
        Node n(dir);
        EXPECT_EQ(n.chain.LoadMempool(), 0u) << "dropped txs stay dropped";
        ASSERT_EQ(n.pool.Accept(t1, n.Lookup()).ToString(), "");
        n.pool.RemoveRefused(t1.GetHash());
    }
    {
        Node n(dir);
        EXPECT_EQ(n.chain.LoadMempool(), 0u) << "a removed tx is erased";
    }
}

} // namespace

TEST_F(ChainTest, NothingButADepositPaysTheLockAddress)
{
    MineAndConnect(Addr(alice));
    const std::string lock = P().LockAddress();
    // Mempool: refused with the reason, nothing admitted.
    EXPECT_NE(mempool.Accept(Transfer(alice, lock, COIN, 0), Lookup()).ToString().find("lock address"),
              std::string::npos);
    EXPECT_EQ(mempool.Size(), 0u);
    // Blocks: a transfer to it, or a coinbase paying it, is invalid.
    EXPECT_EQ(mempool.Accept(Transfer(alice, Addr(bob), COIN, 0), Lookup()).ToString(), "");
    const CBlock good = Mine(Addr(bob));
    CBlock transfer = good;
    transfer.vtx[1] = Transfer(alice, lock, COIN, 0);
    Remine(transfer);
    ExpectRejected(transfer, "pays the lock address");
    CBlock coinbase = good;
    coinbase.vtx[0].to = lock;
    Remine(coinbase);
    ExpectRejected(coinbase, "bad-cb-pays the lock address");
    EXPECT_EQ(chain.GetAccount(P().lock_address).balance, 0);
    EXPECT_EQ(Process(chain, good), "");
}

TEST(Primitives, AddressFieldsArePrintableAscii)
{
    const CKey k = CKey::Generate();
    CTransaction tx = Transfer(k, std::string("dfrt1\xff\xfe", 7), COIN, 0);
    try {
        CTransaction::Deserialize(tx.Serialize());
        ADD_FAILURE() << "a 0xff address byte decoded";
    } catch (const SerializeError& e) {
        EXPECT_NE(std::string(e.what()).find("not printable ASCII"), std::string::npos);
    }
    // A length prefix past the end says so, not "over limit".
    std::vector<uint8_t> bytes = Transfer(k, Addr(k), COIN, 0).Serialize();
    bytes.resize(40);
    try {
        CTransaction::Deserialize(bytes);
        ADD_FAILURE() << "a truncated tx decoded";
    } catch (const SerializeError& e) {
        EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
}

TEST(Consensus, BlockAndPayloadSizesAreCapped)
{
    CBlock b = P().Genesis();
    b.payload.assign(MAX_PAYLOAD_SIZE + 1, 0);
    b.header.payload_hash = PayloadHash(b.payload);
    Remine(b);
    BlockValidationState state;
    EXPECT_FALSE(CheckBlock(b, P(), state));
    EXPECT_EQ(state.GetRejectReason(), "bad-payload-length");
    EXPECT_EQ(state.GetResult(), BlockValidationResult::BLOCK_CONSENSUS);
    EXPECT_TRUE(SenderToBlame(state.GetResult()));
}

TEST(Consensus, RepeatedTxsAreACorruptCopyNotAnInvalidBlock)
{
    const CKey k = CKey::Generate();
    CBlock b = P().Genesis();
    // [coinbase, t, t, t] has the merkle root of [coinbase, t, t]... or the
    // same txid twice: either way the copy is mutated.
    b.vtx.push_back(Transfer(k, Addr(k), COIN, 0));
    b.vtx.push_back(b.vtx.back());
    Remine(b);
    BlockValidationState state;
    EXPECT_FALSE(CheckBlock(b, P(), state));
    EXPECT_EQ(state.GetRejectReason(), "bad-txns-duplicate");
    EXPECT_EQ(state.GetResult(), BlockValidationResult::BLOCK_MUTATED);
}

TEST(Consensus, TxResultsSayWhoIsToBlame)
{
    const CKey k = CKey::Generate();
    AccountView view([](const KeyHash&) { return Account{}; });
    CAmount fees = 0;
    TxValidationState poor;
    EXPECT_FALSE(ApplyTx(view, Transfer(k, Addr(k), COIN, 0), P(), fees, poor));
    EXPECT_EQ(poor.GetResult(), TxValidationResult::TX_INSUFFICIENT_FUNDS);
    EXPECT_FALSE(SenderToBlame(poor.GetResult()));
    CTransaction forged = Transfer(k, Addr(k), COIN, 0);
    forged.signature[3] ^= 1;
    TxValidationState bad;
    EXPECT_FALSE(ApplyTx(view, forged, P(), fees, bad));
    EXPECT_EQ(bad.GetRejectReason(), "bad signature");
    EXPECT_TRUE(SenderToBlame(bad.GetResult()));
}

TEST_F(ChainTest, HeadersFirstThenBlocksInAnyOrder)
{
    // A second node's chain of 30 blocks.
    test::TempDir other_dir;
    Mempool other_pool(P());
    ChainState other(P(), other_dir.path().string(), other_pool);
    std::vector<CBlock> blocks;
    for (int i = 0; i < 30; ++i) {
        blocks.push_back(CreateNewBlock(other, other_pool, Addr(bob), 1700000100 + i));
        ASSERT_EQ(Process(other, blocks.back()), "");
    }
    // Headers arrive first: indexed, nothing connected.
    for (const auto& b : blocks) {
        BlockValidationState state;
        ASSERT_TRUE(chain.AcceptBlockHeader(b.header, state)) << state.ToString();
    }
    EXPECT_EQ(chain.BestHeader()->hash, blocks.back().GetHash());
    EXPECT_EQ(chain.Tip()->height(), 0u);
    // A header that does not connect, or lacks proof of work, is refused.
    CBlockHeader orphan = blocks[5].header;
    orphan.prev[0] ^= 1;
    while (!CheckProofOfWork(orphan.GetHash(), orphan.bits))
        ++orphan.nonce;
    BlockValidationState orphan_state;
    EXPECT_FALSE(chain.AcceptBlockHeader(orphan, orphan_state));
    EXPECT_EQ(orphan_state.GetResult(), BlockValidationResult::BLOCK_MISSING_PREV);
    CBlockHeader weak = blocks[0].header;
    while (CheckProofOfWork(weak.GetHash(), weak.bits))
        ++weak.nonce;
    BlockValidationState weak_state;
    EXPECT_FALSE(chain.AcceptBlockHeader(weak, weak_state));
    EXPECT_EQ(weak_state.GetResult(), BlockValidationResult::BLOCK_INVALID_HEADER);
    // Blocks from the top down: the tip moves only when the gap below is filled.
    for (int i = 29; i >= 10; --i)
        ASSERT_EQ(Process(chain, blocks[i]), "");
    EXPECT_EQ(chain.Tip()->height(), 0u);
    for (int i = 0; i < 10; ++i)
        ASSERT_EQ(Process(chain, blocks[i]), "");
    EXPECT_EQ(chain.Tip()->hash, blocks.back().GetHash());
    EXPECT_EQ(chain.GetAccount(HashPubKey(bob.GetPubKey())).balance, 30 * 50 * COIN);
    // The locator: dense near the tip, sparse below, genesis last; the fork
    // point of another chain's locator is found.
    const auto locator = chain.GetLocator(chain.Tip());
    EXPECT_EQ(locator.front(), chain.Tip()->hash);
    EXPECT_EQ(locator.back(), P().Genesis().GetHash());
    EXPECT_LE(locator.size(), ChainState::MAX_LOCATOR_SIZE);
    EXPECT_EQ(chain.FindFork(other.GetLocator(other.AtHeight(17)))->height(), 17u);
    EXPECT_EQ(chain.FindFork({uint256{}})->height(), 0u);
}

namespace {
const char* const META = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";

CTransaction MetaWithdrawal(const std::string& meta_from, const std::string& to, CAmount amount, size_t sig_size)
{
    CTransaction tx;
    tx.type = TxType::WithdrawFromMetachain;
    tx.meta_from = meta_from;
    tx.to = to;
    tx.amount = amount;
    tx.fee = 10000;
    tx.meta_nonce = 7;
    for (size_t i = 0; i < sig_size; ++i)
        tx.meta_signature.push_back(static_cast<uint8_t>(i + 1));
    return tx;
}

CTransaction MetaDeposit(const CKey& from, const std::string& to, CAmount amount, uint64_t nonce)
{
    CTransaction tx = Transfer(from, to, amount, nonce);
    tx.type = TxType::DepositToMetachain;
    tx.signature = from.Sign(tx.SignatureHash());
    return tx;
}
} // namespace

// The withdrawal's wire format: 0x meta account, account nonce and a 65-byte
// EIP-712 signature (no meta pubkey).
TEST(Primitives, WithdrawalsRoundTripWithA65ByteSignature)
{
    const CKey k = CKey::Generate();
    const CTransaction tx = MetaWithdrawal(META, Addr(k), COIN, META_SIGNATURE_SIZE);
    const auto bytes = tx.Serialize();
    const CTransaction back = CTransaction::Deserialize(bytes);
    EXPECT_EQ(back.GetHash(), tx.GetHash());
    EXPECT_EQ(back.meta_from, META);
    EXPECT_EQ(back.meta_nonce, 7u);
    EXPECT_EQ(back.meta_signature, tx.meta_signature);
    EXPECT_EQ(back.Serialize(), bytes);
    // The layout: type, from (33), to, amount, fee, nonce, meta_from,
    // meta_nonce, meta_signature, signature; strings and bytes u32-prefixed.
    EXPECT_EQ(bytes.size(), 1 + 33 + (4 + tx.to.size()) + 8 + 8 + 8 + (4 + 42) + 8 + (4 + 65) + 4);
    // A longer signature, or a longer meta address, does not decode.
    EXPECT_THROW(CTransaction::Deserialize(MetaWithdrawal(META, Addr(k), COIN, 66).Serialize()), SerializeError);
    EXPECT_THROW(CTransaction::Deserialize(MetaWithdrawal(std::string(META) + "0", Addr(k), COIN, 65).Serialize()),
                 SerializeError);
}

TEST(Consensus, MetaAddressesAndSignaturesAreChecked)
{
    const CKey k = CKey::Generate();
    AccountView view([&](const KeyHash& key) {
        Account a{};
        if (key == HashPubKey(k.GetPubKey()) || key == P().lock_address) a.balance = 100 * COIN;
        return a;
    });
    const auto apply = [&](const CTransaction& tx) {
        AccountView trial = view;
        CAmount fees = 0;
        TxValidationState state;
        ApplyTx(trial, tx, P(), fees, state);
        return state.ToString();
    };
    // Deposits: to a 0x address in any accepted spelling, never to anything else.
    std::string lower = META;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return std::tolower(c); });
    EXPECT_EQ(apply(MetaDeposit(k, META, COIN, 0)), "");
    EXPECT_EQ(apply(MetaDeposit(k, lower, COIN, 0)), "");
    std::string bad_checksum = META;
    bad_checksum[3] = 'e';
    for (const std::string& bad : {bad_checksum, std::string("dmc1qyqszqgpqyqszqgpqyqszqgpqyqszqgpt29jqg"),
                                   std::string(META).substr(0, 41), Addr(k), std::string()}) {
        const std::string why = apply(MetaDeposit(k, bad, COIN, 0));
        EXPECT_NE(why.find("invalid meta address"), std::string::npos) << bad << ": " << why;
    }
    // Withdrawals: a 0x account and exactly 65 signature bytes; the metachain
    // checks the signature itself.
    EXPECT_EQ(apply(MetaWithdrawal(META, Addr(k), COIN, 65)), "");
    EXPECT_NE(apply(MetaWithdrawal(bad_checksum, Addr(k), COIN, 65)).find("invalid meta address"), std::string::npos);
    EXPECT_NE(apply(MetaWithdrawal(META, Addr(k), COIN, 64)).find("meta signature is 64 bytes"), std::string::npos);
    EXPECT_NE(apply(MetaWithdrawal(META, Addr(k), COIN, 0)).find("meta signature"), std::string::npos);
    EXPECT_NE(apply(MetaWithdrawal(META, META, COIN, 65)).find("invalid native address"), std::string::npos);
}

TEST(Mempool, EverySpellingOfAMetaAccountIsOneSender)
{
    const CKey k = CKey::Generate();
    std::string lower = META;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return std::tolower(c); });
    EXPECT_EQ(SenderKey(MetaWithdrawal(META, Addr(k), COIN, 65)),
              SenderKey(MetaWithdrawal(lower, Addr(k), 2 * COIN, 65)));
}
