#include <util/args.h>

#include <test/test_util.h>

#include <gtest/gtest.h>

#include <fstream>

namespace {

ArgsManager Declared()
{
    ArgsManager args;
    args.AddArg("-regtest", "regtest");
    args.AddArg("-datadir=<dir>", "datadir");
    args.AddArg("-meta=<args>", "meta");
    return args;
}

TEST(Args, ParsesBitcoindStyleOptions)
{
    auto args = Declared();
    const char* argv[] = {"defid", "-regtest", "--datadir=/tmp/x", "-meta", nullptr};
    std::string error;
    ASSERT_TRUE(args.Parse(4, argv, error)) << error;
    EXPECT_TRUE(args.GetBool("-regtest", false));
    EXPECT_EQ(args.Get("-datadir"), "/tmp/x");
    EXPECT_TRUE(args.IsSet("-meta"));
}

TEST(Args, NegationAndUnknownOptions)
{
    auto args = Declared();
    const char* argv[] = {"defid", "-noregtest", nullptr};
    std::string error;
    ASSERT_TRUE(args.Parse(2, argv, error));
    EXPECT_FALSE(args.GetBool("-regtest", true));

    auto strict = Declared();
    const char* bad[] = {"defid", "-bogus=1", nullptr};
    EXPECT_FALSE(strict.Parse(2, bad, error));
    EXPECT_NE(error.find("unknown option -bogus"), std::string::npos) << error;
}

TEST(Args, HelpComesFromTheDeclarations)
{
    const auto help = Declared().HelpText();
    EXPECT_NE(help.find("-datadir=<dir>"), std::string::npos);
    EXPECT_NE(help.find("-meta=<args>"), std::string::npos);
}

TEST(Args, RepeatedOptionsKeepEveryValue)
{
    ArgsManager args;
    args.AddArg("-connect=<host:port>", "connect");
    args.AddArg("-port=<port>", "port");
    const char* argv[] = {"defid", "-connect=a:1", "-port=1", "-connect=b:2", "-port=2", nullptr};
    std::string error;
    ASSERT_TRUE(args.Parse(5, argv, error)) << error;
    EXPECT_EQ(args.GetArgs("-connect"), (std::vector<std::string>{"a:1", "b:2"}));
    EXPECT_EQ(args.Get("-connect"), "b:2"); // a single value is the last one given
    EXPECT_EQ(args.Get("-port"), "2");
    EXPECT_TRUE(args.GetArgs("-bogus").empty());

    // The config file's values follow the command line's.
    test::TempDir dir;
    const auto conf = dir.path() / "defi.conf";
    std::ofstream(conf) << "connect=c:3\nconnect = d:4\nport=9\n";
    ASSERT_TRUE(args.ReadConfigFile(conf.string(), error)) << error;
    EXPECT_EQ(args.GetArgs("-connect"), (std::vector<std::string>{"a:1", "b:2", "c:3", "d:4"}));
    EXPECT_EQ(args.Get("-port"), "2"); // the command line wins for single values
}

TEST(Args, NegationDropsEarlierAndConfigValues)
{
    test::TempDir dir;
    const auto conf = dir.path() / "defi.conf";
    std::ofstream(conf) << "addnode=c:3\n";

    ArgsManager args;
    args.AddArg("-addnode=<host:port>", "addnode");
    const char* argv[] = {"defid", "-addnode=a:1", "-noaddnode", "-addnode=b:2", nullptr};
    std::string error;
    ASSERT_TRUE(args.Parse(4, argv, error)) << error;
    ASSERT_TRUE(args.ReadConfigFile(conf.string(), error)) << error;
    EXPECT_EQ(args.GetArgs("-addnode"), std::vector<std::string>{"b:2"});
    EXPECT_TRUE(args.IsSet("-addnode"));

    ArgsManager none;
    none.AddArg("-addnode=<host:port>", "addnode");
    const char* only_no[] = {"defid", "-noaddnode", nullptr};
    ASSERT_TRUE(none.Parse(2, only_no, error)) << error;
    ASSERT_TRUE(none.ReadConfigFile(conf.string(), error)) << error;
    EXPECT_TRUE(none.GetArgs("-addnode").empty());
    EXPECT_TRUE(none.IsSet("-addnode"));
    EXPECT_FALSE(none.GetBool("-addnode", true));
}

} // namespace
