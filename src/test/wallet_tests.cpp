// The wallet file: native and meta keys appended and synced one by one, old
// files migrated, a line torn by a crash dropped, a corrupt file refused.
#include <metachain/bridge.h>
#include <test/test_util.h>
#include <wallet/wallet.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>

namespace {
std::string Read(const std::filesystem::path& p)
{
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
} // namespace

TEST(Wallet, KeysAreAppendedAndSurviveReopen)
{
    test::TempDir dir;
    const auto path = (dir.path() / "wallet.json").string();
    std::vector<KeyHash> made;
    {
        CWallet w(path);
        for (int i = 0; i < 3; ++i)
            made.push_back(HashPubKey(w.NewKey().GetPubKey()));
        const std::string first = Read(path);
        w.NewKey();
        // The file grew by one line; the earlier lines were not rewritten.
        EXPECT_EQ(Read(path).rfind(first, 0), 0u);
        const std::string text = Read(path);
        EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4);
    }
    CWallet again(path);
    EXPECT_EQ(again.KeyHashes().size(), 4u);
    for (const auto& h : made)
        EXPECT_TRUE(again.KeyFor(h));
}

TEST(Wallet, ATornLastLineIsDroppedAndTheFirstFormatMigrates)
{
    test::TempDir dir;
    const auto path = (dir.path() / "wallet.json").string();
    KeyHash kept;
    {
        CWallet w(path);
        kept = HashPubKey(w.NewKey().GetPubKey());
    }
    std::ofstream(path, std::ios::app) << "{\"secret\":\"00ab";
    {
        CWallet w(path);
        EXPECT_EQ(w.KeyHashes(), std::vector<KeyHash>{kept});
        w.NewKey();
    }
    EXPECT_EQ(CWallet(path).KeyHashes().size(), 2u);

    // The first format: one document.
    const auto old = (dir.path() / "old.json").string();
    const std::string secret(63, '1');
    std::ofstream(old) << "{\n \"keys\": [\n  {\n   \"secret\": \"" << secret << "2\"\n  }\n ]\n}";
    EXPECT_EQ(CWallet(old).KeyHashes().size(), 1u);
    EXPECT_EQ(Read(old), "{\"secret\":\"" + secret + "2\"}\n");
    EXPECT_EQ(CWallet(old).KeyHashes().size(), 1u);
}

TEST(Wallet, ACorruptFileIsRefused)
{
    test::TempDir dir;
    const auto path = (dir.path() / "wallet.json").string();
    std::ofstream(path) << "{\"secret\":\"zz\"}\n";
    EXPECT_THROW(CWallet{path}, std::runtime_error);
    std::ofstream(path) << "not json\n";
    EXPECT_THROW(CWallet{path}, std::runtime_error);
}

TEST(Wallet, MetaKeysAreEthereumKeysFoundByAnySpelling)
{
    test::TempDir dir;
    const auto path = (dir.path() / "wallet.json").string();
    std::string made, miner;
    CKey key;
    {
        CWallet w(path);
        const KeyHash native = HashPubKey(w.NewKey().GetPubKey());
        made = w.NewMetaKey();
        ASSERT_EQ(made.size(), 42u);
        EXPECT_EQ(made.rfind("0x", 0), 0u);
        EXPECT_EQ(metachain::ParseAddress(made), made) << "EIP-55";
        key = *w.MetaKeyFor(made);
        EXPECT_EQ(metachain::AddressOfKey(key), made);
        // Case-insensitive: lowercase and uppercase find the same key.
        std::string lower = made, upper = made;
        std::transform(lower.begin() + 2, lower.end(), lower.begin() + 2, [](char c) { return std::tolower(c); });
        std::transform(upper.begin() + 2, upper.end(), upper.begin() + 2, [](char c) { return std::toupper(c); });
        EXPECT_EQ(w.MetaKeyFor(lower)->secret(), key.secret());
        EXPECT_EQ(w.MetaKeyFor(upper)->secret(), key.secret());
        EXPECT_FALSE(w.MetaKeyFor("0x" + std::string(40, '1')));
        // Meta keys are not native keys, and the other way round.
        EXPECT_EQ(w.KeyHashes(), std::vector<KeyHash>{native});
        // The miner's meta key: made once, then the same.
        miner = w.MinerMetaAddress();
        EXPECT_NE(miner, made);
        EXPECT_EQ(w.MinerMetaAddress(), miner);
        EXPECT_EQ(w.MetaAddresses(), (std::vector<std::string>{made, miner}));
        const std::string text = Read(path);
        EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << "one appended line per key";
        EXPECT_NE(text.find("\"meta\":\"" + made + "\""), std::string::npos) << text;
    }
    CWallet again(path);
    EXPECT_EQ(again.MetaKeyFor(made)->secret(), key.secret());
    EXPECT_EQ(again.MinerMetaAddress(), miner) << "the miner's key survives a restart";
    EXPECT_EQ(again.KeyHashes().size(), 1u);
    EXPECT_EQ(again.MetaAddresses().size(), 2u);
}

TEST(Wallet, AMetaLineMustNameItsKeysAddress)
{
    test::TempDir dir;
    const auto path = (dir.path() / "wallet.json").string();
    std::string made;
    {
        CWallet w(path);
        made = w.NewMetaKey();
    }
    std::string text = Read(path);
    // Another address for the same secret: the file is corrupt.
    const std::string other = "0x" + std::string(40, '1');
    text.replace(text.find(made), made.size(), other);
    std::ofstream(path, std::ios::trunc) << text;
    EXPECT_THROW(CWallet{path}, std::runtime_error);
    // A torn meta line is dropped like any other.
    {
        CWallet fresh((dir.path() / "w2.json").string());
        fresh.NewMetaKey();
    }
    std::ofstream((dir.path() / "w2.json").string(), std::ios::app) << "{\"secret\":\"00ab\",\"meta\":\"0x";
    EXPECT_EQ(CWallet((dir.path() / "w2.json").string()).MetaAddresses().size(), 1u);
}
