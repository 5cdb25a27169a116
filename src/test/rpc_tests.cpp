// The RPC layer on its own: exact amounts, typed arguments, the JSON-RPC
// envelope and batch limits, and Basic auth decoding.
#include <bech32.h>
#include <chainparams.h>
#include <httprpc.h>
#include <node/context.h>
#include <rpc/server.h>

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

int ErrorCode(const std::function<void()>& f)
{
    try {
        f();
    } catch (const RPCError& e) {
        return e.code;
    }
    return 0;
}

std::string ErrorMessage(const std::function<void()>& f)
{
    try {
        f();
    } catch (const RPCError& e) {
        return e.what();
    }
    return "";
}

// A table of test commands that echo what their checked arguments became.
class RPCTest : public ::testing::Test {
protected:
    RPCTest()
    {
        node.params = &RegtestParams();
        const auto echo = [this](NodeContext&, const std::vector<json>& a) -> json {
            ++calls;
            return a;
        };
        table.Register({"Test",
                        "args",
                        "Echoes its arguments.",
                        {{"height", RPCArgType::Int, false, "", 0, MAX_HEIGHT},
                         {"amount", RPCArgType::Amount, false, ""},
                         {"address", RPCArgType::Address, false, ""},
                         {"blockid", RPCArgType::BlockId, false, ""},
                         {"hex", RPCArgType::Hex, false, "", 0, 0, 4},
                         {"flag", RPCArgType::Bool, false, ""}},
                        "[...]",
                        echo});
        table.Register({"Test",
                        "work",
                        "Costs n.",
                        {{"n", RPCArgType::Int, true, "", 0, 100}},
                        "[...]",
                        echo,
                        [](const std::vector<json>& a) { return static_cast<uint64_t>(a[0].get<int64_t>()); }});
        table.Register(
            {"Other", "boom", "Throws what no handler should.", {}, "", [](NodeContext&, const auto&) -> json {
                 throw std::runtime_error("bug");
             }});
    }
    json Call(const std::string& params)
    {
        uint64_t budget = 1000;
        return table.Execute(node, "args", ParseJSON(params), budget);
    }
    std::pair<int, std::string> Post(const std::string& body, JSONRPCLimits limits = {})
    {
        return HandleJSONRPC(node, table, body, limits);
    }

    NodeContext node;
    RPCTable table;
    int calls{0};
};

} // namespace

TEST(Amounts, ParsedExactlyFromTheText)
{
    EXPECT_EQ(ParseMoney("0.00000001"), 1);
    EXPECT_EQ(ParseMoney("1e-8"), 1);
    EXPECT_EQ(ParseMoney("1E-8"), 1);
    EXPECT_EQ(ParseMoney("0.000000010"), 1); // a zero past the 8th decimal is harmless
    EXPECT_EQ(ParseMoney("1.5e3"), 1500 * COIN);
    EXPECT_EQ(ParseMoney("1200000000"), MAX_MONEY);
    EXPECT_EQ(ParseMoney("12e8"), MAX_MONEY);
    EXPECT_EQ(ParseMoney("0e999999"), 0);
    EXPECT_EQ(ParseMoney("90071992.54740993"), 9007199254740993);
    std::string why;
    EXPECT_FALSE(ParseMoney("0.1000000000000000001", &why));
    EXPECT_EQ(why, "more than 8 decimals");
    EXPECT_FALSE(ParseMoney("1e-9", &why));
    EXPECT_FALSE(ParseMoney("1200000000.00000001", &why));
    EXPECT_EQ(why, "over the maximum of 1200000000");
    EXPECT_FALSE(ParseMoney("1e400", &why));
    EXPECT_FALSE(ParseMoney("-1", &why));
    EXPECT_EQ(why, "negative");
    for (const char* bad : {"", ".", "e5", "1e", "1e+", "+1", "1.2.3", "0x10", " 1", "1 ", "inf", "nan", "1,5"})
        EXPECT_FALSE(ParseMoney(bad)) << bad;
}

