// The RPC table. Each command is declared once: its arguments, their types
// and descriptions. The declaration checks every call and generates `help`.
#ifndef DEFI_RPC_SERVER_H
#define DEFI_RPC_SERVER_H

#include <amount.h>
#include <rpc/protocol.h>

#include <util/json.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

struct NodeContext;

enum class RPCArgType { Str, Num, Amount, Bool, Hash };

struct RPCArg {
    std::string name;
    RPCArgType type;
    bool required;
    std::string description;
};

struct RPCCommand {
    std::string category;
    std::string name;
    std::string description;
    std::vector<RPCArg> args;
    std::string result;
    // Receives the arguments by position, already type-checked; absent
    // optional arguments are null.
    std::function<json(NodeContext& node, const std::vector<json>& args)> handler;
};

class RPCTable {
public:
    void Register(RPCCommand cmd);
    // Runs `method` with `params` (array by position or object by name).
    json Execute(NodeContext& node, const std::string& method, const json& params) const;
    std::string Help(const std::string& name) const;

private:
    std::map<std::string, RPCCommand> m_commands;
};

// An amount argument in coins (number or string), as base units; throws
// RPC_TYPE_ERROR for anything else, including negative amounts.
CAmount AmountFromValue(const json& v);
json ValueFromAmount(CAmount v);

void RegisterBlockchainRPCCommands(RPCTable& t);
void RegisterMiningRPCCommands(RPCTable& t);
void RegisterRawTransactionRPCCommands(RPCTable& t);
void RegisterWalletRPCCommands(RPCTable& t);
void RegisterNodeRPCCommands(RPCTable& t);
void RegisterMetachainRPCCommands(RPCTable& t);

#endif // DEFI_RPC_SERVER_H
