#include <rpc/server.h>

#include <crypto/hash.h>

#include <sstream>

namespace {
const char* TypeName(RPCArgType t)
{
    switch (t) {
    case RPCArgType::Str:
        return "string";
    case RPCArgType::Num:
        return "numeric";
    case RPCArgType::Amount:
        return "numeric or string";
    case RPCArgType::Bool:
        return "boolean";
    case RPCArgType::Hash:
        return "string, hex";
    }
    return "?";
}

void CheckType(const RPCArg& arg, const json& v)
{
    bool ok = false;
    switch (arg.type) {
    case RPCArgType::Str:
        ok = v.is_string();
        break;
    case RPCArgType::Num:
        ok = v.is_number_integer();
        break;
    case RPCArgType::Amount:
        ok = v.is_number() || v.is_string();
        break;
    case RPCArgType::Bool:
        ok = v.is_boolean();
        break;
    case RPCArgType::Hash:
        ok = v.is_string() && ParseHash(v.get<std::string>()).has_value();
        break;
    }
    if (!ok) {
        if (arg.type == RPCArgType::Hash && v.is_string()) {
            throw RPCError(RPC_INVALID_PARAMETER, arg.name + " must be of length 64 (hex)");
        }
        throw RPCError(RPC_TYPE_ERROR, "Expected type " + std::string(TypeName(arg.type)) + " for " + arg.name +
                                           ", got " + v.type_name());
    }
}
} // namespace

CAmount AmountFromValue(const json& v)
{
    std::string text;
    if (v.is_number()) {
        text = v.dump(); // shortest round-trip decimal text, parsed exactly below
    } else if (v.is_string()) {
        text = v.get<std::string>();
    } else {
        throw RPCError(RPC_TYPE_ERROR, "Amount is not a number or string");
    }
    if (!text.empty() && text[0] == '-') throw RPCError(RPC_TYPE_ERROR, "Amount out of range");
    const auto amount = ParseMoney(text);
    if (!amount) throw RPCError(RPC_TYPE_ERROR, "Invalid amount (at most 8 decimals, at most 1.2e9 coins)");
    return *amount;
}

json ValueFromAmount(CAmount v) { return RawNumber(FormatMoney(v)); }

void RPCTable::Register(RPCCommand cmd) { m_commands[cmd.name] = std::move(cmd); }

json RPCTable::Execute(NodeContext& node, const std::string& method, const json& params) const
{
    const auto it = m_commands.find(method);
    if (it == m_commands.end()) throw RPCError(RPC_METHOD_NOT_FOUND, "Method not found");
    const RPCCommand& cmd = it->second;
    std::vector<json> args(cmd.args.size(), nullptr);
    if (params.is_array()) {
        if (params.size() > cmd.args.size()) {
            throw RPCError(RPC_MISC_ERROR, "Too many arguments.\n\n" + Help(method));
        }
        for (size_t i = 0; i < params.size(); ++i)
            args[i] = params[i];
    } else if (params.is_object()) {
        for (const auto& [key, value] : params.items()) {
            size_t i = 0;
            while (i < cmd.args.size() && cmd.args[i].name != key)
                ++i;
            if (i == cmd.args.size()) throw RPCError(RPC_INVALID_PARAMETER, "Unknown named parameter " + key);
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
        CheckType(cmd.args[i], args[i]);
    }
    return cmd.handler(node, args);
}

std::string RPCTable::Help(const std::string& name) const
{
    std::ostringstream out;
    if (name.empty()) {
        std::string category;
        for (const auto& cat : {"Blockchain", "Mining", "Wallet", "Metachain", "Control"}) {
            bool first = true;
            for (const auto& [n, cmd] : m_commands) {
                if (cmd.category != cat) continue;
                if (first) out << (category.empty() ? "" : "\n") << "== " << cat << " ==\n";
                category = cat;
                first = false;
                out << n;
                for (const auto& a : cmd.args)
                    out << " " << (a.required ? "" : "( ") << '"' << a.name << '"' << (a.required ? "" : " )");
                out << "\n";
            }
        }
        return out.str();
    }
    const auto it = m_commands.find(name);
    if (it == m_commands.end()) return "help: unknown command: " + name;
    const RPCCommand& cmd = it->second;
    out << cmd.name;
    for (const auto& a : cmd.args)
        out << " " << (a.required ? "" : "( ") << '"' << a.name << '"' << (a.required ? "" : " )");
    out << "\n\n" << cmd.description << "\n";
    if (!cmd.args.empty()) {
        out << "\nArguments:\n";
        for (size_t i = 0; i < cmd.args.size(); ++i) {
            const auto& a = cmd.args[i];
            out << i + 1 << ". " << a.name << " (" << TypeName(a.type) << ", " << (a.required ? "required" : "optional")
                << ") " << a.description << "\n";
        }
    }
    out << "\nResult:\n" << cmd.result << "\n";
    return out.str();
}
