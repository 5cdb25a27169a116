#include <rpc/server.h>

#include <bech32.h>
#include <chainparams.h>
#include <crypto/hash.h>
#include <metachain/bridge.h>
#include <node/context.h>

#include <set>
#include <sstream>

namespace {
const char* TypeName(RPCArgType t)
{
    switch (t) {
    case RPCArgType::Str:
        return "string";
    case RPCArgType::Int:
        return "integer";
    case RPCArgType::Amount:
        return "amount, numeric or string";
    case RPCArgType::Bool:
        return "boolean";
    case RPCArgType::Hash:
        return "string, 64 hex digits";
    case RPCArgType::Hex:
        return "string, hex";
    case RPCArgType::Address:
        return "string, native address";
    case RPCArgType::MetaAddress:
        return "string, 0x meta address";
    case RPCArgType::BlockId:
        return "string or integer, block hash or height";
    }
    return "?";
}

// The schema's name for a type.
const char* SchemaName(RPCArgType t)
{
    switch (t) {
    case RPCArgType::Str:
        return "string";
    case RPCArgType::Int:
        return "int";
    case RPCArgType::Amount:
        return "amount";
    case RPCArgType::Bool:
        return "bool";
    case RPCArgType::Hash:
        return "hash";
    case RPCArgType::Hex:
        return "hex";
    case RPCArgType::Address:
        return "address";
    case RPCArgType::MetaAddress:
        return "metaaddress";
    case RPCArgType::BlockId:
        return "blockid";
    }
    return "?";
}

// What JSON gave, for "Expected ..., got ..." messages.
std::string Got(const json& v)
{
    if (RawNumberText(v) || v.is_number()) return "number " + QuoteForError(v);
    if (v.is_string()) return "string " + QuoteForError(v);
    return v.type_name();
}

[[noreturn]] void WrongType(const RPCArg& arg, const json& v)
{
    throw RPCError(RPC_TYPE_ERROR,
                   "Expected " + std::string(TypeName(arg.type)) + " for " + arg.name + ", got " + Got(v));
}

// The exact text of a JSON number: integers as such, raw numbers as written.
std::optional<std::string> NumberText(const json& v)
{
    if (v.is_number_integer()) return v.dump();
    return RawNumberText(v);
}

// A JSON number that is an integer literal, exactly, within int64; nullopt
// for fractions and exponents. `overflow` is set when it is an integer
// literal outside int64.
std::optional<int64_t> ExactInt(const json& v, bool& overflow)
{
    overflow = false;
    if (v.is_number_unsigned()) {
        if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
            overflow = true;
            return std::nullopt;
        }
        return static_cast<int64_t>(v.get<uint64_t>());
    }
    if (v.is_number_integer()) return v.get<int64_t>();
    const auto text = RawNumberText(v);
    if (!text) return std::nullopt;
    // ParseJSON leaves integer literals raw only when they overflow 64 bits.
    const size_t start = (*text)[0] == '-' ? 1 : 0;
    const bool integral = text->size() > start && text->find_first_not_of("0123456789", start) == std::string::npos;
    overflow = integral;
    return std::nullopt;
}

bool IsCanonicalHeight(const std::string& s)
{
    return !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos &&
           (s == "0" || s[0] != '0');
}

