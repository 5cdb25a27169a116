#include <node/context.h>
#include <node/miner.h>
#include <rpc/util.h>
#include <txmempool.h>
#include <util/logging.h>
#include <util/time.h>
#include <validation.h>
#include <wallet/wallet.h>

#include <algorithm>
#include <chrono>

void RegisterMiningRPCCommands(RPCTable& t)
{
    t.Register({"Mining",
                "generatetoaddress",
                "Mines blocks immediately to an address (regtest).",
                {{"nblocks", RPCArgType::Int, true, "How many blocks", 0, MAX_GENERATE},
                 {"address", RPCArgType::Address, true, "The address to send the rewards to"}},
                "[\"blockhash\", ...]",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    const int64_t n = a[0].get<int64_t>();
                    RefuseLockAddress(a[1], *node.params);
                    // The metachain blocks' priority fees go to the wallet's miner meta key.
                    const std::string beneficiary =
                        node.meta && node.wallet ? node.wallet->MinerMetaAddress() : std::string();
                    json hashes = json::array();
                    for (int64_t i = 0; i < n; ++i) {
                        const CBlock block =
                            CreateNewBlock(*node.chain, *node.mempool, a[1].get<std::string>(), GetTime(), beneficiary);
                        BlockValidationState state;
                        if (!node.chain->ProcessNewBlock(block, state)) {
                            throw RPCError(RPC_INTERNAL_ERROR, "mined block rejected: " + state.ToString());
                        }
                        hashes.push_back(HexStr(block.GetHash()));
                    }
                    return hashes;
                },
                [](const std::vector<json>& a) -> uint64_t {
                    return std::max<uint64_t>(1, static_cast<uint64_t>(a[0].get<int64_t>()));
                }});
    t.Register({"Mining",
                "submitblock",
                "Submits a serialized block (hex) to the node.",
                {{"hexdata", RPCArgType::Hex, true, "The block as hex", 0, 0, MAX_BLOCK_SERIALIZED_SIZE}},
                "null when accepted, else the rejection reason",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    const auto block = DecodeHexArg<CBlock>(a[0], "Block");
                    BlockValidationState state;
                    bool new_block = false;
                    if (node.chain->ProcessNewBlock(block, state, &new_block)) {
                        if (!new_block) return "duplicate";
                        return nullptr;
                    }
                    LogPrint("submitblock " + HexStr(block.GetHash()) + " rejected: " + state.ToString());
                    return state.ToString();
                }});
    t.Register({"Mining",
                "getrawmempool",
                "Returns the txids in the mempool.",
                {},
                "[\"txid\", ...]",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    json out = json::array();
                    for (const auto& txid : node.mempool->Txids())
                        out.push_back(HexStr(txid));
                    return out;
                }});
}
