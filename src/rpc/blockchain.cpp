#include <bech32.h>
#include <metachain/bridge.h>
#include <node/context.h>
#include <rpc/util.h>
#include <serialize.h>
#include <txmempool.h>
#include <util/time.h>
#include <validation.h>

#include <chrono>
#include <mutex>

json TxToJSON(const CTransaction& tx, const ChainParams& params)
{
    json j = {{"txid", HexStr(tx.GetHash())},         {"type", TxTypeName(tx.type)},    {"to", tx.to},
              {"amount", ValueFromAmount(tx.amount)}, {"fee", ValueFromAmount(tx.fee)}, {"size", tx.Size()}};
    if (tx.type == TxType::Transfer || tx.type == TxType::DepositToMetachain) {
        j["from"] = EncodeAddress(params.address_hrp, HashPubKey(tx.from));
        j["nonce"] = tx.nonce;
    }
    if (tx.type == TxType::WithdrawFromMetachain) {
        j["metafrom"] = tx.meta_from;
        j["metanonce"] = tx.meta_nonce;
        j["metasignature"] = HexStr(tx.meta_signature);
    }
    return j;
}

FoundTx FindTx(const NodeContext& node, const uint256& txid)
{
    if (auto tx = node.mempool->Get(txid)) return {std::move(*tx), nullptr, 0};
    const auto block_hash = node.chain->ReadTxBlock(txid);
    const CBlockIndex* idx = block_hash ? node.chain->Lookup(*block_hash) : nullptr;
    const auto block = idx ? node.chain->ReadBlock(idx->hash) : std::nullopt;
    if (block) {
        for (const auto& tx : block->vtx) {
            if (tx.GetHash() == txid) return {tx, idx, node.chain->Tip()->height() - idx->height() + 1};
        }
    }
    throw RPCError(RPC_INVALID_ADDRESS_OR_KEY, "No such mempool or blockchain transaction");
}

json FoundTxToJSON(const FoundTx& found, const ChainParams& params)
{
    json j = TxToJSON(found.tx, params);
    j["confirmations"] = found.confirmations;
    if (found.block) {
        j["blockhash"] = HexStr(found.block->hash);
        j["blockheight"] = found.block->height();
    }
    return j;
}

json BlockToJSON(const CBlock& block, const CBlockIndex& idx, const ChainState& chain, int verbosity)
{
    const bool active = chain.InActiveChain(&idx);
    json j = {{"hash", HexStr(idx.hash)},
              {"confirmations", active ? static_cast<int64_t>(chain.Tip()->height() - idx.height() + 1) : -1},
              {"height", idx.height()},
              {"version", block.header.version},
              {"merkleroot", HexStr(block.header.merkle_root)},
              {"payloadhash", HexStr(block.header.payload_hash)},
              {"payloadsize", block.payload.size()},
              {"time", block.header.time},
              {"nonce", block.header.nonce},
              {"bits", HexStr(std::vector<uint8_t>{
                           static_cast<uint8_t>(block.header.bits >> 24), static_cast<uint8_t>(block.header.bits >> 16),
                           static_cast<uint8_t>(block.header.bits >> 8), static_cast<uint8_t>(block.header.bits)})},
              {"chainwork", idx.chainwork},
              {"size", block.Serialize().size()},
              {"nTx", block.vtx.size()}};
    if (!block.payload.empty()) {
        // The metachain's name for it: keccak256 of the payload (payloadhash is sha256).
        try {
            j["metablockhash"] = metachain::BlockHash(block.payload);
        } catch (const std::exception&) {
        }
    }
    if (idx.prev) j["previousblockhash"] = HexStr(idx.prev->hash);
    if (active) {
        if (const CBlockIndex* next = chain.AtHeight(idx.height() + 1)) j["nextblockhash"] = HexStr(next->hash);
    }
    json txs = json::array();
    for (const auto& tx : block.vtx)
        txs.push_back(verbosity >= 2 ? TxToJSON(tx, chain.params()) : json(HexStr(tx.GetHash())));
    j["tx"] = txs;
    return j;
}

KeyHash NativeAddressArg(const json& v, const ChainParams& params)
{
    const auto hash = DecodeAddress(v.get<std::string>(), params.address_hrp);
    if (!hash) throw RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Invalid address: " + v.get<std::string>());
    return *hash;
}

void RefuseLockAddress(const json& address, const ChainParams& params)
{
    if (NativeAddressArg(address, params) == params.lock_address) {
        throw RPCError(RPC_INVALID_ADDRESS_OR_KEY, address.get<std::string>() +
                                                       " is the metachain lock address: only deposittometachain "
                                                       "may pay it");
    }
}

uint256 HashArg(const json& v)
{
    const auto h = ParseHash(v.get<std::string>());
    if (!h) throw RPCError(RPC_INVALID_PARAMETER, "hash must be of length 64 (hex)");
    return *h;
}

// Expected hashes per block at `bits`, relative to the easiest target
// (regtest's), which counts 1.
double Difficulty(uint32_t bits)
{
    return static_cast<double>(BlockWork(bits)) / static_cast<double>(BlockWork(RegtestParams().pow_bits));
}