// Checks one argument and returns the value the handler gets.
json CheckArg(const NodeContext& node, const RPCArg& arg, const json& v)
{
    switch (arg.type) {
    case RPCArgType::Int: {
        bool overflow = false;
        const auto n = ExactInt(v, overflow);
        if (!n && !overflow) WrongType(arg, v);
        if (!n || *n < arg.min || *n > arg.max) {
            throw RPCError(RPC_INVALID_PARAMETER, arg.name + " out of range: " + QuoteForError(v) + " (accepted: " +
                                                      std::to_string(arg.min) + " to " + std::to_string(arg.max) + ")");
        }
        return *n;
    }
    case RPCArgType::Amount:
        if (!v.is_string() && !NumberText(v)) WrongType(arg, v);
        AmountFromValue(v, arg.name);
        return v;
    case RPCArgType::Bool:
        if (!v.is_boolean()) WrongType(arg, v);
        return v;
    case RPCArgType::BlockId:
        if (v.is_number_integer()) {
            bool overflow = false;
            const auto n = ExactInt(v, overflow);
            if (!n || *n < 0) {
                throw RPCError(RPC_INVALID_PARAMETER,
                               arg.name + " out of range: " + QuoteForError(v) + " (accepted: a height from 0)");
            }
            return std::to_string(*n);
        }
        if (!v.is_string()) WrongType(arg, v);
        if (const std::string& text = v.get_ref<const std::string&>();
            text.rfind("0x", 0) == 0 && ParseHash(text.substr(2))) {
            return text.substr(2);
        }
        if (!ParseHash(v.get<std::string>()) && !IsCanonicalHeight(v.get<std::string>())) {
            const std::string accepted = " must be a 64-hex-digit hash (0x optional) or a decimal height, got ";
            throw RPCError(RPC_INVALID_PARAMETER, arg.name + accepted + QuoteForError(v));
        }
        return v;
    default:
        break;
    }
    // The rest are strings.
    if (!v.is_string()) WrongType(arg, v);
    const std::string& s = v.get_ref<const std::string&>();
    switch (arg.type) {
    case RPCArgType::Str:
        if (s.size() > arg.max_length) {
            throw RPCError(RPC_INVALID_PARAMETER, arg.name + " is " + std::to_string(s.size()) +
                                                      " bytes, over the limit of " + std::to_string(arg.max_length));
        }
        break;
    case RPCArgType::Hash:
        if (!ParseHash(s)) {
            throw RPCError(RPC_INVALID_PARAMETER, arg.name + " must be 64 hex digits, got " + QuoteForError(v));
        }
        break;
    case RPCArgType::Hex:
        // bitcoind's code for serialized objects that do not decode.
        if (s.size() / 2 > arg.max_length) {
            throw RPCError(RPC_DESERIALIZATION_ERROR, arg.name + " is " + std::to_string(s.size() / 2) +
                                                          " bytes, over the limit of " +
                                                          std::to_string(arg.max_length));
        }
        if (!ParseHex(s)) {
            throw RPCError(RPC_DESERIALIZATION_ERROR, arg.name +
                                                          " decode failed: not hex (an even number of 0-9a-f "
                                                          "digits): " +
                                                          QuoteForError(v));
        }
        break;
    case RPCArgType::Address:
        if (!DecodeAddress(s, node.params->address_hrp)) {
            throw RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Invalid address for " + arg.name + ": " + QuoteForError(v) +
                                                           " (a native address starts with " +
                                                           node.params->address_hrp + "1)");
        }
        break;
    case RPCArgType::MetaAddress: {
        std::string why;
        const auto address = metachain::ParseAddress(s, &why);
        if (!address) {
            throw RPCError(RPC_INVALID_ADDRESS_OR_KEY,
                           "Invalid meta address for " + arg.name + ": " + QuoteForError(v) + ": " + why);
        }
        return *address;
    }
    default:
        break;
    }
    return v;
}

std::string Usage(const RPCCommand& cmd)
{
    std::string out = cmd.name;
    for (const auto& a : cmd.args)
        out += " " + std::string(a.required ? "" : "( ") + '"' + a.name + '"' + (a.required ? "" : " )");
    return out;
}
} // namespace

CAmount AmountFromValue(const json& v, const std::string& name)
{
    std::string text;
    if (const auto n = NumberText(v)) {
        text = *n;
    } else if (v.is_string()) {
        text = v.get<std::string>();
    } else {
        throw RPCError(RPC_TYPE_ERROR, "Expected amount, numeric or string for " + name + ", got " + Got(v));
    }
    std::string why;
    const auto amount = ParseMoney(text, &why);
    if (!amount && (why == "negative" || why.rfind("over", 0) == 0)) {
        throw RPCError(RPC_TYPE_ERROR, "Amount out of range for " + name + ": " + QuoteForError(v) +
                                           " (accepted: 0 to 1200000000 coins)");
    }
    if (!amount) {
        throw RPCError(RPC_TYPE_ERROR, "Invalid amount for " + name + ": " + QuoteForError(v) + " (" + why +
                                           "; accepted: 0 to 1200000000 coins, at most 8 decimals)");
    }
    return *amount;
}

json ValueFromAmount(CAmount v) { return RawNumber(FormatMoney(v)); }