TEST(Amounts, ArgumentsTakeNumbersAndStringsAlike)
{
    EXPECT_EQ(AmountFromValue(ParseJSON("0.00000001")), 1);
    EXPECT_EQ(AmountFromValue(ParseJSON("1e-8")), 1);
    EXPECT_EQ(AmountFromValue(json("1e-8")), 1);
    EXPECT_EQ(AmountFromValue(ParseJSON("5")), 5 * COIN);
    EXPECT_EQ(ErrorCode([] { AmountFromValue(ParseJSON("1200000000.00000001")); }), RPC_TYPE_ERROR);
    EXPECT_EQ(ErrorCode([] { AmountFromValue(ParseJSON("0.1000000000000000001")); }), RPC_TYPE_ERROR);
    EXPECT_EQ(ErrorCode([] { AmountFromValue(ParseJSON("-0.5")); }), RPC_TYPE_ERROR);
    EXPECT_EQ(ErrorCode([] { AmountFromValue(ParseJSON("18446744073709551616")); }), RPC_TYPE_ERROR);
    EXPECT_EQ(ErrorCode([] { AmountFromValue(json(true)); }), RPC_TYPE_ERROR);
    EXPECT_NE(ErrorMessage([] { AmountFromValue(json("1.123456789"), "fee"); }).find("Invalid amount for fee"),
              std::string::npos);
}

TEST_F(RPCTest, IntegersAreExactAndInRange)
{
    EXPECT_EQ(Call("[2147483647]")[0], MAX_HEIGHT);
    EXPECT_EQ(Call("[0]")[0], 0);
    for (const char* bad : {"[4294967296]", "[4294967297]", "[9007199254740993]", "[-1]", "[2147483648]",
                            "[18446744073709551616]", "[-9223372036854775809]"}) {
        EXPECT_EQ(ErrorCode([&] { Call(bad); }), RPC_INVALID_PARAMETER) << bad;
    }
    EXPECT_EQ(ErrorMessage([&] { Call("[4294967296]"); }),
              "height out of range: 4294967296 (accepted: 0 to 2147483647)");
    for (const char* bad : {"[1.5]", "[1e3]", "[\"5\"]", "[true]", "[[1]]", "[{}]"})
        EXPECT_EQ(ErrorCode([&] { Call(bad); }), RPC_TYPE_ERROR) << bad;
    EXPECT_EQ(ErrorMessage([&] { Call("[1.5]"); }), "Expected integer for height, got number 1.5");
    EXPECT_EQ(calls, 2);
}

TEST_F(RPCTest, StringsAddressesAndBlockIds)
{
    const std::string addr = EncodeAddress("dfrt", KeyHash{});
    EXPECT_EQ(Call(R"({"address":")" + addr + "\"}")[2], addr);
    EXPECT_EQ(ErrorCode([&] { Call(R"([null,null,"a\u0000b"])"); }), RPC_INVALID_ADDRESS_OR_KEY);
    // The whole value is in the message, NUL and all, escaped.
    EXPECT_NE(ErrorMessage([&] { Call(R"([null,null,"a\u0000b"])"); }).find(R"("a\u0000b")"), std::string::npos);
    // A meta (0x) address or another network's address is not a native address.
    EXPECT_EQ(ErrorCode([&] { Call(R"([null,null,"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"])"); }),
              RPC_INVALID_ADDRESS_OR_KEY);
    EXPECT_EQ(ErrorCode([&] { Call(R"([null,null,")" + EncodeAddress("df", KeyHash{}) + "\"]"); }),
              RPC_INVALID_ADDRESS_OR_KEY);
    EXPECT_EQ(Call("[null,null,null,7]")[3], "7");
    EXPECT_EQ(Call(R"([null,null,null,"0"])")[3], "0");
    EXPECT_EQ(Call("[null,null,null,\"" + std::string(64, 'a') + "\"]")[3], std::string(64, 'a'));
    for (const std::string& bad :
         std::vector<std::string>{"\"+1\"", "\"00\"", "\"01\"", "\"-1\"", "\"\"", "\"" + std::string(63, '0') + "\"",
                                  "\"" + std::string(65, '0') + "\"", "-1", "\"1 \""}) {
        EXPECT_EQ(ErrorCode([&] { Call("[null,null,null," + bad + "]"); }), RPC_INVALID_PARAMETER) << bad;
    }
    EXPECT_EQ(Call(R"([null,null,null,null,"00ff"])")[4], "00ff");
    EXPECT_EQ(ErrorCode([&] { Call(R"([null,null,null,null,"0"])"); }), RPC_DESERIALIZATION_ERROR);
    EXPECT_EQ(ErrorCode([&] { Call(R"([null,null,null,null,"0011223344"])"); }), RPC_DESERIALIZATION_ERROR);
    EXPECT_EQ(ErrorCode([&] { Call(R"([null,null,null,null,null,1])"); }), RPC_TYPE_ERROR);
}

