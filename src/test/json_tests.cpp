// Raw JSON numbers: amounts print with their 8 decimals and exactly, as bitcoind's do.
#include <amount.h>
#include <rpc/server.h>
#include <util/json.h>

#include <gtest/gtest.h>

TEST(Json, AmountsKeepTheirDecimalsAndEveryDigit)
{
    EXPECT_EQ(WriteJSON(ValueFromAmount(10 * COIN)), "10.00000000");
    EXPECT_EQ(WriteJSON(ValueFromAmount(1)), "0.00000001");
    // 2^53 + 1 base units: a double would print the neighbour ...992 or ...994.
    EXPECT_EQ(WriteJSON(ValueFromAmount(9007199254740993)), "90071992.54740993");
    EXPECT_EQ(WriteJSON(ValueFromAmount(MAX_MONEY)), FormatMoney(MAX_MONEY));
    const json reply = {{"result", {{"balance", ValueFromAmount(150000000)}, {"nonce", 2}}}, {"error", nullptr}};
    EXPECT_EQ(WriteJSON(reply), R"({"error":null,"result":{"balance":1.50000000,"nonce":2}})");
}

TEST(Json, WritesLikeDumpOtherwise)
{
    const json v = json::parse(R"({"a":[1,-2,3.5,"x\"y",true,null,[],{}],"b":{"c":{"d":[{}]}},"e":"\u00e9"})");
    for (const int indent : {-1, 0, 2, 4})
        EXPECT_EQ(WriteJSON(v, indent), v.dump(indent)) << indent;
}

TEST(Json, ParsingKeepsFractionalNumbersAsWritten)
{
    const std::string text = R"({"amount":10.00000000,"list":[1,2.50,-0.10000000],"n":7})";
    const json v = ParseJSON(text);
    EXPECT_EQ(WriteJSON(v), text);
    EXPECT_EQ(v["n"], 7);
    EXPECT_EQ(WriteJSON(v, 2), "{\n  \"amount\": 10.00000000,\n  \"list\": [\n    1,\n    2.50,\n    -0.10000000\n  "
                               "],\n  \"n\": 7\n}");
    EXPECT_THROW(ParseJSON(R"({"a":1,})"), JSONError);
    EXPECT_THROW(ParseJSON(""), JSONError);
}

TEST(Json, IntegersStayExactAndOverflowIsKeptAsText)
{
    EXPECT_EQ(ParseJSON("9007199254740993").get<int64_t>(), 9007199254740993);
    EXPECT_EQ(ParseJSON("18446744073709551615").get<uint64_t>(), UINT64_MAX);
    // Past 64 bits an integer is kept as written, never rounded through a double.
    EXPECT_EQ(RawNumberText(ParseJSON("18446744073709551616")), "18446744073709551616");
    EXPECT_EQ(RawNumberText(ParseJSON("-9223372036854775809")), "-9223372036854775809");
    EXPECT_EQ(RawNumberText(ParseJSON("1e300")), "1e300");
    EXPECT_FALSE(RawNumberText(ParseJSON("7")));
}

TEST(Json, RefusesOverflowDepthAndBadText)
{
    for (const std::string bad :
         {"1e400", "[-1e400]", R"({"id":1e400})", "[1,", "\"\xff\"", "nul", "1 2", "\"\\ud800\""}) {
        EXPECT_THROW(ParseJSON(bad), JSONError) << bad;
    }
    const std::string deep = std::string(40000, '[') + std::string(40000, ']');
    try {
        ParseJSON(deep);
        ADD_FAILURE() << "40,000 levels parsed";
    } catch (const JSONError& e) {
        EXPECT_NE(std::string(e.what()).find("nesting deeper than 64"), std::string::npos) << e.what();
    }
    const std::string ok = std::string(MAX_JSON_DEPTH, '[') + std::string(MAX_JSON_DEPTH, ']');
    EXPECT_NO_THROW(ParseJSON(ok));
    EXPECT_THROW(ParseJSON("[" + ok + "]"), JSONError);
}

TEST(Json, WritesBytesThatAreNotUtf8AsReplacementCharacters)
{
    EXPECT_EQ(WriteJSON(json("a\xff"
                             "b")),
              "\"a\xef\xbf\xbd"
              "b\"");
    EXPECT_EQ(WriteJSON(json{{"k\xfe", 1}}), "{\"k\xef\xbf\xbd\":1}");
    EXPECT_EQ(QuoteForError(json(std::string("a\0b", 3))), "\"a\\u0000b\"");
    EXPECT_EQ(QuoteForError(json(std::string(200, 'x')), 10), "\"xxxxxxxxx...");
}