void RPCTable::Register(RPCCommand cmd) { m_commands[cmd.name] = std::move(cmd); }

json RPCTable::Execute(NodeContext& node, const std::string& method, const json& params, uint64_t& budget) const
{
    const auto it = m_commands.find(method);
    if (it == m_commands.end()) throw RPCError(RPC_METHOD_NOT_FOUND, "Method not found");
    const RPCCommand& cmd = it->second;
    std::vector<json> args(cmd.args.size(), nullptr);
    if (params.is_array()) {
        if (params.size() > cmd.args.size()) {
            throw RPCError(RPC_MISC_ERROR, "Too many arguments: " + method + " takes at most " +
                                               std::to_string(cmd.args.size()) + ".\n\n" + Help(method));
        }
        for (size_t i = 0; i < params.size(); ++i)
            args[i] = params[i];
    } else if (params.is_object()) {
        for (const auto& [key, value] : params.items()) {
            size_t i = 0;
            while (i < cmd.args.size() && cmd.args[i].name != key)
                ++i;
            if (i == cmd.args.size()) {
                throw RPCError(RPC_INVALID_PARAMETER, "Unknown named parameter " + QuoteForError(json(key)));
            }
            args[i] = value;
        }
    } else if (!params.is_null()) {
        throw RPCError(RPC_INVALID_REQUEST, "Params must be an array or object");
    }
    for (size_t i = 0; i < cmd.args.size(); ++i) {
        if (args[i].is_null()) {
            if (cmd.args[i].required) {
                throw RPCError(RPC_MISC_ERROR,
                               "Missing required argument " + cmd.args[i].name + ".\n\n" + Help(method));
            }
            continue;
        }
        args[i] = CheckArg(node, cmd.args[i], args[i]);
    }
    const uint64_t cost = cmd.cost ? cmd.cost(args) : 1;
    if (cost > budget) {
        throw RPCError(RPC_INVALID_REQUEST, method + " needs " + std::to_string(cost) +
                                                " work units and the request has " + std::to_string(budget) +
                                                " left (-rpcbatchwork)");
    }
    budget -= cost;
    return cmd.handler(node, args);
}

std::string RPCTable::Help(const std::string& name) const
{
    std::ostringstream out;
    if (name.empty()) {
        std::set<std::string> categories;
        for (const auto& [n, cmd] : m_commands)
            categories.insert(cmd.category);
        bool first_category = true;
        for (const auto& cat : categories) {
            out << (first_category ? "" : "\n") << "== " << cat << " ==\n";
            first_category = false;
            for (const auto& [n, cmd] : m_commands) {
                if (cmd.category == cat) out << Usage(cmd) << "\n";
            }
        }
        return out.str();
    }
    const auto it = m_commands.find(name);
    if (it == m_commands.end()) return "help: unknown command: " + name;
    const RPCCommand& cmd = it->second;
    out << Usage(cmd) << "\n\n" << cmd.description << "\n";
    if (!cmd.args.empty()) {
        out << "\nArguments:\n";
        for (size_t i = 0; i < cmd.args.size(); ++i) {
            const auto& a = cmd.args[i];
            out << i + 1 << ". " << a.name << " (" << TypeName(a.type);
            if (a.type == RPCArgType::Int) out << ", " << a.min << " to " << a.max;
            out << ", " << (a.required ? "required" : "optional") << ") " << a.description << "\n";
        }
    }
    out << "\nResult:\n" << cmd.result << "\n";
    return out.str();
}

json RPCTable::Schema() const
{
    json methods = json::array();
    for (const auto& [name, cmd] : m_commands) {
        json args = json::array();
        for (const auto& a : cmd.args) {
            json arg = {{"name", a.name}, {"type", SchemaName(a.type)}, {"required", a.required}};
            if (a.type == RPCArgType::Int) {
                arg["min"] = a.min;
                arg["max"] = a.max;
            }
            if (a.type == RPCArgType::Str || a.type == RPCArgType::Hex) arg["maxlength"] = a.max_length;
            args.push_back(std::move(arg));
        }
        methods.push_back({{"name", name}, {"category", cmd.category}, {"args", std::move(args)}});
    }
    return {{"methods", std::move(methods)}};
}
