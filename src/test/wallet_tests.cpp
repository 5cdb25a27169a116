// The wallet file: keys appended and synced one by one, old files migrated,
// a line torn by a crash dropped, a corrupt file refused.
#include <test/test_util.h>
#include <wallet/wallet.h>

#include <gtest/gtest.h>

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
