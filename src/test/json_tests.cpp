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
    const json v = ParseJSONKeepNumbers(text);
    EXPECT_EQ(WriteJSON(v), text);
    EXPECT_EQ(v["n"], 7);
    EXPECT_EQ(WriteJSON(v, 2), "{\n  \"amount\": 10.00000000,\n  \"list\": [\n    1,\n    2.50,\n    -0.10000000\n  "
                               "],\n  \"n\": 7\n}");
    EXPECT_THROW(ParseJSONKeepNumbers(R"({"a":1,})"), json::parse_error);
    EXPECT_THROW(ParseJSONKeepNumbers(""), json::parse_error);
}