void RegisterBlockchainRPCCommands(RPCTable& t)
{
    t.Register({"Blockchain",
                "getchaintips",
                "Returns the tip of every branch in the block index: the active chain's and every fork's.",
                {},
                "[{height, hash, branchlen, status}] with status active, valid-fork, valid-headers or invalid",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    json out = json::array();
                    for (const CBlockIndex* tip : node.chain->ChainTips()) {
                        const CBlockIndex* fork = tip;
                        while (!node.chain->InActiveChain(fork))
                            fork = fork->prev;
                        bool invalid = false, headers_only = false;
                        for (const CBlockIndex* i = tip; i != fork; i = i->prev) {
                            invalid |= i->Failed();
                            headers_only |= !i->HaveData();
                        }
                        const char* status = tip == fork    ? "active"
                                             : invalid      ? "invalid"
                                             : headers_only ? "valid-headers"
                                                            : "valid-fork";
                        out.push_back({{"height", tip->height()},
                                       {"hash", HexStr(tip->hash)},
                                       {"branchlen", tip->height() - fork->height()},
                                       {"status", status}});
                    }
                    return out;
                }});
    t.Register({"Blockchain",
                "getblockcount",
                "Returns the height of the most-work fully-validated chain.",
                {},
                "n (numeric)",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    return node.chain->Tip()->height();
                }});
    t.Register({"Blockchain",
                "getbestblockhash",
                "Returns the hash of the tip.",
                {},
                "\"hex\"",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    return HexStr(node.chain->Tip()->hash);
                }});
    t.Register({"Blockchain",
                "getblockhash",
                "Returns the hash of the active-chain block at a height.",
                {{"height", RPCArgType::Int, true, "The height index", 0, MAX_HEIGHT}},
                "\"hex\"",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    const CBlockIndex* idx = node.chain->AtHeight(static_cast<uint32_t>(a[0].get<int64_t>()));
                    if (!idx) throw RPCError(RPC_INVALID_PARAMETER, "Block height out of range");
                    return HexStr(idx->hash);
                }});
    t.Register(
        {"Blockchain",
         "getblock",
         "Returns a block: hex for verbosity 0, an object for 1, with tx objects for 2.",
         {{"blockhash", RPCArgType::Hash, true, "The block hash"},
          {"verbosity", RPCArgType::Int, false, "0 for hex, 1 for an object, 2 with tx objects (default 1)", 0, 2}},
         "\"hex\" or {hash, confirmations, height, merkleroot, payloadhash, metablockhash, tx, ...}",
         [](NodeContext& node, const std::vector<json>& a) -> json {
             std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
             const int verbosity = a[1].is_null() ? 1 : static_cast<int>(a[1].get<int64_t>());
             const CBlockIndex* idx = node.chain->Lookup(HashArg(a[0]));
             if (!idx) throw RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found");
             const auto block = node.chain->ReadBlock(idx->hash);
             if (!block) throw RPCError(RPC_MISC_ERROR, "Block not available");
             if (verbosity == 0) return HexStr(block->Serialize());
             return BlockToJSON(*block, *idx, *node.chain, verbosity);
         }});
    t.Register({"Blockchain",
                "getblockchaininfo",
                "Returns the state of the chain.",
                {},
                "{chain, blocks, headers, bestblockhash, difficulty, time, initialblockdownload, "
                "verificationprogress, chainwork, lockaddress, lockbalance}",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    const CBlockIndex* tip = node.chain->Tip();
                    const CBlockIndex* best = node.chain->BestHeader();
                    const int64_t now = GetTime();
                    return {
                        {"chain", node.params->network},
                        {"blocks", tip->height()},
                        {"headers", best->height()},
                        {"bestblockhash", HexStr(tip->hash)},
                        {"difficulty", Difficulty(tip->header.bits)},
                        {"time", tip->header.time},
                        {"initialblockdownload", node.chain->IsInitialBlockDownload(now)},
                        {"verificationprogress",
                         best->height() == 0 ? 1.0 : static_cast<double>(tip->height()) / best->height()},
                        {"chainwork", tip->chainwork},
                        {"lockaddress", node.params->LockAddress()},
                        {"lockbalance", ValueFromAmount(node.chain->GetAccount(node.params->lock_address).balance)}};
                }});
    t.Register({"Blockchain",
                "getaddressbalance",
                "Returns the confirmed balance and nonce of any native address.",
                {{"address", RPCArgType::Address, true, "A native address"}},
                "{address, balance, nonce}",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    const KeyHash key = NativeAddressArg(a[0], *node.params);
                    std::lock_guard<std::recursive_mutex> lock(node.chain->cs);
                    const Account acc = node.chain->GetAccount(key);
                    return {{"address", a[0]}, {"balance", ValueFromAmount(acc.balance)}, {"nonce", acc.nonce}};
                }});
    t.Register({"Blockchain",
                "invalidateblock",
                "Marks a block and its descendants invalid, reorganising away from them.",
                {{"blockhash", RPCArgType::Hash, true, "The block to invalidate"}},
                "null",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    const auto err = node.chain->InvalidateBlock(HashArg(a[0]));
                    if (!err.empty()) throw RPCError(RPC_INVALID_ADDRESS_OR_KEY, err);
                    return nullptr;
                }});
    t.Register({"Blockchain",
                "reconsiderblock",
                "Removes invalidity marks from a block, its ancestors and descendants.",
                {{"blockhash", RPCArgType::Hash, true, "The block to reconsider"}},
                "null",
                [](NodeContext& node, const std::vector<json>& a) -> json {
                    const auto err = node.chain->ReconsiderBlock(HashArg(a[0]));
                    if (!err.empty()) throw RPCError(RPC_INVALID_ADDRESS_OR_KEY, err);
                    return nullptr;
                }});
}
