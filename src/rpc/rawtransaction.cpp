#include <node/context.h>
#include <rpc/util.h>
#include <txmempool.h>
#include <validation.h>

void RegisterRawTransactionRPCCommands(RPCTable& t)
{
    t.Register({"Rawtransactions",
                "sendrawtransaction",
                "Submits a serialized tx (hex) to the mempool, as signed elsewhere. A withdrawal the metachain "
                "would refuse in the next block is refused, with its reason.",
                {{"hexstring", RPCArgType::Hex, true, "The tx as hex", 0, 0, Mempool::MAX_TX_SIZE}},
                "\"txid\"",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    const auto tx = DecodeHexArg<CTransaction>(a[0], "TX");
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    const auto accounts = [&node](const KeyHash& k) { return node.chain->GetAccount(k); };
                    auto state = node.mempool->TestAccept(tx, accounts);
                    if (state.IsInvalid()) throw RPCError(RPC_VERIFY_REJECTED, state.ToString());
                    if (node.meta) RefuseWhatTheMetachainWould(node, tx);
                    state = node.mempool->Accept(tx, accounts);
                    if (state.IsInvalid()) throw RPCError(RPC_VERIFY_REJECTED, state.ToString());
                    return HexStr(tx.GetHash());
                }});
    t.Register({"Rawtransactions",
                "decoderawtransaction",
                "Decodes a serialized tx (hex) without submitting it.",
                {{"hexstring", RPCArgType::Hex, true, "The tx as hex", 0, 0, Mempool::MAX_TX_SIZE}},
                "{txid, type, from, to, amount, fee, size, ...}",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    return TxToJSON(DecodeHexArg<CTransaction>(a[0], "TX"), *node.params);
                }});
    t.Register({"Rawtransactions",
                "getrawtransaction",
                "Returns a tx from the mempool or the active chain: its serialization (hex), or with verbose "
                "the decoded tx with its confirmations and block.",
                {{"txid", RPCArgType::Hash, true, "The transaction id"},
                 {"verbose", RPCArgType::Bool, false, "Decoded instead of hex (default false)"}},
                "\"hex\", or {txid, type, ..., hex, confirmations, blockhash, blockheight}",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    const FoundTx found = FindTx(node, HashArg(a[0]));
                    const std::string hex = HexStr(found.tx.Serialize());
                    if (a[1].is_null() || !a[1].get<bool>()) return hex;
                    json j = FoundTxToJSON(found, *node.params);
                    j["hex"] = hex;
                    return j;
                }});
}
