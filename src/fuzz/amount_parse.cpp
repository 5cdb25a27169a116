// Amounts: ParseMoney/FormatMoney round trips, and the RPC amount argument
// (AmountFromValue) given the input as a JSON string and as JSON number
// text. AmountFromValue may refuse with an RPCError, nothing else, and
// never returns an amount other than the exact one written.
#include <fuzz/fuzz.h>

#include <amount.h>
#include <rpc/protocol.h>
#include <rpc/server.h>
#include <util/json.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace {

// AmountFromValue(v), or nullopt on an RPCError; any other exception
// escapes, and libFuzzer reports it.
std::optional<CAmount> RpcAmount(const json& v)
{
    try {
        const CAmount a = AmountFromValue(v);
        FUZZ_ASSERT(MoneyRange(a), "AmountFromValue returned an amount out of range");
        return a;
    } catch (const RPCError&) {
        return std::nullopt;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);

    // ParseMoney -> FormatMoney -> ParseMoney gives the same amount.
    const std::optional<CAmount> parsed = ParseMoney(text);
    if (parsed) {
        FUZZ_ASSERT(MoneyRange(*parsed), "ParseMoney returned an amount out of range");
        const std::string formatted = FormatMoney(*parsed);
        FUZZ_ASSERT(ParseMoney(formatted) == parsed, "ParseMoney(FormatMoney(v)) != v");
        FUZZ_ASSERT(FormatMoney(*ParseMoney(formatted)) == formatted, "FormatMoney is not canonical");
    }

    // Any int64: FormatMoney parses back exactly when in range, and not at all otherwise.
    if (size >= 8) {
        int64_t v;
        std::memcpy(&v, data, 8);
        const std::optional<CAmount> back = ParseMoney(FormatMoney(v));
        FUZZ_ASSERT(MoneyRange(v) ? back == v : !back, "FormatMoney/ParseMoney disagree on an int64");
        (void)CheckedAdd(v, parsed.value_or(0));
    }

    // The RPC argument as a JSON string: exactly ParseMoney's answer.
    const std::optional<CAmount> as_string = RpcAmount(json(text));
    if (as_string) FUZZ_ASSERT(as_string == parsed, "AmountFromValue(string) differs from ParseMoney");

    // The RPC argument as JSON text, as the server parses it (ParseJSON: never
    // through a double): an accepted amount is exactly the one written.
    try {
        const json v = ParseJSON(text);
        const std::optional<CAmount> as_json = RpcAmount(v);
        if (as_json && parsed) FUZZ_ASSERT(as_json == parsed, "AmountFromValue(ParseJSON(text)) changed the amount");
        (void)WriteJSON(v);
    } catch (const JSONError&) {
    }
    // Through nlohmann's own parser (doubles): only RPCError may come out.
    try {
        const json v = json::parse(text);
        (void)RpcAmount(v);
        (void)WriteJSON(v);
    } catch (const json::exception&) {
    }
    if (parsed) (void)WriteJSON(ValueFromAmount(*parsed));
    return 0;
}