TEST_F(RPCTest, MetaAddressesAreCheckedByTheMetachainsRules)
{
    table.Register({"Test",
                    "meta",
                    "Echoes a meta address.",
                    {{"metaaddress", RPCArgType::MetaAddress, true, ""}},
                    "[...]",
                    [](NodeContext&, const std::vector<json>& a) -> json { return a; }});
    const auto call = [&](const std::string& params) {
        uint64_t budget = 1000;
        return table.Execute(node, "meta", ParseJSON(params), budget);
    };
    const std::string eip55 = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
    // Every accepted spelling reaches the handler in its EIP-55 form.
    EXPECT_EQ(call(R"(["0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"])")[0], eip55);
    EXPECT_EQ(call(R"(["0x7E5F4552091A69125D5DFCB7B8C2659029395BDF"])")[0], eip55);
    EXPECT_EQ(call("[\"" + eip55 + "\"]")[0], eip55);
    // Refused with -5, the value escaped and the reason.
    const std::string bad_checksum = R"(["0x7e5F4552091A69125d5DfCb7b8C2659029395Bdf"])";
    EXPECT_EQ(ErrorCode([&] { call(bad_checksum); }), RPC_INVALID_ADDRESS_OR_KEY);
    EXPECT_NE(ErrorMessage([&] { call(bad_checksum); }).find("checksum"), std::string::npos);
    for (const std::string bad :
         {R"(["dmc1qyqszqgpqyqszqgpqyqszqgpqyqszqgpt29jqg"])", R"(["0x7e5f4552091a69125d5dfcb7b8c2659029395bd"])",
          R"([""])", R"(["0x"])", R"(["7e5f4552091a69125d5dfcb7b8c2659029395bdf"])",
          R"([" 0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"])"}) {
        EXPECT_EQ(ErrorCode([&] { call(bad); }), RPC_INVALID_ADDRESS_OR_KEY) << bad;
    }
    EXPECT_NE(ErrorMessage([&] { call(R"(["0x\u0000"])"); }).find(R"("0x\u0000")"), std::string::npos);
    EXPECT_EQ(ErrorCode([&] { call("[7]"); }), RPC_TYPE_ERROR);
    // A block id may carry 0x; the handler gets the bare hash.
    EXPECT_EQ(Call("[null,null,null,\"0x" + std::string(64, 'a') + "\"]")[3], std::string(64, 'a'));
    EXPECT_EQ(ErrorCode([&] { Call("[null,null,null,\"0x" + std::string(63, 'a') + "\"]"); }), RPC_INVALID_PARAMETER);
}

TEST_F(RPCTest, ArgumentCountsAndNames)
{
    EXPECT_EQ(ErrorCode([&] { Call("[1,2,3,4,5,6,7]"); }), RPC_MISC_ERROR);
    EXPECT_EQ(ErrorCode([&] { Call(R"({"nope":1})"); }), RPC_INVALID_PARAMETER);
    EXPECT_EQ(ErrorCode([&] { Call(R"({"height":"x"})"); }), RPC_TYPE_ERROR);
    EXPECT_EQ(ErrorCode([&] { Call("7"); }), RPC_INVALID_REQUEST);
    EXPECT_EQ(calls, 0);
}

TEST_F(RPCTest, EnvelopeErrors)
{
    const auto error_of = [](const std::string& reply) { return ParseJSON(reply)["error"]["code"]; };
    EXPECT_EQ(error_of(Post(R"({"id":1e400,"method":"args"})").second), RPC_PARSE_ERROR);
    EXPECT_EQ(error_of(Post(R"({"method":"args","x":-1e400})").second), RPC_PARSE_ERROR);
    EXPECT_EQ(error_of(Post(std::string(40000, '[')).second), RPC_PARSE_ERROR);
    for (const char* v : {"2", "null", "true", "[\"2.0\"]", "\"3.0\"", "\"\""}) {
        const auto [status, body] = Post(std::string(R"({"jsonrpc":)") + v + R"(,"id":1,"method":"args"})");
        EXPECT_EQ(status, 400) << v;
        EXPECT_EQ(error_of(body), RPC_INVALID_REQUEST) << v;
        // Inside a batch too.
        const json batch = ParseJSON(Post(std::string(R"([{"jsonrpc":)") + v + R"(,"id":1,"method":"args"}])").second);
        EXPECT_EQ(batch[0]["error"]["code"], RPC_INVALID_REQUEST) << v;
    }
    for (const char* id : {"{}", "[]", "true"})
        EXPECT_EQ(error_of(Post(std::string(R"({"id":)") + id + R"(,"method":"args"})").second), RPC_INVALID_REQUEST);
    EXPECT_EQ(error_of(Post(R"({"id":1,"method":7})").second), RPC_INVALID_REQUEST);
    EXPECT_EQ(error_of(Post("[]").second), RPC_INVALID_REQUEST);
    EXPECT_EQ(error_of(Post("7").second), RPC_INVALID_REQUEST);
    EXPECT_EQ(calls, 0);
    // Ids come back exactly as sent, big or fractional.
    EXPECT_EQ(ParseJSON(Post(R"({"id":18446744073709551616,"method":"args"})").second)["id"],
              ParseJSON("18446744073709551616"));
    EXPECT_EQ(WriteJSON(ParseJSON(Post(R"({"id":1.50,"method":"args"})").second)["id"]), "1.50");
}

