// Native blocks and txs as the metachain's spec types (mc::*): what the miner
// hands MintBlock and what ConnectBlock checks a payload against.
#ifndef DEFI_METACHAIN_MARSHAL_H
#define DEFI_METACHAIN_MARSHAL_H

#include <chainparams.h>
#include <primitives/block.h>

#include <libmc.h>

#include <string>
#include <vector>

namespace metachain {

// The metachain's view of a native Deposit/Withdraw tx (a system tx).
// Deposit: from = the native sender, to = the 0x recipient. Withdraw: from =
// the 0x account, to = the native recipient, with the account nonce and the
// 65-byte EIP-712 signature.
struct NativeTxView {
    int32_t kind; // mc::TxKind value
    std::string from, to;
    uint256 txid;
    CAmount amount;
    uint64_t nonce;
    std::vector<uint8_t> signature;
};

// The Deposit/Withdraw txs among `txs`, in order, as the metachain sees them.
std::vector<NativeTxView> MetachainTxs(const std::vector<CTransaction>& txs, const ChainParams& params);
// What the miner hands to MintBlock for these txs at this height and time;
// `beneficiary` (a 0x address, or "" for the zero address) receives the
// block's priority fees.
mc::MetaMintBlockInput MintInput(const std::vector<NativeTxView>& txs, uint32_t height, int64_t time,
                                 const std::string& beneficiary = "");
// What ConnectBlock gets for `block`: its payload, height, time and the hash
// of its metachain txs.
mc::MetaConnectBlockInput ConnectInput(const CBlock& block, const ChainParams& params);

} // namespace metachain

#endif // DEFI_METACHAIN_MARSHAL_H
