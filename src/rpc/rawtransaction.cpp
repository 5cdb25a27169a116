#include <node/context.h>
#include <rpc/util.h>
#include <txmempool.h>
#include <validation.h>

void RegisterRawTransactionRPCCommands(RPCTable& t)
{
    t.Register({"Rawtransactions",
                "sendrawtransaction",
                "Submits a serialized tx (hex) to the mempool, as signed elsewhere. Withdrawals are checked by "
                "the metachain when a block is built; one it refuses is dropped then.",
                {{"hexstring", RPCArgType::Str, true, "The tx as hex"}},
                "\"txid\"",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    const auto tx = DecodeHexArg<CTransaction>(a[0], "TX");
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    const auto err =
                        node.mempool->Accept(tx, [&node](const KeyHash& k) { return node.chain->GetAccount(k); });
                    if (!err.empty()) throw RPCError(RPC_VERIFY_REJECTED, err);
                    return HexStr(tx.GetHash());
                }});
}
