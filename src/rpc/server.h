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

// What an argument accepts. The table checks every argument against its
// declaration before the handler runs, so a handler sees only valid values:
//   Int          a JSON integer in [min, max], parsed exactly (no double, no
//                wrap); the handler gets an int64
//   Amount       coins as a JSON number or string, parsed exactly from the
//                text ("1e-8" is 1 base unit); in [0, MAX_MONEY], at most 8
//                decimals; the handler gets the text (AmountFromValue)
//   Str          a string of at most max_length bytes
//   Bool, Hash   true/false; 64 hex digits
//   Hex          even-length hex of at most max_length bytes once decoded
//   Address      a native address of this network
//   MetaAddress  a 0x metachain address (lowercase, uppercase or a valid
//                EIP-55 checksum); the handler gets its EIP-55 form
//   BlockId      a 64-hex block hash (with or without 0x) or a canonical
//                decimal height (a JSON integer or a string); the handler
//                gets a string, the hash without 0x
enum class RPCArgType { Str, Int, Amount, Bool, Hash, Hex, Address, MetaAddress, BlockId };

struct RPCArg {
    std::string name;
    RPCArgType type;
    bool required;
    std::string description;
    // Int: the accepted range; Str and Hex: the longest value, in bytes.
    int64_t min{0};
    int64_t max{0};
    size_t max_length{256};
};

// Heights and counts are at most 2^31-1, as bitcoind's.
constexpr int64_t MAX_HEIGHT = 0x7fffffff;

struct RPCCommand {
    std::string category;
    std::string name;
    std::string description;
    std::vector<RPCArg> args;
    std::string result;
    // Receives the arguments by position, already type-checked; absent
    // optional arguments are null.
    std::function<json(NodeContext& node, const std::vector<json>& args)> handler;
    // Work units a call takes, from its checked arguments (default 1): a
    // batch's calls share a budget, so one request cannot hold the server.
    std::function<uint64_t(const std::vector<json>& args)> cost{};
};

class RPCTable {
public:
    void Register(RPCCommand cmd);
    // Runs `method` with `params` (array by position or object by name),
    // after checking them against its declaration; its cost is taken from
    // `budget`, and a call that does not fit is refused before it runs.
    json Execute(NodeContext& node, const std::string& method, const json& params, uint64_t& budget) const;
    std::string Help(const std::string& name) const;
    // Every command's declaration, for clients that generate calls.
    json Schema() const;

private:
    std::map<std::string, RPCCommand> m_commands;
};

// An amount in coins (a JSON number, raw or integer, or a string), as base
// units, parsed exactly; throws RPCError naming `name` otherwise.
CAmount AmountFromValue(const json& v, const std::string& name = "amount");
json ValueFromAmount(CAmount v);

void RegisterBlockchainRPCCommands(RPCTable& t);
void RegisterMiningRPCCommands(RPCTable& t);
void RegisterRawTransactionRPCCommands(RPCTable& t);
void RegisterWalletRPCCommands(RPCTable& t);
void RegisterNodeRPCCommands(RPCTable& t);
void RegisterMetachainRPCCommands(RPCTable& t);
void RegisterNetRPCCommands(RPCTable& t);

#endif // DEFI_RPC_SERVER_H
