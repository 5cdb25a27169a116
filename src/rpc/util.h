// JSON views of chain objects and argument helpers, shared by the RPC files.
#ifndef DEFI_RPC_UTIL_H
#define DEFI_RPC_UTIL_H

#include <crypto/hash.h>
#include <key.h>
#include <primitives/block.h>
#include <rpc/server.h>

#include <optional>
#include <stdexcept>

struct ChainParams;
struct CBlockIndex;
class ChainState;

json TxToJSON(const CTransaction& tx, const ChainParams& params);
json BlockToJSON(const CBlock& block, const CBlockIndex& idx, const ChainState& chain, int verbosity);
// A native address argument's key hash; RPC_INVALID_ADDRESS_OR_KEY otherwise.
KeyHash NativeAddressArg(const json& v, const ChainParams& params);
uint256 HashArg(const json& v);
// Refuses a native address argument that is the lock address, which only a
// DepositToMetachain may pay: RPC_INVALID_ADDRESS_OR_KEY.
void RefuseLockAddress(const json& address, const ChainParams& params);
// Most generatetoaddress mines in one call; also its cost in work units.
constexpr int64_t MAX_GENERATE = 10000;
// A serialized object argument (hex): T::Deserialize of its bytes;
// RPC_DESERIALIZATION_ERROR "<what> decode failed: ..." otherwise.
template <typename T> T DecodeHexArg(const json& v, const std::string& what)
{
    const auto bytes = ParseHex(v.get<std::string>());
    try {
        if (!bytes) throw std::runtime_error("not hex");
        return T::Deserialize(*bytes);
    } catch (const std::exception& e) {
        throw RPCError(RPC_DESERIALIZATION_ERROR, what + " decode failed: " + e.what());
    }
}

// A tx from the mempool (no block) or the active chain, with its confirmations.
struct FoundTx {
    CTransaction tx;
    const CBlockIndex* block{nullptr};
    int64_t confirmations{0};
};
// Looks `txid` up; RPC_INVALID_ADDRESS_OR_KEY if neither has it. Call under
// the chain lock.
FoundTx FindTx(const NodeContext& node, const uint256& txid);
// TxToJSON plus confirmations and, once mined, the block.
json FoundTxToJSON(const FoundTx& found, const ChainParams& params);

// Refuses a withdrawal the metachain would refuse in the next block, with its
// reason (RPC_VERIFY_REJECTED); other txs pass. A dry run of MintBlock.
void RefuseWhatTheMetachainWould(NodeContext& node, const CTransaction& tx);

// Fee the wallet pays per transaction.
CAmount WalletFee(const ChainParams& p);
// Signs a tx of `type` paying amount + fee from `from` (or any wallet key that
// can afford it), with the nonce after its pending txs, and submits it.
uint256 SendFromWallet(NodeContext& node, TxType type, const std::string& to, CAmount amount,
                       const std::optional<KeyHash>& from);

#endif // DEFI_RPC_UTIL_H
