#include <util/args.h>

#include <gtest/gtest.h>

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

} // namespace