TEST_F(RPCTest, NotificationsGetNoReply)
{
    EXPECT_EQ(Post(R"({"jsonrpc":"2.0","method":"args","params":[1]})"), std::make_pair(204, std::string()));
    EXPECT_EQ(Post(R"({"jsonrpc":"2.0","method":"nope"})"), std::make_pair(204, std::string()));
    EXPECT_EQ(calls, 1);
    const auto [status, body] =
        Post(R"([{"jsonrpc":"2.0","method":"args"},{"jsonrpc":"2.0","id":"x","method":"args"}])");
    EXPECT_EQ(status, 200);
    EXPECT_EQ(ParseJSON(body).size(), 1u);
    EXPECT_EQ(ParseJSON(body)[0]["id"], "x");
    // A 1.0 request without an id is answered, with a null id.
    EXPECT_EQ(ParseJSON(Post(R"({"method":"args"})").second)["id"], nullptr);
}

TEST_F(RPCTest, BatchSizeAndWorkAreCapped)
{
    JSONRPCLimits limits;
    limits.max_batch = 3;
    limits.max_work = 150;
    std::string four = "[";
    for (int i = 0; i < 4; ++i)
        four += std::string(i ? "," : "") + R"({"id":1,"method":"args"})";
    four += "]";
    const auto [status, body] = Post(four, limits);
    EXPECT_EQ(status, 400);
    EXPECT_NE(ParseJSON(body)["error"]["message"].get<std::string>().find("-rpcbatchlimit"), std::string::npos);
    EXPECT_EQ(calls, 0);
    // 100 + 100 is over 150: the second call is refused before it runs.
    const json replies =
        ParseJSON(Post(R"([{"id":1,"method":"work","params":[100]},{"id":2,"method":"work","params":[100]},)"
                       R"({"id":3,"method":"work","params":[50]}])",
                       limits)
                      .second);
    EXPECT_TRUE(replies[0]["error"].is_null());
    EXPECT_EQ(replies[1]["error"]["code"], RPC_INVALID_REQUEST);
    EXPECT_TRUE(replies[2]["error"].is_null());
    EXPECT_EQ(calls, 2);
}

TEST_F(RPCTest, AHandlerThatThrowsIsAnInternalError)
{
    const auto [status, body] = Post(R"({"jsonrpc":"2.0","id":1,"method":"boom"})");
    EXPECT_EQ(status, 200);
    EXPECT_EQ(ParseJSON(body)["error"]["code"], RPC_INTERNAL_ERROR);
    EXPECT_EQ(ParseJSON(Post(R"({"id":1,"method":"args"})").second)["error"], nullptr);
}

TEST_F(RPCTest, HelpListsEveryCategoryFromRegistration)
{
    const std::string help = table.Help("");
    EXPECT_NE(help.find("== Other ==\nboom"), std::string::npos) << help;
    EXPECT_NE(help.find("== Test ==\nargs"), std::string::npos) << help;
    const json schema = table.Schema();
    EXPECT_EQ(schema["methods"].size(), 3u);
    EXPECT_EQ(schema["methods"][0]["args"][0],
              (json{{"name", "height"}, {"type", "int"}, {"required", false}, {"min", 0}, {"max", MAX_HEIGHT}}));
}

TEST(Base64, DecodesStrictly)
{
    EXPECT_EQ(DecodeBase64("dXNlcjpwdw=="), "user:pw");
    EXPECT_EQ(DecodeBase64("QUJD"), "ABC");
    EXPECT_EQ(DecodeBase64(""), "");
    for (const char* bad : {"dXNlcjpwdw==QUJD", "dXNlcjpwdw", "dXNlcjpwdw=", "dXNl cjpw", "QUJ=", "====", "QU=D"})
        EXPECT_FALSE(DecodeBase64(bad)) << bad;
}
